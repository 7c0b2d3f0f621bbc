"""Sample quality of the implicit model ``specs/dcgan.zs`` (``--infer gan`` and ``wgan-gp``) against the
VAE (``specs/vae.zs``, sgvb) and against real test images, on MNIST's grey levels; prints JSON.

Two figures per sample set of ``--n`` images, both in the feature space of ``mnist_classifier.py``
(a CNN trained here on MNIST's labels, no downloaded weights):

- the **Fréchet distance** (Heusel et al. 2017's FID, with this classifier's 128 features in place of
  Inception's) to the features of ``--n`` training images: |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½);
- the classifier's **confidence**, its mean largest class probability, and the **class entropy** of
  its predicted labels (log 10 = 2.30 when every digit is drawn equally often; lower: modes missed).

The real test images give the floor of both. The VAE's samples are its decoder's means
sigmoid(decoder(z)), z from the prior. The GANs' last sample grid is copied to
``results/gan_mnist_<infer>_grid.png``.

python benchmarks/gan_mnist.py --epochs 5 --vae-epochs 5
python benchmarks/gan_mnist.py --quick      # a few steps (CI)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402
from mnist_classifier import load_or_train, mnist  # noqa: E402

import zsdsl  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    # 1e-6 on the diagonals: a ReLU feature that is zero on every image makes both covariances singular
    ridge = 1e-6 * np.eye(a.shape[1])
    s1, s2 = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = linalg.sqrtm(s1 @ s2).real  # the imaginary part is round-off
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def scores(classifier, images: torch.Tensor, reference: np.ndarray) -> dict:
    with torch.no_grad():
        feats = torch.cat([classifier.features(b) for b in images.split(1000)])
        probs = torch.softmax(classifier.head(feats), 1)
    counts = torch.bincount(probs.argmax(1), minlength=10).double()
    share = counts / counts.sum()
    entropy = float(-(share[share > 0] * share[share > 0].log()).sum())
    return {"frechet": frechet(feats.numpy().astype(np.float64), reference),
            "confidence": float(probs.max(1).values.mean()), "class_entropy": entropy, "n": len(images)}  # fmt: skip


def gan_samples(infer: str, x: torch.Tensor, epochs: int | None, steps: int | None, n: int, seed: int, keep_grid=True):
    cm = zsdsl.load(ROOT / "specs" / "dcgan.zs")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kw = {"steps": steps} if steps else {"epochs": epochs}
        result = cm.fit({"x": x}, infer=infer, seed=seed, out=Path(tmp) / "run", progress=False, **kw)
        fit_s = time.perf_counter() - t0
        if result.grids and keep_grid:  # (not from --quick's few steps)
            shutil.copy(result.grids[-1], RESULTS / f"gan_mnist_{infer}_grid.png")
    last = result.history[-1]
    return result.draw(n, seed=seed + 1), {"fit_s": fit_s, "steps": last[0], "loss_critic": last[2],
                                            "loss_generator": last[3]}  # fmt: skip


def vae_samples(x: torch.Tensor, epochs: int | None, steps: int | None, n: int, seed: int):
    cm = zsdsl.load(ROOT / "specs" / "vae.zs")
    t0 = time.perf_counter()
    kw = {"steps": steps} if steps else {"epochs": epochs}
    result = cm.fit({"x": x}, infer="sgvb", seed=seed, draws=0, progress=False, **kw)
    fit_s = time.perf_counter() - t0
    torch.manual_seed(seed + 1)
    with torch.no_grad():  # the decoder's means at prior draws (its Bernoulli draws would be binary)
        means = torch.sigmoid(result.model.net_decoder(torch.randn(n, 40)))
    return means, {"fit_s": fit_s, "steps": result.history[-1][0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--infer", nargs="+", default=["gan", "wgan-gp"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--vae-epochs", type=int, default=5)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not (SHARED / "mnist" / "mnist.npz").exists():
        print(json.dumps({"benchmark": "gan_mnist", "skipped": "../shared/data/mnist/mnist.npz not found"}))
        return
    steps = 3 if args.quick else None
    n = 500 if args.quick else args.n
    classifier, made = load_or_train(quick=args.quick)
    x, _, xt, _ = mnist()
    if args.quick:
        x = x[:2000]
    reference = torch.cat([classifier.features(b) for b in x[:n].split(1000)]).detach().numpy().astype(np.float64)
    out = {"benchmark": "gan_mnist", "machine": machine(), "command": command(), "classifier": made,
           "reference": f"{n} training images", "sets": {}}  # fmt: skip
    out["sets"]["real test images"] = scores(classifier, xt[:n], reference)
    for infer in args.infer:
        images, fit = gan_samples(infer, x, args.epochs, steps, n, args.seed, keep_grid=not args.quick)
        out["sets"][f"dcgan {infer}, {args.epochs} epochs"] = {**scores(classifier, images, reference), **fit}
    images, fit = vae_samples(x, args.vae_epochs, steps, n, args.seed)
    out["sets"][f"vae sgvb, {args.vae_epochs} epochs"] = {**scores(classifier, images, reference), **fit}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
