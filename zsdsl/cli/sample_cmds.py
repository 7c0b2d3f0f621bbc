"""``zsdsl sample``, ``zsdsl sbc`` and ``zsdsl summary``: MCMC runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zsdsl.cli.app import handle_errors, main
from zsdsl.cli.common import (
    data_options,
    end_of_run_plots,
    given_options,
    interrupt_hint,
    load_spec,
    load_spec_with_data,
    no_plots_option,
    print_guide_diagnostic,
    print_summary,
    quiet_option,
)
from zsdsl.errors import OptionError, RunDirError
from zsdsl.runtime.options import SG_METHODS
from zsdsl.runtime.progress import ChainProgress


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@data_options("Data file: JSON, YAML, CSV, NPZ or PATH:SPLIT.")
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
@click.option("--chain-method", type=click.Choice(["processes", "vectorized"]), default="processes",
              show_default=True,
              help="processes: one chain a process (fastest on CPUs); vectorized: all chains in one batched "
                   "computation, one gradient call per leapfrog (the GPU path; many chains).")  # fmt: skip
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="cpu, cuda, cuda:N or auto: where vectorized chains run (processes: cpu only).",
)
@click.option("--warmup", type=int, default=1000, show_default=True)
@click.option("--draws", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--metric", default="diag", show_default=True, help="diag, dense or unit.")
@click.option("--target-accept", type=float, default=0.8, show_default=True)
@click.option("--max-depth", type=int, default=10, show_default=True)
@click.option("--steps", "hmc_steps", type=int, default=20, show_default=True, help="Leapfrogs per HMC transition.")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Initial values (NUTS, HMC, SG-MCMC), as Stan's init: a JSON or YAML file mapping latent names to "
                   "values (or a list of such mappings, one per chain); others start at random.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/<spec>-nuts).")
@click.option("--resume", type=click.Path(file_okay=False), default=None, help="Continue the run in this directory.")
@click.option("--checkpoint-every", type=float, default=10.0, show_default=True, help="Seconds between checkpoints.")
@click.option("--compile", "use_compile", is_flag=True,
              help="torch.compile the log density: much faster per gradient, seconds to compile once.")  # fmt: skip
@click.option("--save-warmup", is_flag=True, help="Keep the warmup draws (posterior.nc's warmup_* groups).")
@click.option("--overwrite", is_flag=True, help="Empty --out first if it holds an earlier run (else it is refused).")
@click.option("--prior", is_flag=True,
              help="Draw --draws times from the prior and the prior predictive instead (writes prior.nc).")  # fmt: skip
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also say how the gradients were computed and why (the emitted NumPy code, or PyTorch's reason).",
)
@no_plots_option
@quiet_option
@handle_errors
def sample(spec, data_path, method, out, resume, overwrite, prior, no_plots, quiet, verbose, **_engine_options):
    """Sample SPEC's posterior with NUTS (Stan's warmup), HMC or SG-MCMC; writes CSVs, posterior.nc and a summary.

    NUTS/HMC chains are checkpointed into the run directory; after an interruption, --resume RUN
    continues them and gives the same draws as a run that never stopped. SG-MCMC (--sgld, --psgld,
    --sghmc, --sgnht) uses minibatches over the plates declared with subsample=; --warmup is its burn-in.
    A new run refuses a directory that holds another run (--overwrite replaces it).
    """
    from zsdsl.runtime.rundir import default_run_path, open_run

    cli_only = (
        "spec",
        "data_path",
        "method",
        "out",
        "resume",
        "overwrite",
        "use_compile",
        "prior",
        "no_plots",
        "quiet",
        "verbose",
        "init_path",
    )
    options = given_options(exclude=cli_only)
    if _engine_options.get("init_path"):
        options["init"] = read_init(_engine_options["init_path"])
    if prior:
        run = _sample_prior(spec, data_path, out, overwrite, options, given_options(include=("method", "resume")))
        return end_of_run_plots(run, "prior", no_plots)
    if given_options(include=("use_compile",)):
        options["compile"] = True
    method_given = bool(given_options(include=("method",)))
    if resume:
        if out:
            raise OptionError("Give --resume RUN or --out RUN, not both.")
        saved = open_run(Path(resume), ("mcmc",), "zsdsl sample --resume continues").config
        spec, run = spec or saved["spec"], Path(resume)
    elif spec is None:
        raise OptionError("Give a model file to sample, or --resume RUN.")
    else:
        run = Path(out) if out else default_run_path(spec, method)
    cm = load_spec(spec)
    method = method if method_given or not resume else None
    interrupt_hint(run, "sample", resumable=method not in SG_METHODS)
    with ChainProgress(*_sizes(saved if resume else options), quiet=quiet) as bar:
        result = cm.sample(data_path, method, out=run, resume=bool(resume), overwrite=overwrite,
                           progress=bar.callback, **options)  # fmt: skip
    cfg = result.config
    if hasattr(cfg, "max_depth"):
        what = f"{cfg.chains} chains x {cfg.draws} draws ({cfg.warmup} warmup)"
    else:
        what = f"{cfg.chains} chains x {cfg.draws} draws (burn-in {cfg.burnin}, thin {cfg.thin})"
    _finish_sample_run(result, run, what, getattr(cfg, "max_depth", 10), quiet, verbose)
    end_of_run_plots(run, "mcmc" if hasattr(cfg, "max_depth") else "sgmcmc", no_plots)
    click.echo(f"next: zsdsl loo {run}; zsdsl predict {run} --data NEW.json; zsdsl plot {run}")


def _sample_prior(spec, data_path, out, overwrite, options: dict, other: dict) -> Path:
    """``zsdsl sample SPEC --prior``: prior and prior-predictive draws into a run directory."""
    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.runtime.posterior import flat_columns, summarize_draws, write_inference_data
    from zsdsl.runtime.rundir import create_run, default_run_path, spec_text

    extra = sorted(set(options) - {"draws", "seed"}) + sorted(other)
    if extra:
        names = ", ".join("--" + n.replace("_", "-") for n in extra)
        raise OptionError(f"--prior draws from the prior; it takes --data, --draws, --seed and --out, not {names}.")
    if spec is None:
        raise OptionError("Give a model file to draw from its prior.")
    cm = load_spec(spec)
    draws, seed = int(options.get("draws", 1000)), int(options.get("seed", 1))
    data = cm.load_data(data_path, predicting=True)  # read once: drawn from, and digested for run.json
    idata, derived = cm.prior(data, draws=draws, seed=seed, data_label=data_path)
    run = Path(out) if out else default_run_path(spec, "prior")
    handle = create_run(run, "prior", spec, spec_text(cm), data_path or "", data, overwrite)
    try:
        write_inference_data(idata, run / "prior.nc")
        table = summarize_draws(flat_columns(derived.reported()))
        atomic_write_text(run / "summary.json", json.dumps(table, indent=1) + "\n")
        config = {"spec": spec, "data": data_path or "", "method": "prior", "draws": draws, "seed": seed}
        atomic_write_text(run / "config.json", json.dumps(config, indent=2) + "\n")
    finally:
        handle.release()
    click.echo(f"prior: {draws} draws of the latents and the prior predictive; run directory {run} (prior.nc)")
    print_summary(table)
    for note in derived.notes:
        click.echo(f"note: {note}", err=True)
    return run


def _sizes(options: dict) -> tuple[int, int, int]:
    """(chains, warmup, draws) for the progress lines, from the options given or a run's config."""
    warmup = options.get("warmup", options.get("burnin", 1000))
    return int(options.get("chains", 4)), int(warmup), int(options.get("draws", 1000))


def read_init(path: str):
    """The --init file: JSON, or YAML by safe loading (data, never code), parsed as data files are."""
    from zsdsl.errors import Span
    from zsdsl.runtime.data import parse_json, parse_yaml

    try:
        text = Path(path).read_text()
    except OSError as err:
        raise OptionError(f"Cannot read the --init file {path}: {err.strerror or err}.") from None
    return (parse_json if path.endswith(".json") else parse_yaml)(text, Span(file=path))


def _finish_sample_run(result, run, what: str, max_depth: int = 10, quiet: bool = False,
                       verbose: bool = False) -> None:  # fmt: skip
    """Print the summary the run wrote and Stan's warnings."""
    from zsdsl.runtime.mcmc.output import STAT_NAMES, diagnostics_warnings, rejection_warnings

    stats = {k: result.stat(k).numpy() for k in STAT_NAMES}
    summary = json.loads((run / "summary.json").read_text())
    wall = max(c.wall_s for c in result.chains)
    backend = result.potential.backend
    if backend == "torch":  # the slow path: say why (the NumPy path is the default where it applies)
        backend = f"torch, because {result.potential.backend_reason}"
    elif verbose:
        backend = f"{backend}: {result.potential.backend_reason}"
    divergent = int(stats["divergent__"].sum())
    ess = min((min(r["ess_bulk"], r["ess_tail"]) for r in summary.values()), default=float("nan"))
    click.echo(
        f"{result.config.method}: {what}, slowest chain {wall:.1f} s (gradients: {backend}); {divergent} divergent; "
        f"min ESS {ess:.0f} ({ess / max(wall, 1e-9):.1f}/s); run directory {run}"
    )
    if not quiet:
        print_summary(summary)
    for msg in rejection_warnings(result.chains) + diagnostics_warnings(stats, summary, max_depth):
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
    cm, data = load_spec_with_data(spec, data_path)
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


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def summary(run, fmt):
    """The summary table of a RUN: Stan's (mean, mcse_mean, sd, 5%, 50%, 95%, ess_bulk, ess_tail, r_hat) for
    MCMC; mean, sd, quantiles and the Pareto k of the guide for VI. Labels are 0-based, as in the language."""
    from zsdsl.runtime.rundir import open_run

    kind = open_run(Path(run), ("mcmc", "sgmcmc", "vi", "prior"), "zsdsl summary reads").kind
    saved = Path(run) / "summary.json"
    if saved.exists():
        table = json.loads(saved.read_text())
    elif kind == "vi":
        raise RunDirError(f"{run} holds no draws from its guide (summary.json is missing): the fit has not "
                          f"finished, or ran with --draws 0.")  # fmt: skip
    else:
        table = _summary_from_csv(Path(run))
    if fmt == "json":
        click.echo(json.dumps(table, indent=1))
        return
    print_summary(table)
    if kind == "vi":
        print_guide_diagnostic(Path(run))


def _summary_from_csv(run: Path) -> dict:
    from zsdsl.runtime.mcmc.output import read_run, summarize

    try:
        cols, _ = read_run(run)
    except FileNotFoundError as exc:
        raise RunDirError(f"{run} holds no draws yet ({exc.filename} is missing): the run has not finished.") from None
    return summarize(cols)
