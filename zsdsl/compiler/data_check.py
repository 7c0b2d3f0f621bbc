"""``check_data(ir, data, file)``: data against its declarations — missing fields, shapes,
dtypes, supports, non-finite values, and integer fields used as indices against the size they
index (0-based) — all errors collected, each naming the field and the first bad element.
"""

from __future__ import annotations

import numpy as np

from zsdsl.compiler import ir
from zsdsl.compiler.shapes import evaluate, fmt_shape
from zsdsl.errors import DataError, ErrorGroup, Span
from zsdsl.runtime.mapped import blocks, is_mapped


def check_data(program: ir.ProgramIR, data: dict, file: str = "<data>", optional: tuple = ()) -> dict:
    """Returns the resolved sizes; raises ``ErrorGroup`` of ``DataError``s. The fields in ``optional``
    may be missing (the observed fields of data to predict on)."""
    span = Span(file=file)
    errors: list[DataError] = []
    sizes = _bind_sizes(program, data, errors, span)
    for node in program.data:
        if node.name not in data:
            if node.name in optional:
                continue
            errors.append(DataError(f"Field '{node.name}' is missing from the data.", span))
            continue
        arr = np.asarray(data[node.name])
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            errors.append(DataError(f"Field '{node.name}' must hold numbers.", span))
            continue
        want = tuple(evaluate(d, sizes) for d in node.ty.shape)
        if None not in want and tuple(arr.shape) != want:
            errors.append(
                DataError(
                    f"Field '{node.name}' has shape {fmt_shape(arr.shape)} but is declared "
                    f"{fmt_shape(node.ty.shape)} = {fmt_shape(want)}.",
                    span,
                )
            )
            continue
        msg = (_check_mapped if is_mapped(arr) and arr.ndim else _check_values)(node, arr, sizes, data)
        if msg:
            errors.append(DataError(f"Field '{node.name}' {msg}", span))
    if not errors:
        errors.extend(DataError(msg, span) for msg in _check_indices(program, data, sizes))
        errors.extend(DataError(msg, span) for msg in _check_slices(program, sizes))
    if errors:
        raise ErrorGroup(errors)
    return sizes


def _bind_sizes(program, data, errors, span) -> dict:
    sizes = {}
    for dim in program.dims:
        if dim.value is not None:
            sizes[dim.name] = dim.value
        elif dim.expr is not None:
            continue  # below, once the sizes it reads are bound
        elif dim.source is None or dim.source[1] < 0:
            key = dim.name if dim.source is None else dim.source[0]
            if key not in data:
                if dim.source is None:
                    errors.append(DataError(f"The size '{dim.name}' must be given with the data.", span))
                continue
            value = np.asarray(data[key])
            if value.ndim != 0 or value.dtype.kind not in "iub" and not float(value).is_integer():
                errors.append(DataError(f"Field '{key}' is a size and must be one integer.", span))
                continue
            sizes[dim.name] = int(value)
        else:
            field, axis = dim.source
            if field in data:
                shape = np.shape(data[field])
                if axis < len(shape):
                    sizes[dim.name] = int(shape[axis])
    for dim in program.dims:
        if dim.expr is not None:
            value = evaluate(dim.expr, sizes)
            if value is not None and value < 0:
                errors.append(DataError(f"The size '{dim.name}' = {dim.expr} is {value} with this data; a size "
                                        "must be non-negative.", span))  # fmt: skip
            elif value is not None:
                sizes[dim.name] = value
    return sizes


def _bound(expr, sizes, data):
    if expr is None:
        return None
    if isinstance(expr, ir.Const):
        return float(expr.value)
    if isinstance(expr, ir.Ref) and expr.role in ("dim", "data") and not expr.ty.shape:
        v = sizes.get(expr.name, data.get(expr.name))
        return None if v is None else float(np.asarray(v))
    if isinstance(expr, ir.Neg):
        v = _bound(expr.operand, sizes, data)
        return None if v is None else -v
    return None


def _where(mask: np.ndarray, offset: int = 0) -> str:
    """Where the first True of ``mask`` is; ``offset`` is the first row of a block of a larger array."""
    idx = np.argwhere(mask)[0]
    if idx.size == 0:
        return ""
    return f" at index [{', '.join(str(int(i) + (offset if k == 0 else 0)) for k, i in enumerate(idx))}]"


def _check_mapped(node: ir.DataNode, arr: np.ndarray, sizes, data) -> str | None:
    """``_check_values`` over a memory-mapped field in blocks of rows (never the whole field in memory)."""
    for start, block in blocks(arr):
        msg = _check_values(node, block, sizes, data, start)
        if msg:
            return msg
    return None


def _check_values(node: ir.DataNode, arr: np.ndarray, sizes, data, offset: int = 0) -> str | None:
    values = arr.astype(np.float64)
    msg = _non_finite(node, values, sizes, data, offset)
    if msg:
        return msg
    if node.ty.dtype == "int" and arr.size:
        bad = values != np.round(values)
        if bad.any():
            return f"must hold integers; found {values[bad][0]:g}{_where(bad, offset)}."
    sup = node.support
    if sup.kind == "set":
        bad = ~np.isin(values, np.asarray(sup.values, dtype=np.float64))
        if bad.any():
            allowed = ", ".join(f"{v:g}" for v in sup.values)
            return f"must take values in {{{allowed}}}; found {values[bad][0]:g}{_where(bad, offset)}."
        return None
    if sup.kind == "boolean":
        bad = ~np.isin(values, [0.0, 1.0])
        return f"must be 0 or 1; found {values[bad][0]:g}{_where(bad, offset)}." if bad.any() else None
    lo, hi, lo_open, hi_open = _interval(sup, sizes, data)
    bad = np.zeros(values.shape, dtype=bool)
    if lo is not None:
        bad |= values <= lo if lo_open else values < lo
    if hi is not None:
        bad |= values >= hi if hi_open else values > hi
    bad |= np.isnan(values)
    if bad.any():
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        rng = f"{'(' if lo_open or lo is None else '['}{lo_s}, {hi_s}{')' if hi_open or hi is None else ']'}"
        return f"must lie in {rng}; found {values[bad][0]:g}{_where(bad, offset)}."
    return None


def _interval(sup: ir.Support, sizes, data):
    if sup.kind == "positive":
        return 0.0, None, sup.lower_open, False
    lo = _bound(sup.lower, sizes, data)
    hi = _bound(sup.upper, sizes, data)
    return lo, hi, sup.lower_open, sup.upper_open


def _non_finite(node: ir.DataNode, values: np.ndarray, sizes, data, offset: int = 0) -> str | None:
    """NaN is never data; +-inf only where the declaration's interval closes on it (``[0, inf]``)."""
    nan = np.isnan(values)
    if nan.any():
        return f"holds NaN{_where(nan, offset)}; data must be numbers (drop or impute missing values)."
    inf = np.isinf(values)
    if not inf.any():
        return None
    bounded = node.support.kind in ("interval", "positive", "lower", "upper")
    lo, hi, lo_open, hi_open = _interval(node.support, sizes, data) if bounded else (None, None, True, True)
    admitted = np.zeros(values.shape, dtype=bool)
    if hi == np.inf and not hi_open:
        admitted |= values == np.inf
    if lo == -np.inf and not lo_open:
        admitted |= values == -np.inf
    bad = inf & ~admitted
    if bad.any():
        return (f"holds {values[bad][0]:g}{_where(bad, offset)}; infinite values are refused unless the declaration "
                "admits them (e.g. `real in [0, inf]`).")  # fmt: skip
    return None


def _check_indices(program: ir.ProgramIR, data: dict, sizes: dict) -> list[str]:
    """Integer data used (directly, or plus/minus a constant) to index a sized axis: every value in range."""
    messages, seen = [], set()
    for base, axis, field, offset in _index_uses(program):
        size = evaluate(base.ty.shape[axis], sizes)
        if size is None or field not in data or (field, base.name, axis) in seen:
            continue
        seen.add((field, base.name, axis))
        raw = np.asarray(data[field])
        values = raw.astype(np.int64) + offset
        bad = (values < 0) | (values >= size)
        if not bad.any():
            continue
        first = np.argwhere(bad)[0]
        value = raw[tuple(first)]
        shown = f"{field}{_fmt_offset(offset)} = {values[tuple(first)]}" if offset else f"{value}"
        dim = base.ty.shape[axis]
        size_s = f"{dim} = {size}" if isinstance(dim, str) else str(size)
        one_based = values.min() >= 1 and values.max() == size
        hint = " (these look 1-based, as in Stan: subtract 1 in the data or in the spec)" if one_based else ""
        messages.append(
            f"Field '{field}' indexes '{base.name}' (size {size_s}) and must give 0..{size - 1}; found {shown}"
            f"{_where(bad)}. Indices are 0-based{hint}."
        )
    return messages


def _check_slices(program: ir.ProgramIR, sizes: dict) -> list[str]:
    """Slices whose bounds are sizes (``y[:K]``, ``y[K:T - 1]``): within the axis they slice, once the data give
    the sizes (the checker could not tell; PyTorch would silently cut such a slice short)."""
    messages = []
    for node in ir.walk(program):
        if not isinstance(node, ir.Index):
            continue
        what = f"'{node.base.name}'" if isinstance(node.base, ir.Ref) else "a value"
        for axis, item in enumerate(node.items):
            if item.mode != "slice" or not any(isinstance(b, ir.Ref) for b in (item.start, item.stop)):
                continue
            dim = node.base.ty.shape[axis]
            size = evaluate(dim, sizes)
            lo = 0 if item.start is None else _slice_bound(item.start, sizes)
            hi = size if item.stop is None else _slice_bound(item.stop, sizes)
            if None in (size, lo, hi):
                continue
            where = f"{dim} = {size}" if isinstance(dim, str) else str(size)
            bound = f"{item.start.name} = {lo}" if isinstance(item.start, ir.Ref) else str(lo)
            if hi > size:
                messages.append(f"A slice of {what} ends at {item.stop.name} = {hi}, past the end of its axis {axis} "
                                f"(size {where}) with this data.")  # fmt: skip
            elif lo < 0 or lo > hi:
                side = "before its start" if lo < 0 else "after it ends"
                messages.append(f"A slice of {what} starts at {bound}, {side} (axis {axis}, ending at {hi}, size "
                                f"{where}) with this data.")  # fmt: skip
    return sorted(set(messages))


def _slice_bound(bound, sizes: dict) -> int | None:
    return int(bound.value) if isinstance(bound, ir.Const) else evaluate(bound.name, sizes)


def _fmt_offset(offset: int) -> str:
    return f" + {offset}" if offset > 0 else f" - {-offset}"


def _index_uses(program: ir.ProgramIR):
    """(indexed expression, axis, data field, constant offset) for each gather by an integer data field."""
    for node in ir.walk(program):
        if not isinstance(node, ir.Index) or not isinstance(node.base, ir.Ref):
            continue
        for axis, item in enumerate(node.items[: len(node.base.ty.shape)]):
            if item.mode == "gather" and item.index is not None:
                use = _data_offset(item.index)
                if use is not None:
                    yield (node.base, axis, *use)


def _data_offset(expr) -> tuple[str, int] | None:
    """``field``, ``field[n]``, ``field[n] +- c``: the field and the constant added; None otherwise."""
    if isinstance(expr, ir.PlateSlice):
        expr = expr.base
    if isinstance(expr, ir.Ref):
        return (expr.name, 0) if expr.role == "data" and expr.ty.dtype == "int" else None
    if isinstance(expr, ir.BinOp) and expr.op in ("+", "-"):
        left, right = expr.left, expr.right
        if isinstance(right, ir.Const) and isinstance(right.value, int) and not isinstance(right.value, bool):
            inner = _data_offset(left)
            if inner is not None:
                return inner[0], inner[1] + (right.value if expr.op == "+" else -right.value)
        if expr.op == "+" and isinstance(left, ir.Const) and isinstance(left.value, int):
            inner = _data_offset(right)
            if inner is not None:
                return inner[0], inner[1] + left.value
    return None
