"""The ``zsdsl`` command line: a thin layer over the public API.

Every user error exits 1 with a heading that says its kind (syntax, type, shape, data, option,
run directory, ...): ``file:line:col`` with a caret for errors in a model file, one line
otherwise. An internal error says it is a bug and exits 3; no traceback is printed unless
``ZSDSL_DEBUG=1`` is set.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

import click

from zsdsl.errors import (
    DEBUG_ENV,
    EXIT_INTERNAL,
    EXIT_USER,
    InternalError,
    OptionError,
    RunDirError,
    ZsdslError,
    render_error,
)


def _source_of(err: ZsdslError) -> str | None:
    file = err.span.file
    if file and not file.startswith("<") and os.path.isfile(file):
        try:
            with open(file, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError):
            return None
    return None


def handle_errors(fn):
    """Turn exceptions into messages and exit codes (1: user error, 3: internal error)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ZsdslError as err:
            click.echo(render_error(err, _source_of(err)), err=True)
            sys.exit(EXIT_USER)
        except InternalError as err:
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(str(err), err=True)
            sys.exit(EXIT_INTERNAL)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_USER)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as err:  # a bug: say so, without a traceback unless asked for
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(str(InternalError(f"{type(err).__name__}: {err}")), err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zsdsl")
def main():
    """zsdsl: write a probabilistic model once, as a file; check it, compile it to PyTorch, fit it."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--data", "data_path", type=click.Path(dir_okay=False), help="Check this data file against the model.")
@handle_errors
def check(spec, data_path):
    """Parse and check SPEC (names, types, shapes, supports); with --data, the data too."""
    from zsdsl.compiler.pipeline import compile_file

    t0 = time.perf_counter()
    compiled = compile_file(spec)
    _show_warnings(compiled.warnings, compiled.text)
    msg = f"{spec}: ok ({len(compiled.ir.latents)} latent sites, {len(compiled.ir.guides)} guides)"
    if data_path:
        from zsdsl.compiler.data_check import check_data
        from zsdsl.runtime.data import load_data

        sizes = check_data(compiled.ir, load_data(data_path), data_path)
        msg += f"; data {data_path}: ok ({', '.join(f'{k}={v}' for k, v in sorted(sizes.items()))})"
    click.echo(f"{msg} [{(time.perf_counter() - t0) * 1000:.0f} ms]")


@main.command(name="compile")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--emit", type=click.Choice(["ast", "ir", "python", "gradient"]), default="python", show_default=True)
@click.option("--data", "data_path", type=click.Path(dir_okay=False), help="The data (for --emit gradient).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@handle_errors
def compile_cmd(spec, emit, data_path, output):
    """Compile SPEC and print an intermediate form: the AST, the IR (JSON), the generated Python, or
    (with --data) the NumPy code NUTS runs for the potential and its gradient."""
    from zsdsl.compiler.ir import dump_ir
    from zsdsl.compiler.pipeline import compile_file
    from zsdsl.grammar.ast import dump_ast

    compiled = compile_file(spec)
    if emit == "gradient":
        if not data_path:
            raise OptionError("--emit gradient needs --data: the traced code depends on the data's sizes and values.")
        import torch

        import zsdsl
        from zsdsl.runtime.data import load_data

        torch.set_default_dtype(torch.float64)
        backend, code = zsdsl.load(spec).gradient_code(load_data(data_path))
        if code is None:
            code = f"# This model's gradient is computed by {backend}: it has no traced NumPy code.\n"
        _write(code, output)
        return
    if emit == "ast":
        text = json.dumps(dump_ast(compiled.ast), indent=2, sort_keys=True) + "\n"
    elif emit == "ir":
        text = dump_ir(compiled.ir) + "\n"
    else:
        text = compiled.source
    _write(text, output)


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


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@click.option("--data", "data_path", type=click.Path(dir_okay=False), help="Data file: JSON, CSV or NPZ.")
@click.option("--infer", default="sgvb", show_default=True, help="Objective: sgvb, iwae, vimco, nvil, rws or map.")
@click.option(
    "--guide",
    default=None,
    help="A guide block of the spec, or auto-normal, auto-mvn, auto-planar, auto-iaf (default: the spec's first).",
)
@click.option("--particles", type=int, default=None, help="Samples per step (iwae/vimco: k).")
@click.option("--steps", type=int, default=None, help="Optimizer steps (default 1000).")
@click.option("--epochs", type=int, default=None, help="Passes over the largest subsampled plate.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--optimizer", default="adam", show_default=True, help="adam, adamw, sgd, rmsprop or adagrad.")
@click.option("--schedule", default="constant", show_default=True, help="constant, cosine or exponential.")
@click.option("--clip", type=float, default=None, help="Clip the gradient norm.")
@click.option("--analytic-kl", is_flag=True, help="sgvb: closed-form KL(q || prior) where the pair has one.")
@click.option(
    "--anneal",
    type=int,
    default=None,
    metavar="STEPS",
    help="sgvb: weight the latent terms (the KL) by min(1, step/STEPS) in the loss: KL annealing, warm-up.",
)
@click.option("--baseline", default="moving", show_default=True, help="nvil: moving or learned (input-dependent).")
@click.option(
    "--signals",
    default="downstream",
    show_default=True,
    help="nvil, sgvb: a discrete site's learning signal is the terms downstream of it, or joint (all terms).",
)
@click.option(
    "--init",
    default="zero",
    show_default=True,
    help="Automatic guides start at: zero, uniform (U(-2, 2) unconstrained, as Stan) or sample (a prior draw).",
)
@click.option(
    "--init-scale",
    type=float,
    default=0.1,
    show_default=True,
    help="Automatic Gaussian guides' starting sd (unconstrained scale); Bayesian networks fit better from 1e-5.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/<spec>-<infer>)."
)
@click.option("--resume", type=click.Path(file_okay=False), default=None, help="Continue the run in this directory.")
@click.option("--overwrite", is_flag=True, help="Empty --out first if it holds an earlier run (else it is refused).")
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--keep", type=int, default=3, show_default=True, help="How many of the latest checkpoints to keep.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option(
    "--valid",
    "valid_path",
    default=None,
    help="Held-out data (a file or PATH:SPLIT) scored during the fit; the run keeps the best parameters.",
)
@click.option("--valid-every", type=int, default=None, help="Steps between validations (default: one epoch).")
@click.option(
    "--valid-particles",
    type=int,
    default=1,
    show_default=True,
    help="Importance samples per element for the validation score (1: the ELBO), or predictive draws.",
)
@click.option(
    "--early-stop",
    type=int,
    default=None,
    metavar="K",
    help="Stop after K validations in a row without a new best (needs --valid).",
)
@handle_errors
def fit(
    spec,
    data_path,
    infer,
    guide,
    particles,
    steps,
    epochs,
    lr,
    optimizer,
    schedule,
    clip,
    seed,
    out,
    resume,
    checkpoint_every,
    device,
    analytic_kl,
    baseline,
    signals,
    init,
    init_scale,
    valid_path,
    valid_every,
    valid_particles,
    early_stop,
    anneal,
    keep,
    overwrite,
):
    """Fit SPEC by variational inference; writes config, metrics and checkpoints to a run directory.

    A new run refuses a directory that holds another run (--overwrite replaces it); --resume RUN
    continues a run with the same model, data and fixed options (--steps or --epochs may extend it)."""
    from zsdsl.runtime.rundir import default_run_path, open_run
    from zsdsl.runtime.vi.train import resume_config

    options = _given(exclude=("spec", "data_path", "out", "resume", "overwrite", "valid_path", "infer", "guide"))
    if resume:
        if out:
            raise OptionError("Give --resume RUN or --out RUN, not both.")
        open_run(Path(resume), ("vi",), "zsdsl fit --resume continues")
        saved = resume_config(Path(resume))
        spec = spec or saved.spec
        run = Path(resume)
    elif spec is None:
        raise OptionError("Give a model file to fit, or --resume RUN.")
    else:
        run = Path(out) if out else default_run_path(spec, infer)
    cm = _load(spec)
    given = _given(include=("infer", "guide"))
    result = cm.fit(data_path, infer=given.get("infer") if resume else infer, guide=given.get("guide"), out=run,
                    resume=bool(resume), overwrite=overwrite, valid=valid_path, **options)  # fmt: skip
    config = result.config
    click.echo(
        f"{config.infer} with guide {config.guide}: final objective {result.final_objective:.4f} "
        f"after {result.history[-1][0] if result.history else 0} steps; run directory {run}"
    )
    if result.validation:
        best = max(result.validation, key=lambda r: r[2])
        stop = f"; stopped early at step {result.stopped_step}" if result.stopped_step else ""
        click.echo(f"validation: best {best[2]:.4f} at step {best[0]} (the parameters kept){stop}")
    _print_guide_summary(result, result.data)


def _given(include: tuple | None = None, exclude: tuple = ()) -> dict:
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


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", "data_path", required=True, help="Evaluation data (a file or PATH:SPLIT).")
@click.option("--particles", type=int, default=1000, show_default=True, help="Importance samples / posterior draws.")
@click.option("--batch", type=int, default=100, show_default=True, help="Elements per evaluation minibatch.")
@click.option("--classify", default=None, metavar="SITE=FIELD",
              help="Also the error of argmax q(SITE | x) against the labels in data field FIELD.")  # fmt: skip
@handle_errors
def evaluate(run, data_path, particles, batch, classify):
    """Evaluate a fitted RUN: IS log-likelihood and ELBO, or predictive log-likelihood and RMSE; prints JSON."""
    from pathlib import Path

    from zsdsl.runtime.checkpoint import atomic_write_text, fitted_checkpoint
    from zsdsl.runtime.rundir import open_run
    from zsdsl.runtime.vi.evaluate import evaluate as run_evaluate
    from zsdsl.runtime.vi.evaluate import restore_run
    from zsdsl.runtime.vi.train import resume_config

    if particles < 1 or batch < 1:
        raise OptionError("--particles and --batch must be at least 1.")
    open_run(Path(run), ("vi",), "zsdsl evaluate reads")
    config = resume_config(Path(run))
    cm, data = _load_with_data(config.spec, data_path)
    model, guide = restore_run(cm, data, config, Path(run))
    result = {"run": str(run), "data": str(data_path), "checkpoint": fitted_checkpoint(Path(run)).name}
    if classify:  # the classifier only (the semi-supervised model's likelihood needs both plates' data)
        from zsdsl.runtime.vi.evaluate import classification_error

        site, eq, field = classify.partition("=")
        if not eq or field not in data:
            raise OptionError(f"--classify takes SITE=FIELD with FIELD in the data; got '{classify}'.")
        result["classification"] = classification_error(model, guide, data, site, data[field], batch)
    else:
        result.update(run_evaluate(model, guide, data, particles, batch=batch))
    text = json.dumps(result, indent=2)
    atomic_write_text(Path(run) / "evaluation.json", text + "\n")
    click.echo(text)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "count", type=int, default=64, show_default=True, help="How many draws.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="A .png grid or a .npz of draws.")
@click.option("--seed", type=int, default=0, show_default=True)
@handle_errors
def generate(run, count, output, seed):
    """Draw COUNT new data points from a fitted RUN's model (prior predictive with learned nets)."""
    from pathlib import Path

    import numpy as np
    import torch

    from zsdsl.runtime.checkpoint import fitted_checkpoint, load_checkpoint
    from zsdsl.runtime.rundir import open_run
    from zsdsl.runtime.vi.train import resume_config

    if count < 1:
        raise OptionError("-n must be at least 1.")
    open_run(Path(run), ("vi",), "zsdsl generate reads")
    config = resume_config(Path(run))
    cm, data = _load_with_data(config.spec, config.data or None)
    model = cm.model(data)
    path = fitted_checkpoint(Path(run))
    if path is None:
        raise RunDirError(f"{run} has no checkpoint.")
    model.load_state_dict(load_checkpoint(path)["model"])
    for plate, size in model.plate_dims.items():
        if model.plate_subsample.get(plate):
            model.dims[size] = count  # a new batch of data points
    torch.manual_seed(seed)
    draws = model.sample(data)
    observed = [name for name in model.observed if name in draws]
    if not observed:
        raise OptionError("The model observes no data to generate.")
    x = draws[observed[0]].detach().cpu().double().numpy()
    if output.endswith(".npz"):
        np.savez(output, **{k: v.detach().cpu().numpy() for k, v in draws.items()})
    elif output.endswith(".png"):
        _save_grid(x[:count], output)
    else:
        raise OptionError("Write the draws to a .png (image grid) or a .npz file.")
    click.echo(f"wrote {output} ({min(count, len(x))} draws of '{observed[0]}')")


def _save_grid(x, output: str) -> None:
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    side = int(round(math.sqrt(x.shape[-1])))
    if x.ndim != 2 or side * side != x.shape[-1]:
        raise OptionError(f"A .png grid needs square images; the draws have shape {list(x.shape)} (use .npz).")
    cols = int(math.ceil(math.sqrt(len(x))))
    rows = int(math.ceil(len(x) / cols))
    grid = np.ones((rows * (side + 2), cols * (side + 2)))
    for i, img in enumerate(x):
        r, c = divmod(i, cols)
        grid[r * (side + 2) + 1 : r * (side + 2) + 1 + side, c * (side + 2) + 1 : c * (side + 2) + 1 + side] = (
            img.reshape(side, side)
        )
    plt.imsave(output, grid, cmap="gray", vmin=0.0, vmax=1.0)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@click.option("--data", "data_path", default=None, help="Data file: JSON, CSV, NPZ or PATH:SPLIT.")
@click.option("--nuts", "method", flag_value="nuts", default=True, help="The No-U-Turn sampler (default).")
@click.option("--hmc", "method", flag_value="hmc", help="Static HMC with --steps leapfrogs.")
@click.option("--sgld", "method", flag_value="sgld", help="Stochastic-gradient Langevin dynamics (minibatches).")
@click.option("--psgld", "method", flag_value="psgld", help="Preconditioned SGLD.")
@click.option("--sghmc", "method", flag_value="sghmc", help="Stochastic-gradient HMC with --friction.")
@click.option("--sgnht", "method", flag_value="sgnht", help="Stochastic-gradient Nose-Hoover thermostat.")
@click.option("--lr", type=float, default=1e-4, show_default=True, help="SG-MCMC step size.")
@click.option("--schedule", default="constant", show_default=True, help="SG-MCMC step sizes: constant or poly.")
@click.option("--friction", type=float, default=0.1, show_default=True, help="SGHMC friction / SGNHT initial xi.")
@click.option("--thin", type=int, default=1, show_default=True, help="SG-MCMC: keep every k-th draw.")
@click.option("--chains", type=int, default=4, show_default=True)
@click.option("--cores", type=int, default=None, help="Processes for the chains [default: min(chains, CPUs)].")
@click.option("--warmup", type=int, default=1000, show_default=True)
@click.option("--draws", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--metric", default="diag", show_default=True, help="diag, dense or unit.")
@click.option("--target-accept", type=float, default=0.8, show_default=True)
@click.option("--max-depth", type=int, default=10, show_default=True)
@click.option("--steps", "hmc_steps", type=int, default=20, show_default=True, help="Leapfrogs per HMC transition.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/<spec>-nuts).")
@click.option("--resume", type=click.Path(file_okay=False), default=None, help="Continue the run in this directory.")
@click.option("--checkpoint-every", type=float, default=10.0, show_default=True, help="Seconds between checkpoints.")
@click.option("--compile", "use_compile", is_flag=True,
              help="torch.compile the log density: much faster per gradient, seconds to compile once.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Empty --out first if it holds an earlier run (else it is refused).")
@handle_errors
def sample(spec, data_path, method, lr, schedule, friction, thin, chains, cores, warmup, draws, seed, metric,
           target_accept, max_depth, hmc_steps, out, resume, checkpoint_every, use_compile, overwrite):  # fmt: skip
    """Sample SPEC's posterior with NUTS (Stan's warmup), HMC or SG-MCMC; writes CSVs, posterior.nc and a summary.

    NUTS/HMC chains are checkpointed into the run directory; after an interruption, --resume RUN
    continues them and gives the same draws as a run that never stopped. SG-MCMC (--sgld, --psgld,
    --sghmc, --sgnht) uses minibatches over the plates declared with subsample=; --warmup is its burn-in.
    A new run refuses a directory that holds another run (--overwrite replaces it).
    """
    from zsdsl.runtime.rundir import default_run_path, open_run

    options = _given(exclude=("spec", "data_path", "method", "out", "resume", "overwrite", "use_compile"))
    if _given(include=("use_compile",)):
        options["compile"] = True
    method_given = bool(_given(include=("method",)))
    if resume:
        if out:
            raise OptionError("Give --resume RUN or --out RUN, not both.")
        saved = open_run(Path(resume), ("mcmc",), "zsdsl sample --resume continues").config
        spec, run = spec or saved["spec"], Path(resume)
    elif spec is None:
        raise OptionError("Give a model file to sample, or --resume RUN.")
    else:
        run = Path(out) if out else default_run_path(spec, method)
    cm = _load(spec)
    method = method if method_given or not resume else None
    total = _total_iterations(options, resume, run)
    with _ChainProgress(options.get("chains", 4) if not resume else total[0], total[1]) as bar:
        result = cm.sample(data_path, method, out=run, resume=bool(resume), overwrite=overwrite,
                           progress=bar.update if bar.live else None, **options)  # fmt: skip
    cfg = result.config
    if hasattr(cfg, "max_depth"):
        what = f"{cfg.chains} chains x {cfg.draws} draws ({cfg.warmup} warmup)"
    else:
        what = f"{cfg.chains} chains x {cfg.draws} draws (burn-in {cfg.burnin}, thin {cfg.thin})"
    _finish_sample_run(result, run, what, getattr(cfg, "max_depth", 10))


def _total_iterations(options: dict, resume, run: Path) -> tuple[int, int]:
    """(chains, iterations per chain) for the progress bars."""
    if resume:
        saved = json.loads((run / "config.json").read_text())
        return int(saved.get("chains", 4)), int(saved.get("warmup", 0)) + int(saved.get("draws", 0))
    return int(options.get("chains", 4)), int(options.get("warmup", 1000)) + int(options.get("draws", 1000))


def _finish_sample_run(result, run, what: str, max_depth: int = 10) -> None:
    """Write the run directory (CSVs, posterior.nc, summary.json), print the summary and Stan's warnings."""
    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.runtime.mcmc.output import diagnostics_warnings, read_run, summarize

    cols, stats = read_run(run)
    summary = summarize(cols)
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=1) + "\n")
    wall = max(c.wall_s for c in result.chains)
    backend = result.potential.backend
    click.echo(
        f"{result.config.method}: {what}, slowest chain {wall:.1f} s (gradients: {backend}); run directory {run}"
    )
    _print_summary(summary)
    for msg in diagnostics_warnings(stats, summary, max_depth):
        click.echo(f"warning: {msg}", err=True)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_path",
    default=None,
    help="The data file: its observed fields give sizes and are replaced by simulations.",
)
@click.option("--sims", type=int, default=100, show_default=True, help="Simulations.")
@click.option("--draws", "L", type=int, default=99, show_default=True, help="Posterior draws per rank (ranks 0..L).")
@click.option("--thin", type=int, default=2, show_default=True, help="NUTS draws per kept draw.")
@click.option("--warmup", type=int, default=300, show_default=True)
@click.option("--bins", type=int, default=20, show_default=True, help="Histogram bins (L + 1 must be a multiple).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Output directory (default runs/<spec>-sbc)."
)
@click.option("--overwrite", is_flag=True, help="Empty --out first if it holds an earlier run (else it is refused).")
@handle_errors
def sbc(spec, data_path, sims, L, thin, warmup, bins, seed, out, overwrite):
    """Simulation-based calibration of NUTS on SPEC: rank statistics, a uniformity test per parameter
    and rank histograms (sbc.json and ranks.png in the output directory)."""
    from pathlib import Path

    import torch

    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.runtime.mcmc.sbc import plot_ranks, run_sbc

    torch.set_default_dtype(torch.float64)
    from zsdsl.runtime.rundir import create_run, default_run_path, spec_text

    if sims < 1 or L < 1 or thin < 1 or bins < 1:
        raise OptionError("--sims, --draws, --thin and --bins must be at least 1.")
    cm, data = _load_with_data(spec, data_path)
    run = Path(out) if out else default_run_path(spec, "sbc")
    create_run(run, "sbc", spec, spec_text(cm), data_path or "", data, overwrite)
    result = run_sbc(cm, data, sims=sims, L=L, thin=thin, warmup=warmup, bins=bins, seed=seed)
    atomic_write_text(run / "sbc.json", json.dumps(result.to_json()) + "\n")
    plot_ranks(result, run / "ranks.png")
    width = max(len(k) for k in result.p_values)
    click.echo(f"SBC: {sims} simulations, ranks 0..{L}, chi-square over {bins} bins; {run}/ranks.png")
    click.echo(f"{'parameter':<{width}}  p-value")
    for name, p in result.p_values.items():
        click.echo(f"{name:<{width}}  {p:.4f}{'  <- not uniform at 1%' if p < 0.01 else ''}")


class _ChainProgress:
    """One rich progress bar per chain on a terminal; nothing otherwise."""

    def __init__(self, chains: int, total: int):
        self.live = sys.stderr.isatty()
        self.chains, self.total = chains, total

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), transient=True)  # fmt: skip
            self.tasks = [self.bar.add_task(f"chain {c + 1}", total=self.total) for c in range(self.chains)]
            self.bar.start()
        return self

    def update(self, chain: int, done: int) -> None:
        self.bar.update(self.tasks[chain], completed=done)

    def __exit__(self, *exc):
        if self.live:
            self.bar.stop()
        return False


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def summary(run, fmt):
    """Stan's summary table of an MCMC RUN: mean, mcse_mean, sd, 5%, 50%, 95%, ess_bulk, ess_tail, r_hat."""
    from pathlib import Path

    from zsdsl.runtime.mcmc.output import read_run, summarize
    from zsdsl.runtime.rundir import open_run

    open_run(Path(run), ("mcmc", "sgmcmc"), "zsdsl summary reads")
    try:
        cols, _ = read_run(Path(run))
    except FileNotFoundError as exc:
        raise RunDirError(f"{run} holds no draws yet ({exc.filename} is missing): the run has not finished.") from None
    table = summarize(cols)
    if fmt == "json":
        click.echo(json.dumps(table, indent=1))
    else:
        _print_summary(table)


def _print_summary(table: dict, limit: int = 40) -> None:
    keys = ["mean", "mcse_mean", "sd", "5%", "50%", "95%", "ess_bulk", "ess_tail", "r_hat"]
    width = max([len(k) for k in table] + [4])
    click.echo(f"{'':<{width}} " + " ".join(f"{k:>9}" for k in keys))
    for i, (name, row) in enumerate(table.items()):
        if i == limit:
            click.echo(f"... {len(table) - limit} more (zsdsl summary RUN --format json)")
            break
        click.echo(f"{name:<{width}} " + " ".join(f"{row[k]:>9.4g}" for k in keys))


def _load(spec):
    """``zsdsl.load(spec)``, its checker warnings shown on stderr."""
    import zsdsl

    cm = zsdsl.load(spec)
    _show_warnings(cm.warnings, cm.text)
    return cm


def _show_warnings(warnings, text) -> None:
    for w in warnings:
        click.echo(render_error(w, text), err=True)


def _load_with_data(spec, data_path):
    """The compiled spec and ``data_path`` (a file or PATH:SPLIT; None: no data), checked and prepared."""
    cm = _load(spec)
    return cm, cm.load_data(data_path)


def _print_guide_summary(result, data, draws: int = 1000, max_elems: int = 12) -> None:
    import math

    import torch

    sizes = [math.prod(s.shape) for s in result.model.sites(data)]
    if sum(sizes) * draws > 5_000_000:
        return  # many (local) latents: the run directory holds the fit; `zsdsl evaluate` reports on it
    with torch.no_grad():
        values, _, _ = result.guide.sample_and_log_prob(data, (draws,))
    rows = []
    for name, v in values.items():
        flat = v.reshape(draws, -1)
        if flat.shape[1] > max_elems:
            rows.append((name, f"{flat.shape[1]} elements", "", ""))
            continue
        for i in range(flat.shape[1]):
            label = name if flat.shape[1] == 1 else f"{name}[{i + 1}]"
            col = flat[:, i].double()
            rows.append((label, f"{col.mean():.4g}", f"{col.std():.4g}", ""))
    if rows:
        click.echo("posterior (guide draws):")
        width = max(len(r[0]) for r in rows)
        click.echo(f"  {'':<{width}}  {'mean':>10}  {'sd':>10}")
        for label, mean, sd, _ in rows:
            click.echo(f"  {label:<{width}}  {mean:>10}  {sd:>10}")


def _write(text: str, output: str | None) -> None:
    if output:
        tmp = output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, output)
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
