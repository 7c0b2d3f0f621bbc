"""``zsdsl check``, ``zsdsl compile`` and ``zsdsl graph``: the model file and its intermediate forms."""

from __future__ import annotations

import json
import os
import time

import click

from zsdsl.cli.app import handle_errors, main
from zsdsl.cli.common import data_options, show_warnings, write_or_echo
from zsdsl.errors import ModelError, OptionError


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@data_options("Check this data against the model.")
@handle_errors
def check(spec, data_path):
    """Parse and check SPEC (names, types, shapes, supports); with --data, the data too."""
    from zsdsl.compiler.pipeline import compile_file

    t0 = time.perf_counter()
    compiled = compile_file(spec)
    show_warnings(compiled.warnings, compiled.text)
    msg = f"{spec}: ok ({len(compiled.ir.latents)} latent sites, {len(compiled.ir.guides)} guides)"
    if data_path:
        from zsdsl.compiler.data_check import check_data
        from zsdsl.runtime.data import load_sources, usable

        used = {d.name for d in compiled.ir.data} | {d.name for d in compiled.ir.dims}
        sizes = check_data(compiled.ir, usable(load_sources(data_path)[0], used)[0], data_path)
        msg += f"; data {data_path}: ok ({', '.join(f'{k}={v}' for k, v in sorted(sizes.items()))})"
    click.echo(f"{msg} [{(time.perf_counter() - t0) * 1000:.0f} ms]")


@main.command(name="compile")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--emit", type=click.Choice(["ast", "ir", "python", "gradient", "kernel"]), default="python",
              show_default=True)  # fmt: skip
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False),
    help="With --emit gradient or kernel: also check the code on this data and say which path NUTS takes.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@handle_errors
def compile_cmd(spec, emit, data_path, output):
    """Compile SPEC and print an intermediate form: the AST, the IR (JSON), the generated Python, the
    NumPy code of the potential and its gradient (emitted from the IR; no data needed), or the same code as
    the one function numba compiles for NUTS (kernel)."""
    from zsdsl.compiler.ir import dump_ir
    from zsdsl.compiler.pipeline import compile_file
    from zsdsl.grammar.ast import dump_ast

    compiled = compile_file(spec)
    if emit in ("gradient", "kernel"):
        _emit_gradient(spec, compiled, data_path, output, kernel=emit == "kernel")
        return
    if emit == "ast":
        text = json.dumps(dump_ast(compiled.ast), indent=2, sort_keys=True) + "\n"
    elif emit == "ir":
        text = dump_ir(compiled.ir) + "\n"
    else:
        text = compiled.source
    write_or_echo(text, output)


def _emit_gradient(spec, compiled, data_path, output, kernel: bool = False) -> None:
    """The emitted value-and-gradient module (or its numba kernel); a model without one is refused with the
    reason. With data, the data are checked first (bad data writes nothing) and the path NUTS takes on them
    is said after."""
    gradient = compiled.gradient
    if gradient.source is None:
        raise ModelError(f"{spec}: {gradient.reason}. NUTS and HMC differentiate it with PyTorch autograd.")
    if kernel and gradient.kernel is None:
        raise ModelError(f"{spec}: no numba kernel: {gradient.kernel_reason}. NUTS runs the emitted NumPy code "
                         "(zsdsl compile --emit gradient).")  # fmt: skip
    path = None
    if data_path:
        import torch

        import zsdsl

        torch.set_default_dtype(torch.float64)
        path = zsdsl.load(spec).gradient_path(data_path)
    write_or_echo(gradient.kernel if kernel else gradient.source, output)
    if path is not None:
        click.echo(f"On {data_path}: gradients by {path[0]}: {path[1]}.", err=True)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file: .dot, .svg or .png.")
@handle_errors
def graph(spec, output):
    """Draw the model's DAG with plates as boxes and observed nodes shaded (DOT; SVG/PNG via Graphviz)."""
    from zsdsl.compiler.graph import graph_dot, render
    from zsdsl.compiler.pipeline import compile_file

    dot = graph_dot(compile_file(spec).ir)
    if not output:
        click.echo(dot, nl=False)
        return
    if os.path.splitext(output)[1].lower() not in (".dot", ".gv", ".svg", ".png", ".pdf"):
        raise OptionError(f"Unknown graph format for '{output}'; use .dot, .svg or .png.")
    path = render(dot, output)
    click.echo(f"wrote {path}")
