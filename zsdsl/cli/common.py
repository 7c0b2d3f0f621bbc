"""Helpers the command modules share: explicit options, loading a spec (its warnings shown), output."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from zsdsl.errors import EXIT_USER, OptionError, render_error

DATA_PARAMS = ("data_path", "data_set")  # the data, not engine options (see data_options)


def given_options(include: tuple | None = None, exclude: tuple = ()) -> dict:
    """The parameters of the running command that were set on the command line (not defaults)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    out = {}
    for name, value in ctx.params.items():
        if name in exclude or name in DATA_PARAMS or (include is not None and name not in include):
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


PLOTS_ENV = "ZSDSL_PLOTS"  # "0": no plots at the end of a run, as --no-plots (batch jobs, the test suite)


def no_plots_option(fn):
    return click.option("--no-plots", is_flag=True, help=f"Do not write RUN/plots/*.png at the end ({PLOTS_ENV}=0 "
                        "does the same).")(fn)  # fmt: skip


def end_of_run_plots(run, kind: str, no_plots: bool, fitted: tuple | None = None) -> None:
    """The run's main plots (``zsdsl.runtime.plots.default_kinds``) and where they are; a plot that fails
    is reported and the run stays as it is. ``fitted``: a VI fit's (model, data), not loaded again."""
    if no_plots or os.environ.get(PLOTS_ENV) == "0":
        return
    from zsdsl.runtime.plots import write_default_plots

    try:
        paths, skipped = write_default_plots(Path(run), kind, image_draws(Path(run), kind, fitted))
    except Exception as exc:  # the run is complete: a plot must not turn it into a failure
        click.echo(f"warning: the plots could not be drawn ({type(exc).__name__}: {exc}); the run is complete; "
                   f"try zsdsl plot {run}", err=True)  # fmt: skip
        return
    if paths:
        click.echo(f"plots: {', '.join(p.name for p in paths)} in {Path(run) / 'plots'} (zsdsl plot {run} for all)")
    for why in skipped:
        click.echo(f"note: plot not drawn, {why}", err=True)


def image_draws(run: Path, kind: str, fitted: tuple | None = None, count: int = 36):
    """New data points from a fitted VI run of a model like a VAE whose data points are square images
    (for the ``samples`` plot), else None; ``fitted`` is the fit's (model, data), else read from the run."""
    if kind != "vi":
        return None
    import math

    import torch

    from zsdsl.runtime.prior import new_data, new_points_plates

    model, data = fitted if fitted is not None else _fitted_model(run)
    if not new_points_plates(model, data):
        return None
    with torch.random.fork_rng():
        draws, _ = new_data(model, data, count, None, seed=0)
    x = next((draws[o] for o in model.observed if o in draws), None)
    if x is None or x.dim() != 2 or math.isqrt(x.shape[1]) ** 2 != x.shape[1] or x.shape[1] < 16:
        return None
    return x.detach().cpu().double().numpy()


def _fitted_model(run: Path) -> tuple:
    """A VI run's model with its fitted nets and params, and its data."""
    from zsdsl.runtime.predict import model_for
    from zsdsl.runtime.rundir import open_run

    config = open_run(run, ("vi",), "the samples plot reads").config
    cm = load_spec(config["spec"])
    data = cm.load_data(config.get("data") or None)
    return model_for(cm, run, "vi", data), data


def print_guide_diagnostic(run: Path) -> None:
    """A VI run's Pareto k of p/q and its notes, from ``draws.json`` (nothing for a run without one)."""
    path = Path(run) / "draws.json"
    if not path.exists():
        return
    info = json.loads(path.read_text())
    if "pareto_k" in info:
        click.echo(f"Pareto k of the importance weights p/q: {info['pareto_k']:.2f} ({info['meaning']})")
    for note in [info.get("note"), *info.get("notes", ())]:
        if note:
            click.echo(f"note: {note}", err=True)


def quiet_option(fn):
    return click.option("--quiet", is_flag=True, help="No progress and no summary table: the closing line, "
                        "warnings and errors only.")(fn)  # fmt: skip


def interrupt_hint(run, command: str, resumable: bool) -> None:
    """What Ctrl-C prints for this command (``handle_errors`` shows it): the command that resumes the run
    when it saved a checkpoint, else that nothing was kept."""
    ctx = click.get_current_context()

    def hint() -> str:
        saved = Path(run, "checkpoints").is_dir() and any(Path(run, "checkpoints").iterdir())
        if resumable and saved:
            return f"interrupted; the run is saved up to its last checkpoint. Resume: zsdsl {command} --resume {run}"
        if not resumable:
            return "interrupted; SG-MCMC runs are not checkpointed: run the same command again."
        return "interrupted before the first checkpoint; nothing was kept: run the same command again."

    ctx.meta["zsdsl_interrupt_hint"] = hint


def data_options(help_text: str):
    """``--data`` (repeatable: files merged, e.g. a CSV of columns and a JSON of sizes) and ``--set
    NAME=VALUE`` (repeatable, numbers), passed to the command as one ``data_path`` string."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, data_path=(), data_set=(), **kwargs):
            for item in data_set:
                name, eq, _ = item.partition("=")
                if not eq or not name.isidentifier():  # (outside the command's handle_errors: said here)
                    click.echo(render_error(OptionError(f"--set takes NAME=VALUE, not '{item}'."), None), err=True)
                    sys.exit(EXIT_USER)
            items = [*data_path, *data_set]
            return fn(*args, data_path=",".join(items) if items else None, **kwargs)

        wrapper = click.option("--set", "data_set", multiple=True, metavar="NAME=VALUE",
                               help="A data scalar, e.g. --set K=3 (repeatable).")(wrapper)  # fmt: skip
        return click.option("--data", "data_path", multiple=True, help=help_text + " Repeat to "
                            "merge several files (e.g. a CSV of columns and a JSON of sizes).")(wrapper)  # fmt: skip

    return decorate
