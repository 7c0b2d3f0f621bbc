"""Helpers the command modules share: explicit options, loading a spec (its warnings shown), output."""

from __future__ import annotations

import os

import click

from zsdsl.errors import render_error


def given_options(include: tuple | None = None, exclude: tuple = ()) -> dict:
    """The parameters of the running command that were set on the command line (not defaults)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    out = {}
    for name, value in ctx.params.items():
        if name in exclude or (include is not None and name not in include):
            continue
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            out[name] = value
    return out


def load_spec(spec):
    """``zsdsl.load(spec)``, its checker warnings shown on stderr."""
    import zsdsl

    cm = zsdsl.load(spec)
    show_warnings(cm.warnings, cm.text)
    return cm


def show_warnings(warnings, text) -> None:
    for w in warnings:
        click.echo(render_error(w, text), err=True)


def load_spec_with_data(spec, data_path):
    """The compiled spec and ``data_path`` (a file or PATH:SPLIT; None: no data), checked and prepared."""
    cm = load_spec(spec)
    return cm, cm.load_data(data_path)


def write_or_echo(text: str, output: str | None) -> None:
    if output:
        tmp = output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, output)
    else:
        click.echo(text, nl=False)
