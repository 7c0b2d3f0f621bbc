"""Semi-supervised M2 (Kingma et al. 2014, "Semi-Supervised Learning with Deep Generative Models")
on MNIST with 100 labels (10 per class): sgvb with the spec's guide, the unlabelled class summed
out; prints JSON with the error of the guide's classifier argmax q(y | x) on the 10000 test images
and on the unlabelled training images.

    python benchmarks/vi_ssl_m2.py --epochs 50
    python benchmarks/vi_ssl_m2.py --epochs 300 --analytic-kl --out RUN   # then --resume after an interruption
    python benchmarks/vi_ssl_m2.py --curve RUN   # the test error of each epoch's checkpoint
    python benchmarks/vi_ssl_m2.py --diagnose RUN/checkpoints/step-N.pt   # what the classifier learned
    python benchmarks/vi_ssl_m2.py --quick       # a few steps on a slice (CI)

``--diagnose`` scores the first 2000 test images under a checkpoint: the error of q(y | x), the error of
the generative model's own classifier argmax_k ELBO(x, k) (each class's bound, 8 draws of z), their
agreement, the median spread of ELBO(x, k) over k, q's mean entropy and largest probability, and the
mean KL from q(y | x) to the model's posterior softmax_k ELBO(x, k).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

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
    ap.add_argument("--diagnose", default=None, metavar="CHECKPOINT")
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
    if args.diagnose:
        print(json.dumps(_diagnose(cm, Path(args.diagnose), train, test), indent=2))
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


def _class_bounds(model, guide, data, idx, particles: int = 8):
    """[10, B] ELBO(x, k) of unlabelled elements ``idx`` with the class fixed at k, and log q(y = k | x)."""
    bounds, log_q = [], []
    sub = {"m": idx, "n": torch.arange(data["x_l"].shape[0])}
    scale = data["x_u"].shape[0] / len(idx)  # the plate's N/B, in every term of it
    for k in range(10):
        given = {"y_u": torch.full((particles, len(idx)), k, dtype=torch.long)}
        values, (_, q_terms), _ = guide.sample_and_log_prob(data, (particles,), sub, per_site=True, keep="m",
                                                            values=given)  # fmt: skip
        _, p_terms = model.log_joint(values, data, sub, per_site=True, keep="m")
        local = sum(p_terms[s] for s in ("x_u", "z_u", "y_u")) - q_terms["z_u"]
        bounds.append(local.mean(0) / scale)
        log_q.append(q_terms["y_u"][0] / scale)
    return torch.stack(bounds), torch.stack(log_q)


def _diagnose(cm, checkpoint: Path, train: dict, test: dict, n: int = 2000) -> dict:
    data = _with_unlabelled(cm, train, test["x"][:n])
    labels = torch.as_tensor(test["y"][:n])
    model = cm.model(data, init_params=False)
    guide = make_guide(cm, model, data, "q", init_params=False)
    state = load_checkpoint(checkpoint)
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    torch.manual_seed(0)
    with torch.no_grad():
        parts = [_class_bounds(model, guide, data, torch.arange(a, min(a + 500, n))) for a in range(0, n, 500)]
    bounds, log_q = torch.cat([b for b, _ in parts], 1), torch.cat([q for _, q in parts], 1)
    q, generative = log_q.exp(), bounds.argmax(0)
    return {"benchmark": "vi_ssl_m2_diagnose", "machine": machine(), "command": command(), "step": int(state["step"]),
            "images": n, "q_error": float((log_q.argmax(0) != labels).double().mean()),
            "generative_error": float((generative != labels).double().mean()),
            "agreement": float((generative == log_q.argmax(0)).double().mean()),
            "bound_spread_median": float((bounds.max(0).values - bounds.min(0).values).median()),
            "q_entropy_mean": float(-(q * log_q).sum(0).mean()), "q_max_mean": float(q.max(0).values.mean()),
            "kl_q_to_model_posterior": float((q * (log_q - torch.log_softmax(bounds, 0))).sum(0).mean())}  # fmt: skip


if __name__ == "__main__":
    main()
