"""Semi-supervised M2 (Kingma et al. 2014, "Semi-Supervised Learning with Deep Generative Models")
on MNIST with 100 labels (10 per class): sgvb with the spec's guide, the unlabelled class summed
out; prints JSON with the error of the guide's classifier argmax q(y | x) on the 10000 test images
and on the unlabelled training images.

    python benchmarks/vi_ssl_m2.py --epochs 50
    python benchmarks/vi_ssl_m2.py --epochs 300 --analytic-kl --out RUN   # then --resume after an interruption
    python benchmarks/vi_ssl_m2.py --curve RUN   # the test error of each epoch's checkpoint
    python benchmarks/vi_ssl_m2.py --quick       # a few steps on a slice (CI)
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
from zsdsl.runtime.checkpoint import load_checkpoint  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.vi.evaluate import classification_error, rebind  # noqa: E402
from zsdsl.runtime.vi.guides import make_guide  # noqa: E402

FIELDS = ("x_l", "y_l", "x_u", "N_total")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--analytic-kl", action="store_true", help="closed-form KL for z (as Kingma et al.)")
    ap.add_argument("--out", default=None, help="run directory (checkpoints every epoch; --resume continues it)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--curve", default=None, metavar="RUN", help="test error of each checkpoint of RUN")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    path = SHARED / "mnist" / "mnist.npz"
    if not path.exists():
        print(json.dumps({"benchmark": "vi_ssl_m2", "skipped": f"{path} not found"}))
        return
    train, test = load_data(f"{path}:train-ssl100"), load_data(f"{path}:test")
    if args.quick:
        train["x_u"], train["labels_u"] = train["x_u"][:500], train["labels_u"][:500]
        test = {"x": test["x"][:200], "y": test["y"][:200]}
        args.steps, args.epochs = 10, None
    cm = zsdsl.load(ROOT / "specs" / "ssvae_m2.zs")
    kw = {"steps": args.steps} if args.steps else {"epochs": args.epochs}
    t0 = time.perf_counter()
    if args.curve:
        print(json.dumps(_curve(cm, Path(args.curve), train, test), indent=2))
        return
    fields = {k: train[k] for k in FIELDS}
    every = -(-len(train["x_u"]) // cm.model_class.plate_subsample["m"])  # steps an epoch
    result = cm.fit(fields, infer="sgvb", lr=args.lr, seed=args.seed, out=args.out, resume=args.resume,
                    analytic_kl=args.analytic_kl, checkpoint_every=every if args.out else 10**9, keep=10**6,
                    **kw)  # fmt: skip
    fit_s = time.perf_counter() - t0
    errors = {}
    for name, x, y in (("test", test["x"], test["y"]), ("unlabelled", train["x_u"], train["labels_u"])):
        data = _with_unlabelled(cm, train, x)
        model, guide = rebind(cm, data, result)
        errors[name] = classification_error(model, guide, data, "y_u", y)["error"]
    print(json.dumps({
        "benchmark": "vi_ssl_m2", "machine": machine(), "command": command(), "labels": len(train["y_l"]),
        "epochs": args.epochs, "steps": result.history[-1][0], "lr": args.lr, "analytic_kl": args.analytic_kl,
        "final_objective": result.final_objective,
        "test_error": errors["test"], "unlabelled_error": errors["unlabelled"], "test_n": len(test["y"]),
        "fit_s": fit_s,
    }, indent=2))  # fmt: skip


def _with_unlabelled(cm, train: dict, x) -> dict:
    """The training labels with images ``x`` as the unlabelled plate (whose classes are scored)."""
    return cm.prepare_data({"x_l": train["x_l"], "y_l": train["y_l"], "x_u": x, "N_total": train["N_total"]})


def _curve(cm, run: Path, train: dict, test: dict) -> dict:
    """The test error of every checkpoint a run kept (one an epoch with --out)."""
    data = _with_unlabelled(cm, train, test["x"])
    model = cm.model(data)
    guide = make_guide(cm, model, data, "q")
    steps, errors = [], []
    for ck in sorted((run / "checkpoints").glob("step-*.pt")):
        state = load_checkpoint(ck)
        model.load_state_dict(state["model"])
        guide.load_state_dict(state["guide"])
        steps.append(int(state["step"]))
        errors.append(classification_error(model, guide, data, "y_u", test["y"])["error"])
    return {"benchmark": "vi_ssl_m2_curve", "machine": machine(), "command": command(), "run": str(run),
            "steps": steps, "test_error": errors}  # fmt: skip


if __name__ == "__main__":
    main()
