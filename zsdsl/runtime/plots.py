"""Plots of a finished run, through ArviZ and matplotlib, written as PNGs into ``RUN/plots/``.

``plot(run, kind)`` draws one kind and returns its path; ``applicable(run_kind, idata)`` lists the kinds that
apply to the run (``trace``, ``rank`` and ``energy`` need MCMC chains, ``elbo`` a VI fit's metrics,
``ppc`` and ``loo-pit`` a posterior predictive and log-likelihood, ``samples`` a model whose data
points are square images, drawn anew by the caller);
``default_kinds`` are those a run draws when it ends. Every figure has a title naming the run and
what is shown; variables with many elements are left out of the per-variable plots (the title
says how many are shown) so that no panel is too small to read.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from zsdsl.errors import OptionError, RunDirError

KINDS = ("trace", "rank", "posterior", "pair", "forest", "energy", "ppc", "loo-pit", "elbo", "samples")
MAX_ELEMENTS = 10  # a variable with more elements per draw is left out of per-variable plots
MAX_VARS = 6


def run_idata(run: Path, kind: str):
    """The run's InferenceData: ``prior.nc`` for a prior run, else ``posterior.nc``."""
    from zsdsl.runtime.posterior import read_inference_data

    return read_inference_data(run, "prior.nc" if kind == "prior" else "posterior.nc")


def applicable(run_kind: str, idata=None, images: bool = False) -> list[str]:
    """The plot kinds that apply to this run (``images``: the caller can draw new square images)."""
    if run_kind == "prior":
        return ["posterior", "ppc"]
    groups = set(idata.groups()) if idata is not None else set()
    kinds = ["posterior", "pair", "forest"]
    if run_kind in ("mcmc", "sgmcmc"):
        kinds = ["trace", "rank", *kinds]
        if "sample_stats" in groups and "energy" in idata.sample_stats:
            kinds.append("energy")
    if {"posterior_predictive", "observed_data"} <= groups:
        kinds.append("ppc")
        if "log_likelihood" in groups:
            kinds.append("loo-pit")
    if run_kind == "vi":
        kinds.append("elbo")
    if images:
        kinds.append("samples")
    return kinds


def default_kinds(run_kind: str, kinds: list[str]) -> list[str]:
    """The plots a run writes when it ends."""
    wanted = {"mcmc": ("trace", "energy", "ppc"), "sgmcmc": ("trace", "ppc"),
              "vi": ("elbo", "posterior", "ppc", "samples"), "prior": ("ppc",)}.get(run_kind, ())  # fmt: skip
    return [k for k in wanted if k in kinds]


def _small_vars(group) -> list[str]:
    """The variables of a group with at most ``MAX_ELEMENTS`` elements per draw (at most ``MAX_VARS``)."""
    names = [n for n, v in group.data_vars.items() if math.prod(v.shape[2:]) <= MAX_ELEMENTS]
    return names[:MAX_VARS]


def plot(run: Path, run_kind: str, kind: str, var_names: list[str] | None = None, images=None) -> Path:
    """Draw ``kind`` for ``run`` into ``run/plots/KIND.png``; returns the path. ``images`` (for ``samples``):
    new data points drawn from the fitted model, [count, side * side]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if kind not in KINDS:
        raise OptionError(f"Unknown plot kind '{kind}'; choose one of {', '.join(KINDS)}.")
    idata = None if kind in ("elbo", "samples") else run_idata(run, run_kind)
    kinds = applicable(run_kind, idata, images=images is not None)
    if kind not in kinds:
        raise OptionError(f"--kind {kind} does not apply to {run} ({_why_not(kind)}); it has: {', '.join(kinds)}.")
    out = run / "plots"
    out.mkdir(exist_ok=True)
    path = out / f"{kind}.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's and matplotlib's FutureWarnings are theirs, not the user's
        fig = _samples(images, run) if kind == "samples" else _DRAW[kind](idata, run, run_kind, var_names)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _why_not(kind: str) -> str:
    return {"trace": "MCMC chains only", "rank": "MCMC chains only", "energy": "NUTS/HMC runs only",
            "ppc": "no posterior predictive: the model observes nothing, or an enumerated latent",
            "loo-pit": "needs the pointwise log-likelihood and the posterior predictive", "elbo": "VI fits only",
            "samples": "the observed data are not square images"}.get(kind, "")  # fmt: skip


def _chosen(idata, group: str, var_names):
    names = var_names or _small_vars(getattr(idata, group))
    if not names:
        raise OptionError(f"no variable has at most {MAX_ELEMENTS} elements per draw; name some with --var.")
    total = len(getattr(idata, group).data_vars)
    return names, ("" if len(names) == total else f" ({len(names)} of {total} variables; --var for others)")


def _panels(idata, group: str, var_names, limit: int = 12):
    """(variables, panels, note) for plots with one panel per element: at most ``limit`` panels, so that
    each stays readable (the first variable is kept whatever its size)."""
    names, note = _chosen(idata, group, var_names)
    panels, kept = 0, []
    for n in names:
        size = math.prod(getattr(idata, group)[n].shape[2:])
        if kept and panels + size > limit:
            break
        kept.append(n)
        panels += size
    if len(kept) < len(names) or note:
        note = f" ({len(kept)} of {len(getattr(idata, group).data_vars)} variables; --var for others)"
    return kept, panels, note


def _title(fig, run: Path, what: str) -> None:
    fig.suptitle(f"{run.name}: {what}", fontsize=12)
    fig.tight_layout()


def _figure(axes):
    arr = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
    return arr[0].get_figure()


def _trace(idata, run, run_kind, var_names):
    import arviz as az

    names, note = _chosen(idata, "posterior", var_names)
    fig = _figure(az.plot_trace(idata, var_names=names, compact=True, figsize=(11, 2.2 * len(names))))
    _title(fig, run, f"trace per chain: marginal density (left), draws (right){note}")
    return fig


def _rank(idata, run, run_kind, var_names):
    import arviz as az

    kept, panels, note = _panels(idata, "posterior", var_names)
    rows = math.ceil(panels / 4)
    fig = _figure(az.plot_rank(idata, var_names=kept, kind="vlines", figsize=(13, 2.6 * rows + 0.6)))
    _title(fig, run, f"rank plots: uniform ranks per chain mean the chains mix{note}")
    return fig


def _posterior(idata, run, run_kind, var_names):
    import arviz as az

    group = "prior" if run_kind == "prior" else "posterior"
    names, panels, note = _panels(idata, group, var_names)
    rows = math.ceil(panels / 4)
    fig = _figure(az.plot_posterior(idata, group=group, var_names=names, hdi_prob=0.9, textsize=10,
                                    figsize=(13, 2.8 * rows + 0.6), grid=(rows, min(4, panels))))  # fmt: skip
    _title(fig, run, f"{group} marginals with the mean and 90% HDI{note}")
    return fig


def _pair(idata, run, run_kind, var_names):
    import arviz as az

    scalars = [n for n, v in idata.posterior.data_vars.items() if v.ndim == 2][:4]
    names = var_names or scalars or _chosen(idata, "posterior", None)[0][:2]
    axes = az.plot_pair(idata, var_names=names, kind="kde" if idata.posterior.sizes["draw"] < 2000 else "hexbin",
                        divergences="sample_stats" in idata.groups() and "diverging" in idata.sample_stats,
                        figsize=(8, 8), textsize=9)  # fmt: skip
    fig = _figure(axes)
    marks = " (divergent transitions, if any, in red)" if "sample_stats" in idata.groups() else ""
    _title(fig, run, "pairwise joint densities" + marks)
    return fig


def _forest(idata, run, run_kind, var_names):
    import arviz as az

    names = var_names or [n for n, v in idata.posterior.data_vars.items() if math.prod(v.shape[2:]) <= 40][:MAX_VARS]
    fig = _figure(az.plot_forest(idata, var_names=names, combined=True, hdi_prob=0.9, r_hat=run_kind == "mcmc",
                                 ess=run_kind == "mcmc", textsize=9))  # fmt: skip
    _title(fig, run, "90% intervals (thick: 50%), 0-based elements" + (", R-hat and ESS" if run_kind == "mcmc" else ""))
    return fig


def _energy(idata, run, run_kind, var_names):
    import arviz as az

    fig = _figure(az.plot_energy(idata, figsize=(7, 4.5), textsize=9))
    _title(fig, run, "energy: marginal vs transition; similar widths mean good exploration (E-BFMI)")
    return fig


def _ppc(idata, run, run_kind, var_names):
    import arviz as az

    group = "prior" if run_kind == "prior" else "posterior"
    names = var_names or list(idata.observed_data.data_vars)
    pp = idata.prior_predictive if group == "prior" else idata.posterior_predictive
    names = [n for n in names if n in pp]
    fig = _figure(az.plot_ppc(idata, group=group, var_names=names, num_pp_samples=min(100, pp.sizes["draw"]),
                              figsize=(8, 3.5 * len(names)), textsize=9))  # fmt: skip
    _title(fig, run, f"{group} predictive check: the observed data against {group} predictive draws")
    return fig


def _loo_pit(idata, run, run_kind, var_names):
    import arviz as az

    name = (var_names or list(idata.log_likelihood.data_vars))[0]
    fig = _figure(az.plot_loo_pit(idata, y=name, figsize=(7, 4.5), textsize=9))
    _title(fig, run, f"LOO-PIT of '{name}': within the spread of uniform draws (light) when calibrated")
    return fig


def _elbo(idata, run, run_kind, var_names):
    import csv

    import matplotlib.pyplot as plt

    with open(run / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise RunDirError(f"{run}/metrics.csv holds no steps yet.")
    column = next(c for c in rows[0] if c.endswith("_per_point"))
    steps = np.array([float(r["step"]) for r in rows])
    values = np.array([float(r[column]) for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(steps, values, lw=0.8, alpha=0.5, label="logged steps")
    width = max(1, len(values) // 20)
    if width > 1:  # a running mean shows the trend through the Monte Carlo noise of each step's estimate
        smooth = np.convolve(values, np.ones(width) / width, mode="valid")
        ax.plot(steps[width - 1 :], smooth, lw=2, label=f"running mean of {width}")
    ax.legend(loc="lower right")
    label = column.removesuffix("_per_point").replace("_", " ")
    label = "ELBO" if label == "elbo" else label
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"{label} per data point")
    lo = np.quantile(values, 0.05)  # the first steps are far below: keep the rest readable
    ax.set_ylim(lo - 0.05 * (values.max() - lo + 1e-9), values.max() + 0.05 * (values.max() - lo + 1e-9))
    ax.grid(alpha=0.3)
    _title(fig, run, f"{label} during the fit (y axis from its 5% quantile)")
    return fig


def _samples(images, run):
    import matplotlib.pyplot as plt

    x = np.asarray(images)[:36]
    side = math.isqrt(x.shape[1])
    cols = 6
    rows = math.ceil(len(x) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8, 8 * rows / cols + 0.5), squeeze=False)
    for ax, img in zip(axes.ravel(), x, strict=False):
        ax.imshow(img.reshape(side, side), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.ravel():
        ax.axis("off")
    _title(fig, run, f"{len(x)} new data points drawn from the fitted model")
    return fig


_DRAW = {"trace": _trace, "rank": _rank, "posterior": _posterior, "pair": _pair, "forest": _forest,
         "energy": _energy, "ppc": _ppc, "loo-pit": _loo_pit, "elbo": _elbo}  # fmt: skip


def run_kind_of(run: Path) -> str:
    from zsdsl.runtime.rundir import open_run

    return open_run(run, ("mcmc", "sgmcmc", "vi", "prior"), "zsdsl plot reads").kind


def write_default_plots(run: Path, run_kind: str, images=None) -> tuple[list[Path], list[str]]:
    """The plots a run writes when it ends (``default_kinds``): (paths, why a kind was not drawn)."""
    found = (run / ("prior.nc" if run_kind == "prior" else "posterior.nc")).exists()
    idata = run_idata(run, run_kind) if found else None
    kinds = applicable(run_kind, idata, images is not None)
    if idata is None:
        kinds = [k for k in kinds if k in ("elbo", "samples")]
    paths, skipped = [], []
    for k in default_kinds(run_kind, kinds):
        try:
            paths.append(plot(run, run_kind, k, images=images))
        except OptionError as exc:  # e.g. every variable too large for a per-variable plot
            skipped.append(f"{k}: {exc}")
    return paths, skipped
