"""Microseconds per log-density + gradient evaluation on the unconstrained vector (the HMC/NUTS hot
path): zsdsl's ``Potential.value_and_grad_np`` vs the same density written by hand in PyTorch, both
taking and returning float64 NumPy vectors as the sampler does. zsdsl's figure is its default path
(``backend`` and ``reason``: the compiler's emitted NumPy value-and-gradient code where it covers the
model, else PyTorch autograd); ``zsdsl_torch_us`` is its PyTorch autograd path on the same model.
``--previous DIR`` also runs this script from another checkout of zsdsl (e.g. the commit before a change,
``git worktree add DIR COMMIT``) in a subprocess right before this one, and reports its ``zsdsl_us`` as
``previous_us`` beside ours (``zsdsl_over_previous``).

Models: eight schools (noncentered), logistic regression (N=5000, D=25 synthetic, seed 0) and
posteriordb's radon hierarchical-intercept model (85 counties, 919 houses). Both sides are timed
in this process, interleaved, on the same points; each figure is the median over rounds.

    python benchmarks/gradient.py
    python benchmarks/gradient.py --quick
    python benchmarks/gradient.py --previous /tmp/prev   # against an older checkout, back to back
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.mcmc.potential import Potential  # noqa: E402

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def normal_lpdf(x, loc, scale):
    z = (x - loc) / scale
    return -0.5 * z * z - torch.log(torch.as_tensor(scale)) - HALF_LOG_2PI


def eight_schools(data):
    y, sigma = data["y"], data["sigma"]

    def log_density(u):
        mu, log_tau, theta_trans = u[0], u[1], u[2:]
        tau = log_tau.exp()
        lp = normal_lpdf(mu, 0.0, 5.0)
        lp = lp + math.log(2 / (math.pi * 5.0)) - torch.log1p((tau / 5.0) ** 2) + log_tau  # half-Cauchy + Jacobian
        lp = lp + normal_lpdf(theta_trans, 0.0, 1.0).sum()
        return lp + normal_lpdf(y, mu + tau * theta_trans, sigma).sum()

    return log_density


def logreg(data):
    X, y = data["X"], data["y"].to(torch.get_default_dtype())
    D = X.shape[1]

    def log_density(u):
        w, b = u[:D], u[D]
        logits = X @ w + b
        ll = -F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        return normal_lpdf(w, 0.0, 1.0).sum() + normal_lpdf(b, 0.0, 1.0) + ll

    return log_density


def radon(data):
    J = int(data["J"])
    idx = data["county_idx"].long() - 1
    x1, x2, y = data["log_uppm"], data["floor_measure"], data["log_radon"]

    def log_density(u):
        alpha_raw, beta, mu_alpha = u[:J], u[J : J + 2], u[J + 2]
        ls_alpha, ls_y = u[J + 3], u[J + 4]
        s_alpha, s_y = ls_alpha.exp(), ls_y.exp()
        lp = normal_lpdf(alpha_raw, 0.0, 1.0).sum() + normal_lpdf(beta, 0.0, 10.0).sum()
        lp = lp + normal_lpdf(mu_alpha, 0.0, 10.0)
        # Stan semantics: a declared lower bound truncates the prior without renormalising it
        lp = lp + normal_lpdf(s_alpha, 0.0, 1.0) + ls_alpha + normal_lpdf(s_y, 0.0, 1.0) + ls_y
        alpha = mu_alpha + s_alpha * alpha_raw
        mean = alpha[idx] + x1 * beta[0] + x2 * beta[1]
        return lp + normal_lpdf(y, mean, s_y).sum()

    return log_density


def synthetic_logreg(N=5000, D=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=torch.float64)
    w = torch.randn(D, generator=g, dtype=torch.float64) * 0.5
    y = torch.bernoulli(torch.sigmoid(X @ w), generator=g).long()
    return {"N": N, "D": D, "X": X.tolist(), "y": y.tolist()}


def cases():
    out = [("eight_schools_noncentered", ROOT / "specs" / "eight_schools_noncentered.zs",
            load_data(ROOT / "specs" / "data" / "eight_schools.json"), eight_schools),
           ("logreg", ROOT / "specs" / "logistic_regression.zs", synthetic_logreg(), logreg)]  # fmt: skip
    radon_data = SHARED / "posteriordb" / "radon_mn-radon_hierarchical_intercept_noncentered" / "data.json"
    if radon_data.exists():
        spec = ROOT / "specs" / "posteriordb" / "radon_mn-radon_hierarchical_intercept_noncentered.zs"
        out.append(("radon_hierarchical_intercept_noncentered", spec, load_data(radon_data), radon))
    return out


def hand_value_and_grad(log_density):
    """What NUTS calls per leapfrog: a float64 NumPy vector in, (value, gradient) out."""

    def vg(z):
        u = torch.from_numpy(z).requires_grad_(True)
        U = -log_density(u)
        (g,) = torch.autograd.grad(U, u)
        return U.item(), g.numpy()

    return vg


def _previous(args) -> dict:
    """model -> zsdsl_us from this benchmark run by another checkout (its own zsdsl on the path)."""
    import os
    import subprocess

    root = Path(args.previous).resolve()
    cmd = [sys.executable, str(root / "benchmarks" / "gradient.py"), "--rounds", str(args.rounds),
           "--per-round", str(args.per_round)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(root), ZSDSL_SHARED=str(SHARED.parent))  # the same data as ours
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=root).stdout
    return {r["model"]: r["zsdsl_us"] for r in json.loads(out.strip().splitlines()[-1])["results"]}


def _describe(path: str) -> str:
    """The commit another checkout is at (for the report), e.g. ``commit 75f3a69``."""
    import subprocess

    head = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"commit {head.stdout.strip()}" if head.returncode == 0 else path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--per-round", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--previous", help="another zsdsl checkout to time first, in a subprocess")
    args = ap.parse_args()
    previous = _previous(args) if args.previous else {}
    if args.quick:
        args.rounds, args.per_round = 2, 5
    torch.set_default_dtype(torch.float64)  # what `zsdsl sample` uses
    results = []
    for name, spec, raw, make_hand in cases():
        cm = zsdsl.load(spec)
        data = cm.prepare_data(raw)
        potential = Potential(cm.model(data), data)
        hand = hand_value_and_grad(make_hand(data))
        u = np.random.default_rng(1).normal(0, 0.5, potential.dim)
        (Uz, gz), (Uh, gh) = potential.value_and_grad_np(u), hand(u)
        agree = abs(Uz - Uh) <= 1e-8 * max(1.0, abs(Uh)) and np.allclose(gz, gh, rtol=1e-8, atol=1e-8)
        # zsdsl's default path (NumPy for the models it covers) and its PyTorch autograd path
        fns = {"zsdsl": potential.value_and_grad_np, "zsdsl_torch": potential._torch_value_and_grad, "torch": hand}
        times = {k: [] for k in fns}
        for fn in fns.values():
            for _ in range(max(5, args.per_round // 10)):
                fn(u)
        for _ in range(args.rounds):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                for _ in range(args.per_round):
                    fn(u)
                times[k].append((time.perf_counter() - t0) / args.per_round * 1e6)
        z, t, zt = (statistics.median(times[k]) for k in ("zsdsl", "torch", "zsdsl_torch"))
        results.append({"model": name, "dim": potential.dim, "zsdsl_us": round(z, 2), "torch_us": round(t, 2),
                        "ratio": round(z / t, 3), "backend": potential.backend, "reason": potential.backend_reason,
                        "zsdsl_torch_us": round(zt, 2), "zsdsl_torch_ratio": round(zt / t, 3),
                        "same_value_and_gradient": bool(agree)})  # fmt: skip
        if name in previous:
            results[-1].update(previous_us=previous[name], zsdsl_over_previous=round(z / previous[name], 3))
    print(json.dumps({"benchmark": "gradient", "machine": machine(), "dtype": "float64", "rounds": args.rounds,
                      "previous": _describe(args.previous) if args.previous else None,
                      "evals_per_round": args.per_round, "results": results,
                      "peers": {"note": "Pyro/NumPyro potentials not measured yet"}}))  # fmt: skip


if __name__ == "__main__":
    main()
