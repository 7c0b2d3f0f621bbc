"""NUTS from a far start on ARMA(1,1), zsdsl and Stan side by side: the language issue's stalled chain.

Every chain starts at theta = -1.25, phi = -1.94 (mu = 0.5, sigma = 1), where |theta| > 1 makes the
error recursion grow like 1.25^T: with T = 200 the potential is about 1e39, and the step size falls to
about 1e-22 early in warmup (in both samplers). Both samplers (4 chains, 1000 + 1000, warmup kept) run
``specs/arma11.zs`` and the same model as a Stan program on one simulated series (NumPy seed 7, mu 0.5,
phi 0.6, theta 0.3, sigma 1).
Per chain: the first warmup iteration whose step size exceeds 0.05 and the first with |theta| < 1
(out of the explosive region), the step size at some iterations, the wall time, divergences, and the
posterior means of both.

    OMP_NUM_THREADS=1 python benchmarks/arma_far_start.py > benchmarks/results/arma_far_start.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command, machine  # noqa: E402

FAR = {"mu": 0.5, "phi": -1.94, "theta": -1.25, "sigma": 1.0}
STAN = """
data { int<lower=1> T; vector[T] y; }
parameters { real mu; real phi; real theta; real<lower=0> sigma; }
model {
  vector[T] err;
  err[1] = y[1] - (mu + phi * mu);
  for (t in 2:T) err[t] = y[t] - (mu + phi * y[t - 1] + theta * err[t - 1]);
  mu ~ normal(0, 10);
  phi ~ normal(0, 2);
  theta ~ normal(0, 2);
  sigma ~ cauchy(0, 2.5);
  err ~ normal(0, sigma);
}
"""


def series(T: int) -> dict:
    rng = np.random.default_rng(7)
    mu, phi, theta, sigma = 0.5, 0.6, 0.3, 1.0
    e = rng.normal(0, sigma, T)
    y = np.zeros(T)
    y[0] = mu + phi * mu + e[0]
    for t in range(1, T):
        y[t] = mu + phi * y[t - 1] + theta * e[t - 1] + e[t]
    return {"T": T, "y": y.tolist()}


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _chain_rows(step: np.ndarray, theta: np.ndarray, divergent: np.ndarray, warmup: int) -> list[dict]:
    """step, theta, divergent: [chains, warmup + draws]."""
    return [{"first_step_over_0.05": _first(step[c, :warmup] > 0.05),
             "first_abs_theta_under_1": _first(np.abs(theta[c, :warmup]) < 1),
             "final_step": round(float(step[c, -1]), 4), "divergences": int(divergent[c, warmup:].sum()),
             "step_at": {i: float(f"{step[c, i]:.3g}") for i in (0, 1, 2, 5, 10, 25, 50, 75, 100, 150) if i < warmup}}
            for c in range(step.shape[0])]  # fmt: skip


def run_zsdsl(data: dict, sizes: dict) -> dict:
    import torch

    import zsdsl
    from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

    torch.set_default_dtype(torch.float64)
    t0 = time.perf_counter()
    cm = zsdsl.load(ROOT / "specs" / "arma11.zs")
    prepared = cm.load_data(data)
    cfg = SamplerConfig(**sizes, seed=1, init=FAR, save_warmup=True)
    result = sample(cm.model(prepared), prepared, cfg)
    wall = time.perf_counter() - t0
    stats = {k: np.stack([np.concatenate([c.warmup_stats[k].numpy(), c.stats[k].numpy()]) for c in result.chains])
             for k in ("stepsize__", "divergent__")}  # fmt: skip
    t = [s.name for s in result.potential.sites].index("theta")  # unconstrained = constrained (a real)
    theta = np.stack([np.concatenate([c.warmup_u[:, t].numpy(), c.u[:, t].numpy()]) for c in result.chains])
    means = {k: round(float(result.values()[k].mean()), 4) for k in FAR}
    return {"wall_s": round(wall, 1), "means": means,
            "chains": _chain_rows(stats["stepsize__"], theta, stats["divergent__"], sizes["warmup"])}  # fmt: skip


def run_stan(data: dict, sizes: dict) -> dict:
    import stan

    with contextlib.redirect_stdout(sys.stderr):  # PyStan's "Building..." is not this script's JSON
        posterior = stan.build(STAN, data=data, random_seed=1)
        t0 = time.perf_counter()
        fit = posterior.sample(num_chains=sizes["chains"], num_samples=sizes["draws"], num_warmup=sizes["warmup"],
                               init=[FAR] * sizes["chains"], save_warmup=True)  # fmt: skip
        wall = time.perf_counter() - t0
    C, W = sizes["chains"], sizes["warmup"]

    def per_chain(name: str) -> np.ndarray:  # PyStan's flat draws interleave the chains: [chains, warmup + draws]
        return np.asarray(fit[name]).reshape(-1, C).T

    theta, step, div = per_chain("theta"), per_chain("stepsize__"), per_chain("divergent__")
    assert (step[:, W:] == step[:, -1:]).all(), "the sampling phase's step size is constant in every chain"
    means = {k: round(float(per_chain(k)[:, W:].mean()), 4) for k in FAR}
    return {"sample_s": round(wall, 1), "means": means, "chains": _chain_rows(step, theta, div, W)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=200)
    ap.add_argument("--no-stan", action="store_true")
    ap.add_argument("--quick", action="store_true", help="1 chain of 100 + 100, no Stan.")
    args = ap.parse_args()
    sizes = {"chains": 1, "warmup": 100, "draws": 100} if args.quick else {"chains": 4, "warmup": 1000, "draws": 1000}
    data = series(args.T)
    out = {"benchmark": "arma_far_start", "command": command(), "machine": machine(), "T": args.T, "init": FAR,
           **sizes, "zsdsl": run_zsdsl(data, sizes)}  # fmt: skip
    if not (args.no_stan or args.quick):
        try:
            out["stan"] = run_stan(data, sizes)
        except ImportError:
            out["stan"] = "PyStan 3 is not installed (pip install -r benchmarks/requirements-peers.txt)"
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
