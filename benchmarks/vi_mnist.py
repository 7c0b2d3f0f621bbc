"""Deep generative models on binarized MNIST: VAE (sgvb), IWAE (k=50), SBN (vimco, nvil); prints JSON
with the test log-likelihood estimated by importance sampling (K particles).

    python benchmarks/vi_mnist.py --model vae --infer sgvb --epochs 100
    python benchmarks/vi_mnist.py --model vae --infer iwae --particles 50 --epochs 100
    python benchmarks/vi_mnist.py --model sbn --infer vimco --particles 50 --epochs 100
    python benchmarks/vi_mnist.py --model vae --epochs 300 --early-stop 20   # keep the best on the valid split
    python benchmarks/vi_mnist.py --model sbn --infer nvil --baseline learned --epochs 500 --out RUN
    python benchmarks/vi_mnist.py ... --out RUN --resume   # the same command continues an interrupted run
    python benchmarks/vi_mnist.py --quick       # a few steps on a slice (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.vi.evaluate import evaluate, rebind  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vae", choices=["vae", "conv_vae", "sbn"])
    ap.add_argument("--infer", default="sgvb")
    ap.add_argument("--particles", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", default="constant", help="constant | cosine | exponential")
    ap.add_argument("--eval-particles", type=int, default=1000)
    ap.add_argument("--eval-n", type=int, default=10000, help="test images evaluated")
    ap.add_argument(
        "--early-stop",
        type=int,
        default=None,
        metavar="K",
        help="score the valid split (10000 images) each epoch; stop after K epochs without a new best",
    )
    ap.add_argument("--valid-particles", type=int, default=1, help="importance samples of the validation score")
    ap.add_argument("--baseline", default="moving", help="nvil: moving | learned")
    ap.add_argument("--out", default=None)
    ap.add_argument("--resume", action="store_true", help="continue the run in --out (after an interruption)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    path = SHARED / "mnist" / "binarized_mnist.npz"
    if not path.exists():
        print(json.dumps({"benchmark": "vi_mnist", "skipped": f"{path} not found"}))
        return
    train, test = load_data(f"{path}:train"), load_data(f"{path}:test")
    valid = load_data(f"{path}:valid") if args.early_stop else None
    if args.quick:
        train = {"x": train["x"][:512]}
        valid = {"x": valid["x"][:128]} if valid else None
        args.steps, args.epochs, args.eval_particles, args.eval_n = 20, None, 10, 64
    test = {"x": test["x"][: args.eval_n]}
    cm = zsdsl.load(ROOT / "specs" / f"{args.model}.zs")
    t0 = time.perf_counter()
    kw = {"steps": args.steps} if args.steps else {"epochs": args.epochs}
    if valid is not None:
        kw.update(valid=valid, early_stop=args.early_stop, valid_particles=args.valid_particles)
    if args.baseline != "moving":
        kw["baseline"] = args.baseline
    result = cm.fit(train, infer=args.infer, particles=args.particles, lr=args.lr, schedule=args.schedule, out=args.out,
                    resume=args.resume, checkpoint_every=5000, **kw)  # fmt: skip
    fit_s = time.perf_counter() - t0
    data = cm.prepare_data(test)
    model, guide = rebind(cm, data, result)
    t1 = time.perf_counter()
    ev = evaluate(model, guide, data, particles=args.eval_particles, chunk=100, batch=100)
    print(json.dumps({
        "benchmark": "vi_mnist", "machine": machine(), "command": command(), "model": args.model, "infer": args.infer,
        "particles": result.config.particles, "epochs": args.epochs, "baseline": args.baseline,
        "lr": args.lr, "schedule": args.schedule, "steps": result.history[-1][0],
        "train_bound_per_image": result.final_objective / len(train["x"]),
        **_validation(result, args),
        "test_ll": ev["log_likelihood"], "test_ll_se": ev["log_likelihood_se"], "test_elbo": ev["elbo"],
        "eval_particles": args.eval_particles, "eval_n": ev["n"], "fit_s": fit_s, "eval_s": time.perf_counter() - t1,
    }, indent=2))  # fmt: skip


def _validation(result, args) -> dict:
    if not result.validation:
        return {}
    best = max(result.validation, key=lambda r: r[2])
    last_epoch = result.validation[-1][1] + 1  # records carry the 0-based epoch of their step
    return {"early_stop": args.early_stop, "valid_particles": args.valid_particles, "best_epoch": best[1] + 1,
            "best_valid": best[2], "stopped_epoch": last_epoch if result.stopped_step else None,
            "valid_curve": [round(r[2], 3) for r in result.validation]}  # fmt: skip


if __name__ == "__main__":
    main()
