"""Reading data files: JSON (CmdStan/posteriordb style, optionally gzipped), CSV and NPZ.

``load_data(path) -> dict[str, numpy array or scalar]``. Problems with the file
raise ``DataError`` naming the file (and the field where one is at fault).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import numpy as np

from zsdsl.errors import DataError, Span


def load_data(path: str | Path) -> dict:
    """Read a data file, or a standard dataset as ``PATH:SPLIT`` (see ``zsdsl.runtime.datasets``)."""
    from zsdsl.runtime.datasets import is_dataset, load_dataset, split_path

    p, split = split_path(str(path))
    span = Span(file=str(p))
    if not p.exists():
        raise DataError(f"No such data file: {p}", span)
    try:
        if split is not None or is_dataset(p):
            return load_dataset(p, split)
    except DataError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"Cannot read the dataset {p}: {exc}", span) from None
    name = p.name.lower()
    try:
        if name.endswith(".npz"):
            with np.load(p, allow_pickle=False) as npz:
                return {k: _scalar(npz[k]) for k in npz.files}
        raw = p.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
            name = name[:-3]
        text = raw.decode("utf-8")
        if name.endswith(".csv"):
            return _read_csv(text, span)
        return _read_json(text, span)
    except DataError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"Cannot read {p}: {exc}", span) from None


def _scalar(a: np.ndarray):
    return a.item() if a.ndim == 0 else a


def _read_json(text: str, span: Span) -> dict:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1, span.file),
        ) from None
    if not isinstance(obj, dict):
        raise DataError("A JSON data file must hold an object mapping field names to values.", span)
    out = {}
    for key, value in obj.items():
        if isinstance(value, (int, float, bool)):
            out[key] = value
        else:
            try:
                arr = np.asarray(value)
            except ValueError:
                raise DataError(f"Field '{key}' is a ragged array.", span) from None
            if arr.dtype == object or arr.dtype.kind in "US":
                raise DataError(f"Field '{key}' must hold numbers.", span)
            out[key] = arr
    return out


def _read_csv(text: str, span: Span) -> dict:
    """Columns become vector fields; a header row names them."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("The CSV file is empty.", span) from None
    cols: list[list[float]] = [[] for _ in header]
    for n, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"CSV row {n} has {len(row)} values; the header has {len(header)}.", Span(n, 1, n, 2, span.file)
            )
        for c, v in zip(cols, row):
            try:
                c.append(float(v))
            except ValueError:
                raise DataError(f"CSV row {n}: {v!r} is not a number.", Span(n, 1, n, 2, span.file)) from None
    out = {}
    for name, values in zip(header, cols):
        arr = np.asarray(values)
        out[name.strip()] = arr.astype(np.int64) if np.all(arr == np.round(arr)) else arr
    if out:
        out.setdefault("N", len(next(iter(out.values()))))
    return out
