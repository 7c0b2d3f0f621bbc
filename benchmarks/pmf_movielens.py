"""PMF (``specs/pmf.zs``) on MovieLens 100k: test RMSE on a fixed 90/10 split, by sgvb and by SGHMC; prints JSON.

The ratings are read from ``../shared/data/movielens/ml100k.csv.gz`` (research use only: never copied
into the project; the split lives in a temporary folder). The split: a permutation of the 100,000
ratings by ``numpy.random.default_rng(0)``, the first 90 % for training. Ratings are centred at the
training mean (the spec has no intercept; the RMSE is on the original 1-5 scale). The RMSE is of the
posterior predictive mean: for sgvb, the mean of P[u]·Q[i] over ``--draws`` guide draws; for SGHMC, over
the kept draws. Predictions are also reported clipped to [1, 5].

SGHMC starts at the sgvb fit's mean (``init=``, as Salakhutdinov & Mnih 2008 start BPMF's Gibbs sampler
at the MAP fit): from a random start its small steps stay at the saddle at P = Q = 0 (lr 1e-5: RMSE 1.129,
the mean-only baseline) and larger ones diverge (lr 3e-5: -inf at iteration 6). Its friction is low
(0.02): with more (0.1, 0.5) the chain moves less in its 41,000 iterations and predicts worse.

python benchmarks/pmf_movielens.py                      # sgvb and sghmc
python benchmarks/pmf_movielens.py --quick              # a few steps (CI)
python benchmarks/pmf_movielens.py --write-split DIR     # DIR/train.json, DIR/test.json for zsdsl fit/evaluate

(keep DIR out of any repository: the ratings may not be redistributed).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402

DATA = SHARED / "movielens" / "ml100k.csv.gz"


def split(seed: int = 0, train_fraction: float = 0.9) -> tuple[dict, dict, float]:
    """(train, test, mean): zero-based user and item indices, ratings centred at the training mean."""
    with gzip.open(DATA, "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",", skiprows=1, dtype=np.int64)
    user, item, rating = rows[:, 0] - 1, rows[:, 1] - 1, rows[:, 2].astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(rating))
    cut = int(train_fraction * len(rating))
    tr, te = order[:cut], order[cut:]
    mean = float(rating[tr].mean())
    sizes = {"U": int(user.max()) + 1, "I": int(item.max()) + 1}

    def part(idx):
        return {"user": user[idx], "item": item[idx], "rating": rating[idx] - mean, **sizes}

    return part(tr), part(te), mean


def write_split(folder: Path, train: dict, test: dict, mean: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("test", test)):
        plain = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in part.items()}
        (folder / f"{name}.json").write_text(json.dumps(plain))
    print(f"wrote {folder}/train.json and test.json (ratings centred at the training mean {mean:.6f})")


def rmse(pred: np.ndarray, test: dict, mean: float) -> dict:
    truth = test["rating"] + mean
    full = pred + mean
    return {"rmse": float(np.sqrt(np.mean((full - truth) ** 2))),
            "rmse_clipped": float(np.sqrt(np.mean((np.clip(full, 1, 5) - truth) ** 2)))}  # fmt: skip


def predicted(P: torch.Tensor, Q: torch.Tensor, test: dict, chunk: int = 50) -> np.ndarray:
    """The mean over draws of P[u]·Q[i] for the test pairs (P [S, U, K], Q [S, I, K])."""
    u, i = torch.as_tensor(test["user"]), torch.as_tensor(test["item"])
    total = torch.zeros(len(u), dtype=torch.float64)
    for lo in range(0, P.shape[0], chunk):
        total += (P[lo : lo + chunk][:, u] * Q[lo : lo + chunk][:, i]).sum(-1).sum(0)
    return (total / P.shape[0]).numpy()


def run_sgvb(cm, train, test, mean, args) -> tuple[dict, dict]:
    """(the result row, the fit's mean of every latent: SGHMC's start)."""
    t0 = time.perf_counter()
    result = cm.fit(train, infer="sgvb", guide="auto-normal", steps=args.steps, lr=args.lr, schedule="cosine",
                    particles=1, seed=args.seed, init_scale=args.init_scale, draws=0, progress=False)  # fmt: skip
    fit_s = time.perf_counter() - t0
    with torch.no_grad():
        draws = result.guide.sample_and_log_prob(cm.prepare_data(train), (args.draws,), None)[0]
    out = rmse(predicted(draws["P"], draws["Q"], test, chunk=50), test, mean)
    fit_mean = {name: value.mean(0).tolist() for name, value in draws.items()}
    return {"engine": "sgvb", "steps": args.steps, "lr": args.lr, "init_scale": args.init_scale, "draws": args.draws,
            **out, "fit_s": round(fit_s, 1), "final_elbo": float(result.history[-1][2])}, fit_mean  # fmt: skip


def run_sghmc(cm, train, test, mean, args, init: dict) -> dict:
    t0 = time.perf_counter()
    result = cm.sample(train, "sghmc", chains=1, warmup=args.burnin, draws=args.sg_draws, thin=args.thin,
                       lr=args.sg_lr, friction=args.friction, seed=args.seed, init=init,
                       progress=None)  # fmt: skip
    fit_s = time.perf_counter() - t0
    values = result.latents()
    P, Q = values["P"].flatten(0, 1), values["Q"].flatten(0, 1)
    out = rmse(predicted(P, Q, test), test, mean)
    return {"engine": "sghmc", "burnin": args.burnin, "draws": args.sg_draws, "thin": args.thin, "lr": args.sg_lr,
            "friction": args.friction, "init": "the sgvb fit's mean",
            **out, "fit_s": round(fit_s, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", nargs="+", default=["sgvb", "sghmc"])
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--init-scale", type=float, default=0.01)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--burnin", type=int, default=1000)
    ap.add_argument("--sg-draws", type=int, default=2000)
    ap.add_argument("--thin", type=int, default=20)
    ap.add_argument("--sg-lr", type=float, default=3e-6)
    ap.add_argument("--friction", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spec", default=str(ROOT / "specs" / "pmf.zs"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write-split", default=None, metavar="DIR", help="write the split as JSON there and stop")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.draws, args.burnin, args.sg_draws, args.thin = 30, 5, 20, 20, 5
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(args.spec)
    train, test, mean = split()
    if args.write_split:
        write_split(Path(args.write_split), train, test, mean)
        return
    out = {"benchmark": "pmf_movielens", "machine": machine(), "command": command(), "split": "90/10, rng 0",
           "train_mean": mean, "n_train": len(train["rating"]), "n_test": len(test["rating"]),
           "baseline_rmse_mean": float(np.sqrt(np.mean(test["rating"] ** 2))), "results": []}  # fmt: skip
    init = None  # SGHMC's start: the sgvb fit's mean
    for engine in args.engines:
        if engine == "sgvb":
            row, init = run_sgvb(cm, train, test, mean, args)
        elif init is None:
            raise SystemExit("sghmc starts at the sgvb fit's mean: give --engines sgvb sghmc")
        else:
            row = run_sghmc(cm, train, test, mean, args, init)
        out["results"].append(row)
        print(json.dumps(row), file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
