"""The model library's table (``../shared/design/MISSION.md`` §5 and issue 20): for every model its
measured figure, the target or published reference, whether it is met, the wall time on this
machine and the command that reproduces it, all read from ``results/*.json``.

A model with no results file is listed as *not measured*, never left out, so the table shows what
is missing as plainly as what is done. ``report.py`` puts the table in ``benchmarks/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NOT_MEASURED = ("not measured", "", "")
# results of IWAE/VIMCO fitted before their minibatch objectives were fixed (2026-12-03; README note)
BEFORE_FIX = {"vi_mnist_vae_iwae5_cosine100", "vi_mnist_vae_iwae5_100ep_select", "vi_mnist_vae_iwae5_cosine_earlystop",
              "vi_mnist_vae_iwae10_cosine60", "vi_mnist_sbn_vimco50_cosine80"}  # fmt: skip


def load_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _pdb(*names: str):
    """posteriordb rows: how many of ``names`` match their reference, NUTS wall time summed."""
    pdb = load_result("posteriordb")
    rows = [r for r in (pdb or {}).get("results", []) if r["posterior"] in names]
    if not rows:
        return NOT_MEASURED
    passed = [r["posterior"] for r in rows if r["zsdsl"]["status"] == "pass"]
    failed = [r["posterior"] for r in rows if r["zsdsl"]["status"] != "pass"]
    figure = f"{len(passed)} of {len(rows)} match the reference" + (f" (not: {', '.join(failed)})" if failed else "")
    divergent = [f"{r['posterior'].split('-')[1]} {r['zsdsl']['divergences']}" for r in rows
                 if r["zsdsl"].get("divergences")]  # fmt: skip
    if divergent:
        figure += f"; divergences reported: {', '.join(divergent)}"
    wall = sum(r["zsdsl"].get("wall_s", 0.0) for r in rows)
    return figure, f"{wall:.0f}", pdb["command"]


def _best_mnist(model: str, infer: tuple[str, ...], particles=None):
    """The best test log-likelihood among the vi_mnist results of ``model`` fitted by ``infer``."""
    runs = [(p.stem, r) for p in RESULTS.glob("vi_mnist_*.json") for r in [json.loads(p.read_text())]
            if r["model"] == model and r["infer"] in infer
            and (particles is None or r["particles"] == particles)]  # fmt: skip
    if not runs:
        return NOT_MEASURED
    name, r = max(runs, key=lambda run: run[1]["test_ll"])
    what = f"{r['infer']} k={r['particles'] or 1}, {r['epochs']} epochs"
    what += ", before the IWAE/VIMCO fix" if name in BEFORE_FIX else ""
    figure = f"test LL {r['test_ll']:.2f} ± {r['test_ll_se']:.2f} ({what})"
    return figure, f"{r['fit_s']:.0f}", r["command"]


def _equal_epochs():
    """IWAE k=50 against the plain VAE (sgvb) at the same number of epochs."""
    iwae, vae = load_result("vi_mnist_vae_iwae50_1ep"), load_result("vi_mnist_vae_sgvb_1ep")
    if not (iwae and vae):
        return NOT_MEASURED
    figure = (f"test LL {iwae['test_ll']:.2f} ± {iwae['test_ll_se']:.2f} against the VAE's "
              f"{vae['test_ll']:.2f} ± {vae['test_ll_se']:.2f}, {iwae['epochs']} epoch")  # fmt: skip
    return figure, f"{iwae['fit_s']:.0f}", iwae["command"]


def _rmse_nll(d: dict) -> str:
    """A UCI row's RMSE and NLL (mean ± standard error over its splits; no error for one split)."""
    se = lambda v: f" ± {v:.2f}" if v is not None else ""  # noqa: E731
    return f"RMSE {d['rmse_mean']:.2f}{se(d['rmse_se'])}, NLL {-d['ll_mean']:.2f}{se(d['ll_se'])}"


def _uci(name: str, dataset: str):
    r = load_result(name)
    rows = [d for d in (r or {}).get("results", []) if d["dataset"] == dataset]
    if not rows:
        return NOT_MEASURED
    d = rows[0]
    figure = f"{_rmse_nll(d)} ({d['splits']} splits, {r['steps']} steps)"
    return figure, f"{d['wall_s']:.0f}", r["command"]


def _m2():
    r = load_result("vi_ssl_m2_curve_analytic_kl")
    if not r:
        return NOT_MEASURED
    errors = r["test_error"]
    best = min(range(len(errors)), key=errors.__getitem__)
    figure = f"test error {100 * errors[best]:.1f} % (best of {len(errors)} epochs, epoch {best + 1})"
    return figure, f"{r['fit_s']:.0f}", r["command"]


def _pmf():
    r = load_result("pmf_movielens")
    if not r:
        return NOT_MEASURED
    parts = [f"{e['engine']} {e['rmse']:.4f}" for e in r["results"]]
    figure = (
        f"test RMSE {', '.join(parts)} ({r['split']} split; the training mean alone: {r['baseline_rmse_mean']:.4f})"
    )
    return figure, f"{sum(e['fit_s'] for e in r['results']):.0f}", r["command"]


def _lda():
    r = load_result("lda_ap")
    if not r or "sklearn" not in r or "completion_perplexity" not in r["sklearn"]:
        return NOT_MEASURED
    z, sk = r["zsdsl"], r["sklearn"]
    figure = (f"document-completion perplexity {z['completion_perplexity']:.0f} against scikit-learn's "
              f"{sk['completion_perplexity']:.0f} (K = {r['topics']}, {r['test_docs']} test documents)")  # fmt: skip
    return figure, f"{z['fit_s']:.0f} (scikit-learn {sk['fit_s']:.0f})", r["command"]


def _gan():
    r = load_result("gan_mnist")
    if not r:
        return NOT_MEASURED
    parts = [f"{name}: FD {d['frechet']:.1f}, confidence {d['confidence']:.3f}, class entropy {d['class_entropy']:.2f}"
             for name, d in r["sets"].items()]  # fmt: skip
    wall = sum(d.get("fit_s", 0.0) for d in r["sets"].values())
    return "; ".join(parts) + f" (against {r['reference']})", f"{wall:.0f}", r["command"]


def _gp():
    """Exact GP regression rows (results/gp_uci_*.json), one figure per engine."""
    parts, wall, cmds = [], 0.0, []
    for path in sorted(RESULTS.glob("gp_uci_*.json")):
        r = json.loads(path.read_text())
        for d in r["results"]:
            if "rmse_mean" not in d:
                continue
            parts.append(f"{d['engine']}: {_rmse_nll(d)} ({d['dataset']}, {d['splits']} splits)")
            wall += d["wall_s"]
        cmds.append(r["command"])
    if not parts:
        return NOT_MEASURED
    return "; ".join(parts), f"{wall:.0f}", "`; `".join(cmds)


# (model, data, engines, target or reference, the source of (figure, wall s, command))
LIBRARY = [
    (
        "Bayesian logistic regression",
        "posteriordb sblrc-blr",
        "nuts",
        "posterior means/sds match the reference",
        lambda: _pdb("sblrc-blr"),
    ),
    (
        "eight schools (centered, noncentered)",
        "posteriordb",
        "nuts",
        "match the reference; divergences reported for centered",
        lambda: _pdb("eight_schools-eight_schools_centered", "eight_schools-eight_schools_noncentered"),
    ),
    (
        "linear / hierarchical regressions (kidiq, earnings, radon)",
        "posteriordb",
        "nuts",
        "match the reference",
        lambda: _pdb(
            "kidiq-kidscore_interaction",
            "kidiq-kidscore_momhsiq",
            "kidiq-kidscore_momiq",
            "earnings-log10earn_height",
            "earnings-logearn_height",
            "earnings-logearn_interaction",
            "radon_mn-radon_hierarchical_intercept_noncentered",
            "radon_mn-radon_pooled",
        ),
    ),
    (
        "GARCH, AR(K), Gaussian mixture, GP Poisson regression",
        "posteriordb",
        "nuts",
        "match the reference",
        lambda: _pdb("garch-garch11", "arK-arK", "low_dim_gauss_mix-low_dim_gauss_mix", "gp_pois_regr-gp_pois_regr"),
    ),
    (
        "BNN regression [D, 50, 1]",
        "UCI bostonHousing, 20 splits",
        "sgvb",
        "RMSE ≤ 3.0, NLL ≤ 2.55 (PBP 3.01 / 2.57)",
        lambda: _uci("vi_uci_bnn_boston", "bostonHousing"),
    ),
    (
        "VAE (z=40, 2×500)",
        "binarized MNIST",
        "sgvb, iwae",
        "test LL ≥ −89 nats",
        lambda: _best_mnist("vae", ("sgvb", "iwae")),
    ),
    ("IWAE (k=50)", "binarized MNIST", "iwae", "better than the VAE at equal epochs", _equal_epochs),
    (
        "planar / IAF flow VAE",
        "binarized MNIST",
        "sgvb",
        "better than the plain VAE at equal epochs",
        lambda: NOT_MEASURED,
    ),
    (
        "semi-supervised VAE (M2), 100 labels",
        "MNIST with labels",
        "sgvb + enumeration",
        "test error ≤ 12 % (Kingma et al. 2014: 11.97 %)",
        _m2,
    ),
    (
        "sigmoid belief net (3×200)",
        "binarized MNIST",
        "vimco, nvil",
        "test LL ≥ −100 nats",
        lambda: _best_mnist("sbn", ("vimco", "nvil", "rws")),
    ),
    ("LDA topic model", "AP corpus", "sgvb", "held-out perplexity ≤ scikit-learn's LDA", _lda),
    ("probabilistic matrix factorization", "MovieLens 100k", "sgvb, sghmc", "test RMSE ≤ 0.93", _pmf),
    (
        "exact GP regression (ARD)",
        "UCI bostonHousing",
        "nuts, map",
        "hyperparameters by NUTS and by map; a reference for SVGP",
        _gp,
    ),
    (
        "sparse variational GP (M=50)",
        "UCI bostonHousing, 20 splits",
        "sgvb",
        "RMSE 2.90 ± 0.40, NLL 2.52 ± 0.10 (ZhuSuan)",
        lambda: _uci("vi_uci_svgp", "bostonHousing"),
    ),
    (
        "GAN (DCGAN-style)",
        "MNIST",
        "gan, wgan-gp",
        "Fréchet distance against real and VAE samples",
        _gan,
    ),
]


def library_rows() -> list[str]:
    """The markdown section: one row per model of the library, measured or not."""
    out = ["### The model library (MISSION.md §5; issue 20)", "",
           "Each model's best measured figure on this machine beside its target; *not measured* where no "
           "results file exists yet. Wall time: fitting (NUTS: the whole run), in seconds.", "",
           "| model | data | engine | figure | target / reference | wall s | command |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for model, data, engine, target, source in LIBRARY:
        figure, wall, cmd = source()
        out.append(f"| {model} | {data} | {engine} | {figure} | {target} | {wall} | {f'`{cmd}`' if cmd else ''} |")
    return [*out, ""]
