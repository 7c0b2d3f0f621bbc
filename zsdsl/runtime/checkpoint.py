"""Durable, safe files of a run: atomic writes, checkpoints, the metrics log and config.

Every write goes to a temp file beside its target, is fsynced, renamed over the target with
``os.replace``, and the directory is fsynced: a crash leaves the old file or the new one,
never half of one. Checkpoints hold tensors and plain containers only (NumPy values are
stored as tensors, RNG states as tensors or integers), so they load with
``torch.load(weights_only=True)``: a checkpoint crafted to run code when unpickled is refused,
never executed. A checkpoint that cannot be read (truncated, corrupt) is reported, and resume
falls back to the newest one that reads.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from zsdsl.errors import RunDirError


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _replace_durably(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    _replace_durably(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _map_leaves(obj, leaf):
    """``obj`` with ``leaf`` applied to everything that is not a dict, list or tuple."""
    if isinstance(obj, dict):
        return {k: _map_leaves(v, leaf) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_map_leaves(v, leaf) for v in obj)
    return leaf(obj)


def _plain_leaf(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x))
    return x.item() if isinstance(x, np.generic) else x


def to_plain(obj):
    """``obj`` with NumPy arrays as tensors and NumPy scalars as Python numbers (``weights_only`` safe)."""
    return _map_leaves(obj, _plain_leaf)


def to_numpy(obj):
    """The inverse of ``to_plain`` for states that hold NumPy arrays (an MCMC chain's)."""
    return _map_leaves(obj, lambda x: x.numpy() if torch.is_tensor(x) else x)


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` of ``to_plain(obj)``, durably and atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(to_plain(obj), fh)
        fh.flush()
        os.fsync(fh.fileno())
    _replace_durably(tmp, path)


def save_keeping_previous(state, path: Path) -> None:
    """``atomic_save`` with the file it replaces kept beside it (``NAME.prev.pt``): a latest checkpoint
    that turns out truncated still leaves one to resume from (``load_latest_or_previous``)."""
    path = Path(path)
    if path.exists():
        os.replace(path, _previous(path))
    atomic_save(state, path)


def load_latest_or_previous(path: Path):
    """The state of ``path``, or of the previous one kept beside it where the latest cannot be read; None
    where there is neither."""
    path = Path(path)
    found = load_newest([p for p in (_previous(path), path) if p.exists()])
    return None if found is None else found[1]


def _previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev.pt")


def save_checkpoint(run: Path, step: int, state: dict, keep: int = 3) -> Path:
    ckdir = run / "checkpoints"
    path = ckdir / f"step-{step:09d}.pt"
    atomic_save(state, path)
    for old in sorted(ckdir.glob("step-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


class CheckpointError(RunDirError):
    """A checkpoint that cannot be read: truncated or corrupt."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint that must not be read: it holds objects other than tensors and plain data."""


def load_checkpoint(path: Path, map_location=None) -> dict:
    """A checkpoint's state; tensors and plain containers only (``weights_only=True``), onto the CPU
    unless ``map_location`` says otherwise (a run fitted on a GPU reads on a machine without one)."""
    try:
        return torch.load(path, weights_only=True, map_location=map_location or "cpu")
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc):
            raise UnsafeCheckpointError(
                f"{path} holds Python objects other than tensors and plain containers: it was not written by "
                "zsdsl, or was crafted to run code when loaded. Refused (it was not unpickled)."
            ) from None
        raise CheckpointError(f"{path} is corrupt ({exc}).") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} cannot be read: it is truncated or corrupt ({_first_line(exc)}).") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_newest(paths: list[Path], map_location=None) -> tuple[Path, dict] | None:
    """The newest of ``paths`` (oldest first) that reads; each unreadable one is reported and passed over.
    A refused (unsafe) checkpoint is never passed over: it stops the run."""
    for path in reversed(paths):
        try:
            return path, load_checkpoint(path, map_location)
        except UnsafeCheckpointError:
            raise
        except CheckpointError as exc:
            print(f"warning: {exc} Using the checkpoint before it.", file=sys.stderr)
    return None


def checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("step-*.pt"))


def latest_checkpoint(run: Path) -> Path | None:
    found = checkpoints(run)
    return found[-1] if found else None


def fitted_checkpoint(run: Path) -> Path | None:
    """The parameters to use a run with: the best on validation data (``best.pt``) if the fit
    was validated, else the last checkpoint."""
    best = run / "checkpoints" / "best.pt"
    return best if best.exists() else latest_checkpoint(run)


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
