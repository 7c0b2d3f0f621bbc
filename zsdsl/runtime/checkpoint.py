"""Run directories: config, metrics and atomic checkpoints (temp file + ``os.replace``).

A checkpoint holds everything needed to continue bit-for-bit: module and optimizer
states, RNG states and the step counter. ``keep`` bounds how many are kept.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(run: Path, step: int, state: dict, keep: int = 3) -> Path:
    ckdir = run / "checkpoints"
    ckdir.mkdir(parents=True, exist_ok=True)
    path = ckdir / f"step-{step:09d}.pt"
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(ckdir.glob("step-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def latest_checkpoint(run: Path) -> Path | None:
    found = sorted((run / "checkpoints").glob("step-*.pt"))
    return found[-1] if found else None


def fitted_checkpoint(run: Path) -> Path | None:
    """The parameters to use a run with: the best on validation data (``best.pt``) if the fit
    was validated, else the last checkpoint."""
    best = run / "checkpoints" / "best.pt"
    return best if best.exists() else latest_checkpoint(run)


def load_checkpoint(path: Path, map_location=None) -> dict:
    # Our own checkpoints: model/optimizer states, RNG states and plain Python records.
    return torch.load(path, weights_only=False, map_location=map_location)


class MetricsLog:
    """Append-only CSV (default columns step, epoch, objective, wall_s); truncated to ``step`` on resume."""

    FIELDS = ("step", "epoch", "objective", "wall_s")

    def __init__(self, path: Path, resume_step: int | None = None, fields: tuple = FIELDS):
        self.path = path
        rows = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fields)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, *row) -> None:
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow(row)


def write_config(run: Path, config: dict) -> None:
    atomic_write_text(run / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")


def read_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temp file beside ``path``, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)
