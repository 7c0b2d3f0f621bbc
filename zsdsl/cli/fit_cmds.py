"""``zsdsl fit`` and ``zsdsl evaluate``: variational runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zsdsl.cli.adversarial_cmds import ADVERSARIAL_ONLY, adversarial_options, fit_adversarial_cli, is_adversarial_run
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
from zsdsl.errors import OptionError
from zsdsl.runtime.progress import FitProgress


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@data_options("Data file: JSON, YAML, CSV, NPZ or PATH:SPLIT.")
@click.option(
    "--infer",
    default="sgvb",
    show_default=True,
    help="Objective: sgvb, iwae, vimco, nvil, rws or map; gan or wgan-gp (an implicit model, a critic).",
)
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
@click.option("--draws", type=int, default=1000, show_default=True,
              help="Draws from the fitted guide written to the run (posterior.nc, summary.json); 0: none.")  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/<spec>-<infer>)."
)
@click.option("--resume", type=click.Path(file_okay=False), default=None, help="Continue the run in this directory.")
@click.option("--overwrite", is_flag=True, help="Empty --out first if it holds an earlier run (else it is refused).")
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--keep", type=int, default=3, show_default=True, help="How many of the latest checkpoints to keep.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N, or auto (a GPU if there is one).")
@click.option(
    "--precision",
    default="fp32",
    show_default=True,
    help="The nets' precision: fp32, or bf16 / fp16 (mixed precision by autocast; fp16 with loss scaling).",
)
@click.option(
    "--nprocs",
    type=int,
    default=1,
    show_default=True,
    help="Data-parallel processes on this machine (torch.distributed): each takes a shard of every minibatch; "
    "the same seed gives the same fit for any number. Under torchrun, leave it out.",
)
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
@adversarial_options
@no_plots_option
@quiet_option
@handle_errors
def fit(spec, data_path, infer, guide, out, resume, overwrite, valid_path, no_plots, quiet, **_engine_options):
    """Fit SPEC by variational inference; writes config, metrics and checkpoints to a run directory.

    A new run refuses a directory that holds another run (--overwrite replaces it); --resume RUN
    continues a run with the same model, data and fixed options (--steps or --epochs may extend it)."""
    # The engine's options arrive in **_engine_options; given_options passes on those set explicitly.
    from zsdsl.runtime.rundir import default_run_path, open_run
    from zsdsl.runtime.vi.train import bound_name, resume_config

    cli_only = ("spec", "data_path", "out", "resume", "overwrite", "valid_path", "infer", "guide", "no_plots", "quiet")
    options = given_options(exclude=cli_only)
    if infer in ("gan", "wgan-gp") or is_adversarial_run(resume):
        if guide or valid_path:
            raise OptionError(f"--{'guide' if guide else 'valid'} does not apply to an adversarial fit (it trains "
                              "against a critic block; --critic chooses one).")  # fmt: skip
        return fit_adversarial_cli(spec, data_path, infer, out, resume, overwrite, options, quiet)
    misplaced = [name for name in ADVERSARIAL_ONLY if name in options]
    if misplaced:
        flags = ", ".join("--" + n.replace("_", "-") for n in misplaced)
        raise OptionError(f"{flags} apply to --infer gan / wgan-gp only, not --infer {infer}.")
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
    cm = load_spec(spec)
    given = given_options(include=("infer", "guide"))
    interrupt_hint(run, "fit", resumable=True)
    label = _BOUND_LABELS.get(bound_name(saved.infer if resume else infer), "objective")
    result = cm.fit(data_path, infer=given.get("infer") if resume else infer, guide=given.get("guide"), out=run,
                    resume=bool(resume), overwrite=overwrite, valid=valid_path,
                    progress=FitProgress(label, quiet), **options)  # fmt: skip
    if result.rank:  # another process of a torchrun launch: rank 0 reports
        return
    config = result.config
    name, value = _BOUND_LABELS.get(result.bound_name, result.bound_name), result.final_objective
    click.echo(
        f"{config.infer} with guide {config.guide}: {name} {value:.6g} ({value / result.points:.6g} per data point, "
        f"{result.points:,} points) after {result.history[-1][0] if result.history else 0} steps; run directory {run}"
    )
    if result.validation:
        best = max(result.validation, key=lambda r: r[2])
        stop = f"; stopped early at step {result.stopped_step}" if result.stopped_step else ""
        click.echo(f"validation: best {best[2]:.4f} at step {best[0]} (the parameters kept){stop}")
    if config.draws and not quiet and (run / "summary.json").exists():  # (not written for memory-mapped data)
        _print_vi_summary(run)
    end_of_run_plots(run, "vi", no_plots, fitted=(result.model.eval(), result.data))
    click.echo(f"next: zsdsl summary {run}; zsdsl predict {run} --data NEW.json; zsdsl plot {run}")


_BOUND_LABELS = {"elbo": "ELBO", "iwae_bound": "IWAE bound", "log_joint": "log joint"}


def _print_vi_summary(run: Path) -> None:
    """The guide draws' summary and Pareto k, as written to the run."""
    table = json.loads((run / "summary.json").read_text())
    info = json.loads((run / "draws.json").read_text())
    if table:
        click.echo(f"posterior ({info['draws']} draws from the guide):")
        print_summary(table)
    print_guide_diagnostic(run)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", "data_path", required=True, help="Evaluation data (a file or PATH:SPLIT).")
@click.option("--particles", type=int, default=1000, show_default=True, help="Importance samples / posterior draws.")
@click.option("--batch", type=int, default=100, show_default=True, help="Elements per evaluation minibatch.")
@click.option("--classify", default=None, metavar="SITE=FIELD",
              help="Also the error of argmax q(SITE | x) against the labels in data field FIELD.")  # fmt: skip
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N, or auto (a GPU if there is one).")
@handle_errors
def evaluate(run, data_path, particles, batch, classify, device):
    """Evaluate a fitted RUN: IS log-likelihood and ELBO, or predictive log-likelihood and RMSE; prints JSON."""
    import torch

    from zsdsl.runtime.devices import resolve_device
    from zsdsl.runtime.rundir import open_run
    from zsdsl.runtime.vi.evaluate import restore_run
    from zsdsl.runtime.vi.train import resume_config

    if particles < 1 or batch < 1:
        raise OptionError("--particles and --batch must be at least 1.")
    open_run(Path(run), ("vi",), "zsdsl evaluate reads")
    config = resume_config(Path(run))
    cm, data = load_spec_with_data(config.spec, data_path)
    on = torch.device(resolve_device(device))
    data = {k: (v.to(on) if torch.is_tensor(v) else v) for k, v in data.items()}
    with on:  # (the run's checkpoint reads onto the CPU, wherever it was fitted)
        model, guide = restore_run(cm, data, config, Path(run))
        return _evaluate_on(run, data_path, data, model, guide, particles, batch, classify)


def _evaluate_on(run, data_path, data, model, guide, particles, batch, classify):
    """The evaluation of a restored run, written to its evaluation.json and printed."""
    from zsdsl.runtime.checkpoint import atomic_write_text, fitted_checkpoint
    from zsdsl.runtime.vi.evaluate import evaluate as run_evaluate

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
