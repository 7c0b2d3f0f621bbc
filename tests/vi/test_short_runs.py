"""Short fits of the library's deep models on slices of the shared datasets: the objective must
improve past stated thresholds (full runs and their figures live in benchmarks/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zsdsl
from zsdsl.runtime.data import load_data

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
MNIST = SHARED / "mnist" / "binarized_mnist.npz"
BOSTON = SHARED / "uci" / "bostonHousing"

needs_mnist = pytest.mark.skipif(not MNIST.exists(), reason="shared MNIST not present")


@pytest.fixture(scope="module")
def images():
    return {"x": load_data(f"{MNIST}:train")["x"][:1000]}


@needs_mnist
@pytest.mark.parametrize(
    "spec, infer, particles, steps, threshold",
    [
        # per-image bounds at random init are about -540 (VAE) and -380 (SBN); measured after these
        # steps: VAE -192 (150 steps), SBN vimco -196 and nvil -214 (100 steps); thresholds leave room.
        ("vae", "sgvb", None, 100, -230.0),
        ("sbn", "vimco", 5, 100, -260.0),
        ("sbn", "nvil", None, 100, -270.0),
    ],
)
def test_deep_models_improve(images, spec, infer, particles, steps, threshold):
    torch.manual_seed(0)
    cm = zsdsl.load(ROOT / "specs" / f"{spec}.zs")
    r = cm.fit(images, infer=infer, particles=particles, steps=steps, lr=1e-3, seed=0)
    per_image = [h[2] / 1000 for h in r.history]
    assert per_image[-1] > threshold, per_image
    assert per_image[-1] > per_image[0] + 10


@pytest.mark.skipif(not BOSTON.exists(), reason="shared UCI data not present")
@pytest.mark.slow  # about 11 s: the default run stays under 10 minutes
def test_bnn_regression_on_boston_split_0():
    from zsdsl.runtime.vi.evaluate import evaluate, rebind

    cm = zsdsl.load(ROOT / "specs" / "bnn_regression.zs")
    train = cm.prepare_data(load_data(f"{BOSTON}:train_0"))
    test = cm.prepare_data(load_data(f"{BOSTON}:test_0"))
    r = cm.fit(train, guide="auto-normal", particles=4, steps=1500, lr=0.01, schedule="cosine", seed=0)
    model, guide = rebind(cm, test, r)
    out = evaluate(model, guide, test, particles=200)["y"]
    # A linear model gives RMSE ~4.9 on this split; the fitted BNN was measured at 2.4-3.3 (5000 steps: 2.41).
    assert out["rmse"] < 4.0 and out["log_likelihood"] > -3.2
