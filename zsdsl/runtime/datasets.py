"""Readers for the standard datasets in their distributed layouts, chosen by ``path:split``.

- bit-packed binarized MNIST (``.npz`` with ``train``/``valid``/``test`` uint8 [n, 98]):
  ``x`` int [n, 784] in {0, 1};
- MNIST with labels (keras layout ``x_train``/``y_train``/``x_test``/``y_test``): ``x`` real
  [n, 784] in [0, 1] and ``y`` int labels; ``train-ssl100`` gives the semi-supervised split
  ``x_l``/``y_l`` (100 labels, 10 per class, fixed seed), ``x_u`` and ``N_total``, and
  ``test-ssl100`` the same labelled rows with all the test images as ``x_u`` (their labels in
  ``labels_u``), to score the fitted classifier on the test set;
- a bag-of-words corpus in coordinate form (``doc``/``word``/``count`` triples, ``n_docs``,
  ``n_words``; the AP corpus's ``ap_counts.npz``): ``counts`` int [D, V], densified; ``all``, or
  ``train``/``test``, a fixed 90/10 split of the documents (numpy rng 0), the test documents
  never seen in training;
- a UCI regression folder (``meta.json``, ``data.csv.gz``, ``splits.npz``): ``train_K``/``test_K``
  give ``X`` [n, D] and ``y`` [n], both standardised with the training split's statistics
  (``y_mean``/``y_std`` are returned so predictions can be put back on the original scale).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from zsdsl.errors import DataError, Span


def split_path(text: str) -> tuple[Path, str | None]:
    """``data.npz:train`` → (path, "train"); a plain existing path has no split."""
    p = Path(text)
    if p.exists() or ":" not in text:
        return p, None
    head, _, split = text.rpartition(":")
    return Path(head), split


def is_dataset(path: Path) -> bool:
    if path.is_dir():
        return (path / "meta.json").exists()
    if path.suffix == ".npz" and path.exists():
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
        return {"train", "test"} <= keys or {"x_train", "y_train"} <= keys or BAG_OF_WORDS <= keys
    return False


def load_dataset(path: Path, split: str | None) -> dict:
    span = Span(file=str(path))
    if path.is_dir():
        return _uci(path, split or "train_0", span)
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        if {"x_train", "y_train"} <= keys:
            return _mnist_labels(npz, split or "train", span)
        if BAG_OF_WORDS <= keys:
            return _bag_of_words(npz, split or "all", span)
        return _binarized(npz, split or "train", keys, span)


BAG_OF_WORDS = {"doc", "word", "count", "n_docs", "n_words"}


def _bag_of_words(npz, split: str, span) -> dict:
    _need(split, ["all", "train", "test"], span)
    n_docs, n_words = int(npz["n_docs"]), int(npz["n_words"])
    counts = np.zeros((n_docs, n_words), dtype=np.int64)
    np.add.at(counts, (npz["doc"].astype(np.int64), npz["word"].astype(np.int64)), npz["count"].astype(np.int64))
    if split != "all":
        order = np.random.default_rng(0).permutation(n_docs)
        n_test = n_docs // 10
        rows = np.sort(order[:n_test] if split == "test" else order[n_test:])
        counts = counts[rows]
    return {"counts": counts}


def _need(split: str, allowed, span) -> None:
    if split not in allowed:
        raise DataError(f"Unknown split '{split}'; this dataset has {', '.join(allowed)}.", span)


def _binarized(npz, split: str, keys, span) -> dict:
    _need(split, sorted(keys), span)
    packed = npz[split]
    if packed.dtype != np.uint8 or packed.ndim != 2:
        raise DataError(f"Split '{split}' is not a bit-packed uint8 matrix.", span)
    x = np.unpackbits(packed, axis=1)[:, :784].astype(np.int64)
    return {"x": x, "N": x.shape[0]}


def _mnist_labels(npz, split: str, span) -> dict:
    base, _, ssl = split.partition("-ssl")
    _need(base, ["train", "test"], span)
    x, y = _mnist_rows(npz, base)
    if not ssl:
        return {"x": x, "y": y, "N": x.shape[0]}
    try:
        n_labels = int(ssl)
    except ValueError:
        raise DataError(f"Write the number of labels after -ssl, e.g. '{base}-ssl100'.", span) from None
    x_train, y_train = (x, y) if base == "train" else _mnist_rows(npz, "train")
    rng = np.random.default_rng(0)
    per_class = n_labels // 10
    labelled = np.concatenate([rng.permutation(np.flatnonzero(y_train == c))[:per_class] for c in range(10)])
    mask = np.zeros(len(y_train), dtype=bool)
    mask[labelled] = True
    x_u, labels_u = (x_train[~mask], y_train[~mask]) if base == "train" else (x, y)
    # labels_u: the held-back labels of x_u, for `zsdsl evaluate --classify y_u=labels_u`
    return {"x_l": x_train[mask], "y_l": y_train[mask], "x_u": x_u, "labels_u": labels_u,
            "N_total": int(len(y_train))}  # fmt: skip


def _mnist_rows(npz, base: str):
    x = npz[f"x_{base}"]
    return x.reshape(len(x), -1).astype(np.float64) / 255.0, npz[f"y_{base}"].astype(np.int64)


def _uci(folder: Path, split: str, span) -> dict:
    meta = json.loads((folder / "meta.json").read_text())
    with gzip.open(folder / "data.csv.gz", "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", skiprows=1, ndmin=2)
    X, y = table[:, meta["feature_columns"]], table[:, meta["target_column"]]
    with np.load(folder / "splits.npz") as splits:
        names = sorted(splits.files)
        _need(split, names, span)
        kind, _, k = split.partition("_")
        train = splits[f"train_{k}"]
        rows = splits[split]
    x_mean, x_std = X[train].mean(0), X[train].std(0)
    x_std[x_std == 0] = 1.0
    y_mean, y_std = y[train].mean(), y[train].std()
    Xs = (X[rows] - x_mean) / x_std
    ys = (y[rows] - y_mean) / y_std
    return {"X": Xs, "y": ys, "N": len(rows), "D": Xs.shape[1], "y_mean": float(y_mean), "y_std": float(y_std)}
