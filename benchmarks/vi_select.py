"""Early stopping after the fact, for a run on binarized MNIST that kept its checkpoints: score each
checkpoint on the valid split with the metric ``fit --valid`` uses (importance sampling with
``--valid-particles``, a fixed seed), evaluate the best on the test split (IS, K particles) and
print JSON in vi_mnist.py's format.

    zsdsl fit specs/vae.zs --data ../shared/data/mnist/binarized_mnist.npz:train --infer iwae \\
        --particles 5 --epochs 100 --checkpoint-every 782 --keep 1000 --out runs/iwae5
    python benchmarks/vi_select.py runs/iwae5 --valid-particles 5
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.checkpoint import load_checkpoint, read_config  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.vi.evaluate import evaluate  # noqa: E402
from zsdsl.runtime.vi.guides import make_guide  # noqa: E402
from zsdsl.runtime.vi.train import resume_config  # noqa: E402
from zsdsl.runtime.vi.validation import Validator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--valid-particles", type=int, default=1)
    ap.add_argument("--eval-particles", type=int, default=1000)
    ap.add_argument("--eval-n", type=int, default=10000, help="test images evaluated")
    args = ap.parse_args()
    path = SHARED / "mnist" / "binarized_mnist.npz"
    config = resume_config(args.run)
    config.valid_particles = args.valid_particles
    cm = zsdsl.load(config.spec)
    valid = cm.prepare_data(load_data(f"{path}:valid"))
    test = cm.prepare_data({"x": load_data(f"{path}:test")["x"][: args.eval_n]})
    validator = Validator(cm, valid, config, every=1)
    model = cm.model(test)
    guide = make_guide(cm, model, test, config.guide)
    curve, t0 = [], time.perf_counter()
    train_n = 50000  # the binarized MNIST training split, when the run was sized in steps
    total = read_config(args.run).get("total_steps")
    steps_per_epoch = total // config.epochs if config.epochs and total else -(-train_n // model.plate_subsample["n"])
    for ck in sorted((args.run / "checkpoints").glob("step-*.pt")):
        state = load_checkpoint(ck)
        model.load_state_dict(state["model"])
        guide.load_state_dict(state["guide"])
        curve.append((int(state["step"]), validator.score(model, guide)))
    best_step, best_valid = max(curve, key=lambda c: c[1])
    state = load_checkpoint(args.run / "checkpoints" / f"step-{best_step:09d}.pt")
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    ev = evaluate(model.eval(), guide.eval(), test, particles=args.eval_particles, chunk=100, batch=100)
    with open(args.run / "metrics.csv", newline="") as fh:
        fit_s = float(list(csv.DictReader(fh))[-1]["wall_s"])
    print(json.dumps({
        "benchmark": "vi_mnist", "machine": machine(), "command": command(), "model": Path(config.spec).stem,
        "infer": config.infer, "particles": config.particles, "lr": config.lr, "schedule": config.schedule,
        "steps": best_step, "early_stop": "checkpoints", "valid_particles": args.valid_particles,
        "best_epoch": best_step // steps_per_epoch, "best_valid": best_valid,
        "stopped_epoch": curve[-1][0] // steps_per_epoch, "valid_curve": [round(v, 3) for _, v in curve],
        "valid_steps": [s for s, _ in curve], "test_ll": ev["log_likelihood"], "test_ll_se": ev["log_likelihood_se"],
        "test_elbo": ev["elbo"], "eval_particles": args.eval_particles, "eval_n": ev["n"], "fit_s": fit_s,
        "select_eval_s": time.perf_counter() - t0,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
