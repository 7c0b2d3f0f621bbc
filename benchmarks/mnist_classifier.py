"""A small CNN trained on MNIST's labels, the feature space of the sample-quality figures
(``gan_mnist.py``): no downloaded weights. The weights are cached outside the repository
(``$ZSDSL_CACHE_DIR``, else ``~/.cache/zsdsl``) as a plain state dict, read back with
``weights_only=True``; a cached file trained with other settings is retrained.

    python benchmarks/mnist_classifier.py          # train (or load) and print its test accuracy as JSON
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, command, machine  # noqa: E402

SETTINGS = {"epochs": 2, "batch": 128, "lr": 1e-3, "seed": 0, "version": 1}


class Classifier(nn.Module):
    """Two conv layers and a 128-unit feature layer; ``features`` is what the Fréchet distance compares."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, 1, 28, 28).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _cache() -> Path:
    root = Path(os.environ.get("ZSDSL_CACHE_DIR", Path.home() / ".cache" / "zsdsl"))
    return root / f"mnist_classifier_v{SETTINGS['version']}.pt"


def mnist():
    from zsdsl.runtime.data import load_data

    path = SHARED / "mnist" / "mnist.npz"
    train, test = load_data(f"{path}:train"), load_data(f"{path}:test")
    as_t = torch.as_tensor
    return as_t(train["x"]).float(), as_t(train["y"]), as_t(test["x"]).float(), as_t(test["y"])


def load_or_train(quick: bool = False) -> tuple[Classifier, dict]:
    """The classifier (eval mode) and how it was obtained; ``quick`` trains 50 steps, uncached."""
    model = Classifier()
    path = _cache()
    if not quick and path.exists():
        state = torch.load(path, weights_only=True)
        if state.get("settings") == SETTINGS:
            model.load_state_dict(state["weights"])
            return model.eval(), {"cached": str(path), **state["figures"]}
    x, y, xt, yt = mnist()
    torch.manual_seed(SETTINGS["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=SETTINGS["lr"])
    t0, steps = time.perf_counter(), 0
    for _ in range(SETTINGS["epochs"]):
        for idx in torch.randperm(len(x)).split(SETTINGS["batch"]):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if quick and steps == 50:
                break
        if quick:
            break
    model.eval()
    with torch.no_grad():
        accuracy = float(torch.cat([model(b).argmax(1) for b in xt.split(1000)]).eq(yt).double().mean())
    figures = {"test_accuracy": accuracy, "train_s": time.perf_counter() - t0, **SETTINGS}
    if not quick:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"settings": SETTINGS, "weights": model.state_dict(), "figures": figures}, path)
    return model, figures


if __name__ == "__main__":
    _, figures = load_or_train(quick="--quick" in sys.argv)
    print(json.dumps({"benchmark": "mnist_classifier", "machine": machine(), "command": command(), **figures},
                     indent=2))  # fmt: skip
