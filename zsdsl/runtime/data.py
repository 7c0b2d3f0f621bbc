"""Reading data: JSON (CmdStan/posteriordb style), YAML, CSV (optionally gzipped), NPZ and NPY files,
folders of NPY files, several of them merged, ``NAME=VALUE`` settings, and pandas DataFrames.
Large NPY arrays and uncompressed NPZ members are memory-mapped (``zsdsl.runtime.mapped``).

``load_data(path) -> dict[str, numpy array or scalar]`` reads one file (or ``PATH:SPLIT`` of a
standard dataset); ``load_sources("a.csv,sizes.json,K=3")`` merges several, refusing a field two
sources give different values. In a CSV file each column is a vector field, ``N`` is the number of
rows unless given, and columns ``X.1 .. X.D`` (Stan's CSV form, 1-based) make a matrix field ``X``
of shape [N, D]; a column that is not all numbers is kept as a ``TextColumn`` that reports the
first bad cell (row and column) if the model uses it. Problems raise ``DataError`` naming the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import numpy as np

from zsdsl.errors import DataError, Span
from zsdsl.runtime.mapped import map_npy, map_npz_member

FORMATS = (
    ".json, .yaml/.yml, .csv, .npz, .npy (and .json.gz, .csv.gz), a folder of .npy files, or PATH:SPLIT of a "
    "standard dataset"
)


class TextColumn:
    """A CSV column that is not all numbers: fine unless the model uses it (then ``error`` is raised)."""

    def __init__(self, name: str, error: DataError):
        self.name, self.error = name, error


def load_sources(source: str) -> tuple[dict, list[str]]:
    """Several sources, comma-separated: files and ``NAME=VALUE`` settings (a number); (data, labels)."""
    merged: dict = {}
    origin: dict = {}
    for item in [x.strip() for x in str(source).split(",") if x.strip()]:
        part = _setting(item) if _is_setting(item) else load_data(item)
        for key, value in part.items():
            if key in merged and not _same(merged[key], value):
                raise DataError(f"Field '{key}' is given by both {origin[key]} and {item} with different values.",
                                Span(file=item))  # fmt: skip
            merged[key], origin[key] = value, item
    return merged, list(dict.fromkeys(origin.values()))


def _is_setting(item: str) -> bool:
    name, eq, _ = item.partition("=")
    return bool(eq) and name.isidentifier()


def _setting(item: str) -> dict:
    name, _, text = item.partition("=")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"--set {item}: the value must be a number (vectors and matrices go in a data file).",
                        Span(file="--set"))  # fmt: skip
    return {name: value}


def _same(a, b) -> bool:
    if isinstance(a, TextColumn) or isinstance(b, TextColumn):
        return False
    try:
        return np.array_equal(np.asarray(a), np.asarray(b))
    except (TypeError, ValueError):
        return False


def usable(raw: dict, used: set) -> tuple[dict, list[str]]:
    """(the fields without unusable text columns, the names left out): a text column the model uses
    raises its error, pointing at the first cell that is not a number."""
    out, dropped = {}, []
    for name, value in raw.items():
        if isinstance(value, TextColumn):
            if name in used:
                raise value.error
            dropped.append(name)
        else:
            out[name] = value
    return out, dropped


def from_frame(frame) -> dict:
    """A pandas DataFrame as data: one vector field per column (``X.1 ..`` columns make a matrix)."""
    cols = {str(c): np.asarray(frame[c].to_numpy()) for c in frame.columns}
    out = _matrices(cols)
    out.setdefault("N", len(frame))
    return out


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
    if p.is_dir():
        return _read_folder(p, span)
    name = p.name.lower()
    known = (".npz", ".npy", ".json", ".json.gz", ".csv", ".csv.gz", ".yaml", ".yml")
    if not name.endswith(known):
        raise DataError(f"Unknown data format '{p.suffix or p.name}'; use {FORMATS}.", span)
    try:
        if name.endswith(".npz"):
            return _read_npz(p)
        if name.endswith(".npy"):  # one field, named by the file
            return {p.name[: -len(".npy")]: _scalar(map_npy(p))}
        raw = p.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
            name = name[:-3]
        text = raw.decode("utf-8")
        if name.endswith(".csv"):
            return _read_csv(text, span)
        if name.endswith((".yaml", ".yml")):
            return _read_yaml(text, span)
        return _read_json(text, span)
    except DataError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"Cannot read {p}: {exc}", span) from None


def _read_npz(p: Path) -> dict:
    """An NPZ file's members; large uncompressed ones memory-mapped (``zsdsl.runtime.mapped``)."""
    with np.load(p, allow_pickle=False) as npz:
        out = {}
        for k in npz.files:
            mapped = map_npz_member(p, k)
            out[k] = mapped if mapped is not None else _scalar(npz[k])
        return out


def _read_folder(p: Path, span: Span) -> dict:
    """A data folder: one ``NAME.npy`` per array field (memory-mapped when large) and, optionally, JSON
    or YAML files of scalars and small fields (``sizes.json``); a field in two files is refused."""
    files = sorted(f for f in p.iterdir() if f.name.lower().endswith((".npy", ".json", ".yaml", ".yml")))
    if not files:
        raise DataError(f"The data folder {p} holds no .npy, .json or .yaml files.", span)
    merged, origin = {}, {}
    for f in files:
        for key, value in load_data(f).items():
            if key in merged:
                raise DataError(f"Field '{key}' is given by both {origin[key].name} and {f.name} in {p}.", span)
            merged[key], origin[key] = value, f
    return merged


def _scalar(a: np.ndarray):
    return a.item() if a.ndim == 0 else a


def _read_json(text: str, span: Span) -> dict:
    return _fields(parse_json(text, span), span, "JSON")


def _read_yaml(text: str, span: Span) -> dict:
    return _fields(parse_yaml(text, span), span, "YAML")


def parse_json(text: str, span: Span):
    """A JSON text's plain content; a syntax error is a DataError at its line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1, span.file),
        ) from None


def parse_yaml(text: str, span: Span):
    """A YAML text's plain content by safe loading (never objects); errors as ``parse_json``'s."""
    import yaml

    try:
        return yaml.safe_load(text)  # safe: plain data only, never objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Span(mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2, span.file) if mark else span
        raise DataError(f"Invalid YAML: {getattr(exc, 'problem', None) or exc}.", where) from None


def _fields(obj, span: Span, form: str) -> dict:
    if not isinstance(obj, dict):
        raise DataError(f"A {form} data file must hold a mapping of field names to values.", span)
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
    """Columns become vector fields (``X.1 .. X.D`` a matrix); a header row names them."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError("The CSV file is empty.", span) from None
    cols: list[list[float]] = [[] for _ in header]
    bad: dict[int, DataError] = {}
    for n, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"CSV row {n} has {len(row)} values; the header has {len(header)}.", Span(n, 1, n, 2, span.file)
            )
        col = 1
        for j, v in enumerate(row):
            if j not in bad:
                try:
                    cols[j].append(float(v))
                except ValueError:
                    where = Span(n, col, n, col + max(len(v), 1), span.file)
                    bad[j] = DataError(f"CSV row {n}, column {j + 1} ('{header[j]}'): {v!r} is not a number.", where)
            col += len(v) + 1
    out = {}
    for j, (name, values) in enumerate(zip(header, cols, strict=True)):
        if j in bad:
            out[name] = TextColumn(name, bad[j])
            continue
        arr = np.asarray(values)
        out[name] = arr.astype(np.int64) if np.all(arr == np.round(arr)) else arr
    rows = max((len(c) for j, c in enumerate(cols) if j not in bad), default=0)
    out = _matrices(out)
    if out:
        out.setdefault("N", rows)
    return out


def _matrices(cols: dict) -> dict:
    """Columns ``X.1 .. X.D`` (all of 1..D, numeric) as one field ``X`` of shape [rows, D]."""
    groups: dict[str, dict[int, str]] = {}
    for name in cols:
        base, dot, idx = name.rpartition(".")
        if dot and base and idx.isdigit():
            groups.setdefault(base, {})[int(idx)] = name
    out = dict(cols)
    for base, members in groups.items():
        if base in cols or sorted(members) != list(range(1, len(members) + 1)):
            continue
        text = next((cols[m] for m in members.values() if isinstance(cols[m], TextColumn)), None)
        if text is not None:  # the matrix has a bad cell: reported (at that cell) if the model uses it
            out[base] = TextColumn(base, text.error)
            for m in members.values():
                del out[m]
            continue
        out[base] = np.stack([np.asarray(cols[members[k]]) for k in sorted(members)], axis=1)
        for m in members.values():
            del out[m]
    return out
