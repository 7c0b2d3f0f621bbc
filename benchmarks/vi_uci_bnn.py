"""Regression on the UCI 20-split protocol with sgvb; prints JSON (test RMSE and log-likelihood per
split, on the original scale, mean ± standard error over splits).

- ``--spec bnn_regression`` (default): the [D, 50, 1] BNN with the ``auto-normal`` guide, 4 particles,
  2000 Adam steps (lr 0.01, cosine), the guide's sds starting at 1e-5 (``--init-scale``; from 0.1 the
  mean-field fit prunes the network and underfits: Boston RMSE 3.55 at 0.1, 3.28 at 0.01, 2.84 at 1e-5);
- ``--spec svgp``: the sparse variational GP (M = 50 inducing points) with its guide ``q``.

python benchmarks/vi_uci_bnn.py --datasets bostonHousing concrete energy yacht wine-quality-red
python benchmarks/vi_uci_bnn.py --spec svgp --datasets bostonHousing
python benchmarks/vi_uci_bnn.py --quick     # one split, few steps (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.vi.evaluate import evaluate, rebind  # noqa: E402

# the fit settings per spec: guide and particles
SETTINGS = {"bnn_regression": {"guide": "auto-normal", "particles": 4}, "svgp": {"guide": "q", "particles": 1}}


def run_split(cm, folder, k: int, steps: int, draws: int, seed: int, **kw) -> dict:
    train = cm.prepare_data(load_data(f"{folder}:train_{k}"))
    test = cm.prepare_data(load_data(f"{folder}:test_{k}"))
    result = cm.fit(train, infer="sgvb", steps=steps, schedule="cosine", seed=seed,
                    **SETTINGS[cm.name], **kw)  # fmt: skip
    model, guide = rebind(cm, test, result)
    return evaluate(model, guide, test, particles=draws)["y"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="bnn_regression", choices=sorted(SETTINGS))
    ap.add_argument("--datasets", nargs="+", default=["bostonHousing"])
    ap.add_argument("--splits", type=int, default=20)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--init", default="zero", help="automatic guides' start: zero, uniform or sample")
    ap.add_argument("--init-scale", type=float, default=1e-5, help="automatic guides' starting sd")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.splits, args.steps, args.draws = 1, 50, 20
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cm = zsdsl.load(ROOT / "specs" / f"{args.spec}.zs")
    out = {"benchmark": "vi_uci_bnn", "machine": machine(), "command": command(), "spec": args.spec,
           "steps": args.steps, **SETTINGS[args.spec], "init": args.init,
           "init_scale": args.init_scale, "lr": args.lr, "results": []}  # fmt: skip
    for name in args.datasets:
        folder = SHARED / "uci" / name
        if not folder.exists():
            out["results"].append({"dataset": name, "skipped": "data not found"})
            continue
        t0 = time.perf_counter()
        # init moves automatic guides only; the svgp spec's guide block ignores it
        rows = [run_split(cm, folder, k, args.steps, args.draws, seed=k, lr=args.lr, init=args.init,
                          init_scale=args.init_scale)
                for k in range(args.splits)]  # fmt: skip
        rmse = torch.tensor([r["rmse"] for r in rows])
        ll = torch.tensor([r["log_likelihood"] for r in rows])
        n = len(rows)
        out["results"].append({
            "dataset": name, "splits": n,
            "rmse_mean": float(rmse.mean()), "rmse_se": float(rmse.std() / math.sqrt(n)) if n > 1 else None,
            "ll_mean": float(ll.mean()), "ll_se": float(ll.std() / math.sqrt(n)) if n > 1 else None,
            "wall_s": time.perf_counter() - t0,
        })  # fmt: skip
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
