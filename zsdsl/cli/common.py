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


def print_summary(table: dict, limit: int = 40, more: str = "zsdsl summary RUN --format json") -> None:
    """A summary table (rows of equal keys: Stan's columns for MCMC, mean/sd/quantiles for VI)."""
    if not table:
        return
    keys = list(next(iter(table.values())))
    width = max([len(k) for k in table] + [4])
    click.echo(f"{'':<{width}} " + " ".join(f"{k:>9}" for k in keys))
    for i, (name, row) in enumerate(table.items()):
        if i == limit:
            click.echo(f"... {len(table) - limit} more ({more})")
            break
        click.echo(f"{name:<{width}} " + " ".join(f"{row[k]:>9.4g}" for k in keys))
