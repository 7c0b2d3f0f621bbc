"""``zsdsl predict``, ``zsdsl generate``, ``zsdsl loo``, ``zsdsl compare``: using a finished run's draws."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click

from zsdsl.cli.app import handle_errors, main
from zsdsl.cli.common import data_options, image_draws, load_spec, print_summary
from zsdsl.errors import OptionError, RunDirError

RUN_KINDS = ("mcmc", "sgmcmc", "vi")


def _run_spec(run: Path):
    """(kind, compiled spec, the run's data source) of a finished run."""
    from zsdsl.runtime.rundir import open_run

    opened = open_run(run, RUN_KINDS, "this command reads")
    record = opened.config if (run / "config.json").exists() else {}
    spec = record.get("spec") or opened.record.get("spec")
    if not spec or not Path(spec).exists():
        raise RunDirError(f"The spec of {run} ({spec or 'unrecorded'}) is not found from here; run from the directory "
                          "the run was started in.")  # fmt: skip
    return opened.kind, load_spec(spec), record.get("data") or opened.record.get("data") or None


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@data_options("New data to predict on (observed fields optional) [default: the run's].")
@click.option("--draws", type=int, default=None, help="Posterior draws to use, spread over the chains [default: all].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--name",
    default=None,
    help="Writes RUN/predictions/NAME.nc [default: the data file's stem, the split of PATH:SPLIT, or 'own'].",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N, or auto (a GPU if there is one).")
@handle_errors
def predict(run, data_path, draws, seed, name, device):
    """Draw the posterior predictive of a finished RUN (MCMC or VI) on its data or on new data.

    Writes RUN/predictions/NAME.nc (posterior_predictive: a replicate of each observed site and the generated
    block's ~ nodes; posterior: the draws with deterministics and generated = nodes on this data;
    log_likelihood where the data hold the observed values) and prints a summary; with observed values,
    also the mean log predictive density and the RMSE of the predictive mean, as `zsdsl evaluate` does."""
    import torch

    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.runtime.devices import resolve_device
    from zsdsl.runtime.posterior import flat_columns, inference_data, summarize_draws, write_inference_data
    from zsdsl.runtime.predict import predict as run_predict
    from zsdsl.runtime.predict import scores

    if draws is not None and draws < 1:
        raise OptionError(f"--draws must be at least 1, not {draws}.")
    torch.set_default_dtype(torch.float64)
    run = Path(run)
    kind, cm, own = _run_spec(run)
    source = data_path or own
    data = cm.load_data(source, predicting=True)
    on = torch.device(resolve_device(device))
    with on:  # the model, its draws and data on the device; what is written comes back to the CPU
        moved = {k: (v.to(on) if torch.is_tensor(v) else v) for k, v in data.items()}
        derived, model = run_predict(cm, run, kind, moved, draws, seed)
    name = name or _prediction_name(data_path)
    out = run / "predictions"
    out.mkdir(exist_ok=True)
    idata = inference_data(model, data, derived, attrs={"inference_library": "zsdsl", "data": str(source or "")})
    write_inference_data(idata, out / f"{name}.nc")
    found = scores(derived, model, data) if any(o in data for o in model.observed) else {}
    atomic_write_text(out / f"{name}.json", json.dumps({"data": str(source or ""), "scores": found}, indent=1) + "\n")
    S = next(iter(derived.predictive.values())).shape[:2] if derived.predictive else (0, 0)
    click.echo(f"posterior predictive on {source or 'the run data'}: {S[0] * S[1]} draws; wrote {out / name}.nc")
    print_summary(summarize_draws(flat_columns(derived.predictive)), limit=20, more=f"{out / name}.nc")
    for site, row in found.items():
        click.echo(f"{site}: log predictive density {row['log_likelihood']:.4f} per point, RMSE {row['rmse']:.4f} "
                   f"({row['n']} points)")  # fmt: skip
    for note in derived.notes:
        click.echo(f"note: {note}", err=True)


def _prediction_name(data_path) -> str:
    """``own`` for the run's data; a split's name for ``PATH:SPLIT``; else the file's stem."""
    if not data_path:
        return "own"
    first = str(data_path).split(",")[0]
    path, _, split = first.rpartition(":") if ":" in first else (first, "", "")
    return split or Path(path).stem


def _idata(run: Path):
    from zsdsl.runtime.posterior import read_inference_data
    from zsdsl.runtime.rundir import open_run

    open_run(run, RUN_KINDS, "this command reads")
    idata = read_inference_data(run)
    if "log_likelihood" not in idata.groups():
        raise RunDirError(f"{run}/posterior.nc has no log_likelihood group (a model with no observed site, or one "
                          "whose enumerated latent the sampler summed out); LOO needs it.")  # fmt: skip
    return idata


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@handle_errors
def loo(run):
    """PSIS-LOO of a finished RUN (ArviZ's loo): elpd_loo, its se, p_loo and the Pareto k counts."""
    import arviz as az

    idata = _idata(Path(run))
    for var in idata.log_likelihood.data_vars:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = az.loo(idata, var_name=var, pointwise=True)
        k = res.pareto_k.values.reshape(-1)
        click.echo(f"{var}: elpd_loo {res.elpd_loo:.2f} (se {res.se:.2f}), p_loo {res.p_loo:.2f}; "
                   f"{res.n_samples} draws, {res.n_data_points} data points")  # fmt: skip
        good, bad = float(res.good_k), 1.0
        for label, lo, hi in (("good", -float("inf"), good), ("bad", good, bad), ("very bad", bad, float("inf"))):
            n = int(((k > lo) & (k <= hi)).sum())
            click.echo(f"  Pareto k in ({lo:.2f}, {hi:.2f}] ({label}): {n} ({100 * n / k.size:.1f}%)")
        if (k > good).any():
            worst = [int(i) for i in k.argsort()[::-1][: min(5, int((k > good).sum()))]]
            click.echo(f"warning: {int((k > good).sum())} points have Pareto k above {good:.2f} (e.g. elements "
                       f"{worst}, 0-based): PSIS-LOO is unreliable for them; consider K-fold CV or a more robust "
                       "model.", err=True)  # fmt: skip
        elif caught:
            click.echo(f"warning: {caught[0].message}", err=True)


def _data_points(log_likelihood) -> int:
    draws = log_likelihood.sizes["chain"] * log_likelihood.sizes["draw"]
    return sum(log_likelihood[n].size for n in log_likelihood.data_vars) // draws


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@handle_errors
def compare(runs):
    """Compare finished RUNs by PSIS-LOO (ArviZ's compare): rank, elpd_loo, p_loo, elpd_diff, weight, se, dse."""
    import arviz as az

    if len(runs) < 2:
        raise OptionError("Give at least two runs to compare.")
    models = {}
    for r in runs:
        label = Path(r).name if Path(r).name not in models else str(r)
        models[label] = _idata(Path(r))
    sizes = {k: _data_points(v.log_likelihood) for k, v in models.items()}
    if len(set(sizes.values())) > 1:
        raise OptionError(f"The runs were fitted to different numbers of data points ({sizes}); LOO compares models of "
                          "the same data.")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's own; the table's warning column says what matters
        table = az.compare(models)
    cols = ["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "warning"]
    width = max(len(k) for k in table.index)
    click.echo(f"{'':<{width}} " + " ".join(f"{c:>9}" for c in cols))
    for name, row in table.iterrows():
        cells = [f"{row[c]:>9}" if c in ("rank", "warning") else f"{row[c]:>9.2f}" for c in cols]
        click.echo(f"{name:<{width}} " + " ".join(cells))
    if table["warning"].any():
        click.echo("warning: some Pareto k are high: zsdsl loo RUN names the points; the comparison may be off.",
                   err=True)  # fmt: skip


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "count", type=int, default=64, show_default=True, help="How many draws.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="A .png grid or a .npz of draws.")
@click.option("--prior", is_flag=True, help="Global latents from the prior instead of the run's posterior draws.")
@click.option("--seed", type=int, default=0, show_default=True)
@handle_errors
def generate(run, count, output, prior, seed):
    """Draw COUNT new data from a finished RUN (MCMC or VI): new data points with their own latents from
    the prior for a model like a VAE (a subsampled plate of local latents; the nets as fitted), else COUNT
    posterior predictive draws of the data set (--prior: prior predictive)."""
    import numpy as np
    import torch

    from zsdsl.runtime.predict import model_for, run_latents
    from zsdsl.runtime.prior import new_data, new_points_plates

    if count < 1:
        raise OptionError("-n must be at least 1.")
    if not output.endswith((".png", ".npz")):
        raise OptionError("Write the draws to a .png (image grid) or a .npz file.")
    torch.set_default_dtype(torch.float64)
    run = Path(run)
    kind, cm, own = _run_spec(run)
    data = cm.load_data(own)
    model = model_for(cm, run, kind, data)
    latents = None if prior or new_points_plates(model, data) else run_latents(run, model.sites(data))
    draws, what = new_data(model, data, count, latents, seed)
    observed = [name for name in model.observed if name in draws]
    if not observed:
        raise OptionError("The model observes no data to generate.")
    x = draws[observed[0]].detach().cpu().double().numpy()
    if output.endswith(".npz"):
        np.savez(output, **{k: v.detach().cpu().numpy() for k, v in draws.items()})
    else:
        _save_grid(x[:count], output)
    click.echo(f"wrote {output}: {len(x)} {what}, '{observed[0]}' of shape {list(x.shape[1:])} each")


def _save_grid(x, output: str, min_pixels: int = 640) -> None:
    """Square images in a grid with a one-pixel border, each pixel scaled up so that the grid is at least
    ``min_pixels`` wide (a 28 x 28 digit must be visible)."""
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
    scale = max(1, math.ceil(min_pixels / grid.shape[1]))
    grid = np.kron(grid, np.ones((scale, scale)))  # nearest-neighbour: each pixel a scale x scale block
    plt.imsave(output, grid, cmap="gray", vmin=0.0, vmax=1.0)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="trace, rank, posterior, pair, forest, energy, ppc, loo-pit, elbo or samples; repeat for several "
                   "[default: every kind that applies to the run].")  # fmt: skip
@click.option("--var", "var_names", multiple=True, help="Variables to plot (repeat) [default: the small ones].")
@handle_errors
def plot(run, kinds, var_names):
    """Plot a finished RUN into RUN/plots/KIND.png (ArviZ and matplotlib)."""
    from zsdsl.runtime.plots import applicable, run_idata, run_kind_of
    from zsdsl.runtime.plots import plot as draw

    run = Path(run)
    kind = run_kind_of(run)
    images = image_draws(run, kind) if not kinds or "samples" in kinds else None
    if not kinds:
        kinds = applicable(kind, run_idata(run, kind), images is not None)
    for k in kinds:
        click.echo(f"wrote {draw(run, kind, k, list(var_names) or None, images=images)}")
