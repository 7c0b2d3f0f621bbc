"""MCMC outputs: Stan-style CSV per chain, ArviZ InferenceData (NetCDF), adaptation results, and
the summary table (mean, mcse_mean, sd, mcse_sd, 5%, 50%, 95%, ess_bulk, ess_tail, r_hat) via ArviZ.

Element names are 0-based like the language and the InferenceData coordinates: ``theta[0]`` in
summaries. The chain CSVs keep Stan's own 1-based ``theta.1`` columns, so that Stan tooling
(``arviz.from_cmdstan``, CmdStanPy) reads them as it reads Stan's; ``read_run`` maps them back.
The CSVs and the summary hold the latents, the deterministics and the generated quantities.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np

from zsdsl.runtime.checkpoint import atomic_write_text
from zsdsl.runtime.posterior import flat_columns, write_inference_data

STAT_NAMES = ("lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__")


def write_outputs(result, run: Path) -> dict:
    """The chain CSVs (with the generated quantities), adaptation.json, posterior.nc and summary.json."""
    run.mkdir(parents=True, exist_ok=True)
    derived = result.derived()
    values = derived.reported()
    cols = flat_columns(values, stan=True)
    pot = result.potential  # which maths evaluated the gradients, and why (nothing chosen silently)
    for c, chain in enumerate(result.chains):
        path = run / f"chain_{c + 1}.csv"
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as fh:
            fh.write(f"# zsdsl {result.config.method}; step_size = {chain.step_size:.6g}\n")
            fh.write(f"# gradients = {pot.backend}: {pot.backend_reason}\n")
            writer = csv.writer(fh)
            writer.writerow([*STAT_NAMES, *cols])
            stats = [chain.stats[k].numpy() for k in STAT_NAMES]
            for i in range(chain.u.shape[0]):
                writer.writerow([*(f"{s[i]:.6g}" for s in stats), *(f"{cols[k][c, i]:.6g}" for k in cols)])
        tmp.replace(path)
    adaptation = {
        f"chain_{c + 1}": {"step_size": ch.step_size, "inv_metric": ch.inv_metric.tolist(), "wall_s": ch.wall_s}
        for c, ch in enumerate(result.chains)
    }
    adaptation["gradients"] = {"backend": pot.backend, "reason": pot.backend_reason}
    if result.config.method == "nuts":  # which code built the trees (the same draws either way)
        adaptation["nuts_tree"] = pot.nuts_tree(result.config.metric == "dense")[1]
    atomic_write_text(run / "adaptation.json", json.dumps(adaptation, indent=1) + "\n")
    idata = to_inference_data(result)
    try:
        write_inference_data(idata, run / "posterior.nc")
    except Exception as exc:  # NetCDF writing needs h5netcdf/netCDF4; the CSVs hold the draws anyway
        warnings.warn(f"could not write posterior.nc: {exc}", stacklevel=2)
    summary = summarize(flat_columns(values))
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=1) + "\n")
    return values


def to_inference_data(result):
    """The run's InferenceData: every group ArviZ knows that the run has (see ``posterior.inference_data``)."""
    from zsdsl.runtime.posterior import inference_data

    stats = _arviz_stats({k: result.stat(k).numpy() for k in STAT_NAMES})
    attrs = {"inference_library": "zsdsl", "method": result.config.method}
    pot = result.potential
    warmup = None
    chains = result.chains
    if getattr(result.config, "save_warmup", False) and chains[0].warmup_u is not None and len(chains[0].warmup_u):
        ws = {k: np.stack([c.warmup_stats[k].numpy() for c in chains]) for k in STAT_NAMES}
        warmup = (result.derived(warmup=True).posterior, _arviz_stats(ws))
    return inference_data(pot.model, pot.data, result.derived(), stats, attrs=attrs, warmup=warmup)


def _arviz_stats(stan: dict) -> dict:
    """Stan's sampler statistics ([C, S] arrays by Stan name) under ArviZ's names."""
    names = {"lp__": "lp", "accept_stat__": "acceptance_rate", "stepsize__": "step_size", "treedepth__": "tree_depth",
             "n_leapfrog__": "n_steps", "divergent__": "diverging", "energy__": "energy"}  # fmt: skip
    out = {names[k]: np.asarray(v) for k, v in stan.items()}
    out["diverging"] = out["diverging"].astype(bool)
    return out


def read_run(run: Path) -> tuple[dict, dict]:
    """Columns ``name[i]`` → [C, S] and the sampler statistics, from the chain CSVs."""
    files = sorted(run.glob("chain_*.csv"), key=lambda p: int(p.stem.split("_")[1]))
    if not files:
        raise FileNotFoundError(f"{run} holds no chain_*.csv files")
    chains = []
    for f in files:
        with open(f, newline="") as fh:
            rows = [r for r in csv.reader(ln for ln in fh if not ln.startswith("#"))]
        header, body = rows[0], np.array(rows[1:], dtype=np.float64)
        chains.append((header, body))
    header = chains[0][0]
    data = np.stack([b for _, b in chains])  # [C, S, K]
    cols = {}
    for j, name in enumerate(header):
        cols[_bracket(name)] = data[:, :, j]
    stats = {k: cols.pop(k) for k in STAT_NAMES if k in cols}
    return cols, stats


def _bracket(name: str) -> str:
    """Stan's ``theta.2.1`` (1-based) as the summary's ``theta[1,0]`` (0-based)."""
    if name.endswith("__") or "." not in name:
        return name
    base, *idx = name.split(".")
    return f"{base}[{','.join(str(int(i) - 1) for i in idx)}]"


def _scalar(v) -> float:
    """ArviZ's diagnostics return a 0-d value or, with some SciPy versions, a 1-element array."""
    return float(np.asarray(v, dtype=np.float64).reshape(-1)[0])


def _mcse_sd(x: np.ndarray) -> float:
    """Monte Carlo standard error of the sd ([chains, draws]): ArviZ's formula (the delta method on the
    variance, with the ESS of the squared deviations), written here because ``az.mcse(method="sd")``
    fails under NumPy 2.4 when numba is installed."""
    import arviz as az

    sq = (x - x.mean()) ** 2
    var = sq.mean()
    if x.size < 4 or var == 0:
        return float("nan")
    var_of_var = ((sq * sq).mean() - var * var) / _scalar(az.ess(sq, method="mean"))
    return float(np.sqrt(var_of_var / var / 4))


def summarize(cols: dict) -> dict:
    """Stan's summary per scalar column, computed with ArviZ's diagnostics."""
    import arviz as az

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, arr in cols.items():
            x = np.asarray(arr, dtype=np.float64)
            q5, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
            out[name] = {
                "mean": float(x.mean()),
                "mcse_mean": _scalar(az.mcse(x, method="mean")),
                "sd": float(x.std(ddof=1)),
                "mcse_sd": _mcse_sd(x),
                "5%": float(q5),
                "50%": float(q50),
                "95%": float(q95),
                "ess_bulk": _scalar(az.ess(x, method="bulk")),
                "ess_tail": _scalar(az.ess(x, method="tail")),
                "r_hat": _scalar(az.rhat(x)) if x.shape[0] > 1 else float("nan"),
            }
    return out


def diagnostics_warnings(stats: dict, summary: dict, max_depth: int = 10) -> list[str]:
    """Stan's post-sampling warnings: divergences, tree-depth hits, E-BFMI, R-hat, low ESS."""
    msgs = []
    div = int(stats["divergent__"].sum())
    if div:
        msgs.append(f"{div} of {stats['divergent__'].size} transitions diverged; consider a reparameterisation "
                    "(e.g. noncentered) or a higher --target-accept.")  # fmt: skip
    hits = int((stats["treedepth__"] >= max_depth).sum())
    if hits:
        msgs.append(f"{hits} transitions hit the maximum tree depth of {max_depth}.")
    for c, energy in enumerate(stats["energy__"]):
        bfmi = float(np.sum(np.diff(energy) ** 2) / np.sum((energy - energy.mean()) ** 2))
        if bfmi < 0.3:
            msgs.append(f"Chain {c + 1}: E-BFMI = {bfmi:.2f} < 0.3; the posterior may be poorly explored.")
    bad_rhat = [k for k, v in summary.items() if v["r_hat"] > 1.01]
    if bad_rhat:
        msgs.append(f"R-hat > 1.01 for {len(bad_rhat)} parameters (e.g. {bad_rhat[0]}); run longer chains.")
    low = [k for k, v in summary.items() if min(v["ess_bulk"], v["ess_tail"]) < 100 * stats["lp__"].shape[0]]
    if low:
        msgs.append(f"ESS below 100 per chain for {len(low)} parameters (e.g. {low[0]}).")
    return msgs


def rejection_warnings(chains) -> list[str]:
    """One line per reason a proposal was rejected (a failed ODE solve), with the counts per chain; NUTS
    took each as a divergent transition, as Stan does after its 'proposal is about to be rejected'."""
    reasons = sorted({r for c in chains for r in getattr(c, "rejections", {})})
    msgs = []
    for reason in reasons:
        counts = [c.rejections.get(reason, 0) for c in chains]
        per = ", ".join(f"chain {k + 1}: {n}" for k, n in enumerate(counts) if n)
        msgs.append(f"{sum(counts)} proposals rejected ({per}): {reason}. Each ended its trajectory as a divergent "
                    "transition; a few during warmup are usual, many after it bias the draws.")  # fmt: skip
    return msgs
