"""Exact GP regression (``specs/gp_ard.zs``) on a UCI set's 20 splits: the hyperparameters by NUTS and
by map (their posterior mode), the test RMSE and log-likelihood per point on the original scale, from
the spec's ``generated:`` block (the exact predictive at ``X_test``); prints JSON.

The predictive density of a test point is the mean over draws of N(y | f_test, sd_test) (one draw for
map); the RMSE is of the mean of f_test over draws. Both are scaled back by the split's ``y_std``, as
``vi_uci_bnn.py`` reports them, so the rows compare with its BNN and SVGP rows.

python benchmarks/gp_uci.py                                   # bostonHousing: map on 20 splits, NUTS on 5
python benchmarks/gp_uci.py --engines map --splits 20 --datasets yacht
python benchmarks/gp_uci.py --quick                           # one split, a few iterations (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.posterior import derive  # noqa: E402


def split_data(folder, k: int, rows: int | None = None) -> tuple[dict, np.ndarray, float]:
    """(the spec's data, the test targets (standardised), y_std) of split ``k`` (``rows``: the first
    training rows only)."""
    train, test = load_data(f"{folder}:train_{k}"), load_data(f"{folder}:test_{k}")
    data = {"X": train["X"][:rows], "y": train["y"][:rows], "X_test": test["X"]}
    return data, np.asarray(test["y"], dtype=np.float64), float(train["y_std"])


def scores(f: np.ndarray, sd: np.ndarray, y: np.ndarray, y_std: float) -> dict:
    """RMSE of the mean prediction and mean log predictive density, on the original scale; f, sd [S, T]."""
    rmse = float(np.sqrt(np.mean((f.mean(0) - y) ** 2))) * y_std
    logp = -0.5 * ((y - f) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
    lpd = np.logaddexp.reduce(logp, axis=0) - math.log(f.shape[0])
    return {"rmse": rmse, "log_likelihood": float(lpd.mean() - math.log(y_std))}


def run_nuts(cm, data, y, y_std, args, seed) -> dict:
    t0 = time.perf_counter()
    result = cm.sample(data, "nuts", chains=args.chains, warmup=args.warmup, draws=args.draws, seed=seed,
                       progress=None)  # fmt: skip
    wall = time.perf_counter() - t0
    post = result.derived().posterior
    f, sd = (post[k].reshape(-1, post[k].shape[-1]) for k in ("f_test", "sd_test"))
    summary = result.summary()
    worst = max(summary[k]["r_hat"] for k in summary if k.startswith(("amplitude", "lengthscale", "sigma")))
    divergent = int(result.stat("divergent__").sum())
    return {**scores(f, sd, y, y_std), "wall_s": wall, "max_r_hat": worst, "divergences": divergent}


def run_map(cm, data, y, y_std, args, seed) -> dict:
    t0 = time.perf_counter()
    result = cm.fit(data, infer="map", steps=args.map_steps, lr=args.map_lr, seed=seed, draws=0, progress=False)
    wall = time.perf_counter() - t0
    prepared = cm.prepare_data(data)
    model = result.model
    with torch.no_grad():
        values = result.guide.sample_and_log_prob(prepared, (1,), None)[0]
    post = derive(model, prepared, {k: v[None] for k, v in values.items()}, predictive=False).posterior
    f, sd = (post[k].reshape(-1, post[k].shape[-1]) for k in ("f_test", "sd_test"))
    return {**scores(f, sd, y, y_std), "wall_s": wall}


def summarise(rows: list) -> dict:
    rmse, ll = np.array([r["rmse"] for r in rows]), np.array([r["log_likelihood"] for r in rows])
    n = len(rows)
    se = lambda a: float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else None  # noqa: E731
    return {"splits": n, "rmse_mean": float(rmse.mean()), "rmse_se": se(rmse), "ll_mean": float(ll.mean()),
            "ll_se": se(ll), "wall_s": float(sum(r["wall_s"] for r in rows)), "per_split": rows}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", nargs="+", default=["bostonHousing"])
    ap.add_argument("--engines", nargs="+", default=["map", "nuts"], choices=["map", "nuts"])
    ap.add_argument("--splits", type=int, default=20, help="splits for map")
    ap.add_argument("--nuts-splits", type=int, default=5, help="splits for NUTS (the first ones)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--draws", type=int, default=250)
    ap.add_argument("--map-steps", type=int, default=1000)
    ap.add_argument("--map-lr", type=float, default=0.05)
    ap.add_argument("--rows", type=int, default=None, help="the first training rows only")
    ap.add_argument("--quick", action="store_true", help="one split, 60 training rows, a few iterations (CI)")
    args = ap.parse_args()
    if args.quick:
        args.splits, args.nuts_splits, args.chains, args.warmup, args.draws, args.map_steps = 1, 1, 1, 20, 10, 20
        args.rows = 60
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(ROOT / "specs" / "gp_ard.zs")
    out = {"benchmark": "gp_uci", "machine": machine(), "command": command(), "chains": args.chains,
           "warmup": args.warmup, "draws": args.draws, "map_steps": args.map_steps, "map_lr": args.map_lr,
           "rows": args.rows, "results": []}  # fmt: skip
    for name in args.datasets:
        folder = SHARED / "uci" / name
        if not folder.exists():
            out["results"].append({"dataset": name, "skipped": "data not found"})
            continue
        for engine in args.engines:
            n = args.splits if engine == "map" else args.nuts_splits
            run = run_map if engine == "map" else run_nuts
            rows = []
            for k in range(n):
                data, y, y_std = split_data(folder, k, args.rows)
                rows.append(run(cm, data, y, y_std, args, seed=k + 1))
                print(json.dumps({"dataset": name, "engine": engine, "split": k, **rows[-1]}), file=sys.stderr)
            out["results"].append({"dataset": name, "engine": engine, **summarise(rows)})
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
