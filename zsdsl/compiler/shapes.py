"""Symbolic shapes: dims are ints or canonical strings; broadcasting and dim arithmetic.

A symbolic dim is a size bound from the data (``"N"``) or an expression of such
sizes (``"2*K"``). Arithmetic folds constants; anything else stays symbolic.
"""

from __future__ import annotations

from zsdsl.compiler.ir import Dim, Shape


class ShapeMismatch(Exception):
    """Raised by the helpers here; the checker turns it into a located ``ShapeError``."""


def fmt_dim(d: Dim) -> str:
    return str(d)


def fmt_shape(shape: Shape) -> str:
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]" if shape else "scalar"


def dim_op(op: str, a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op in ("/", "//") and b != 0 and a % b == 0:
            return a // b
    if op == "*" and (a == 1 or b == 1):
        return b if a == 1 else a
    if op == "+" and (a == 0 or b == 0):
        return b if a == 0 else a
    if op == "-" and b == 0:
        return a
    if op == "-" and a == b:
        return 0
    return f"{_paren(a)}{op}{_paren(b)}"


def _paren(d: Dim) -> str:
    s = str(d)
    return f"({s})" if any(c in s for c in "+-") else s


def broadcast(a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting, right-aligned, with symbolic dims (equal or one of them 1)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeMismatch(f"{fmt_shape(a)} and {fmt_shape(b)} do not broadcast ({fmt_dim(da)} vs {fmt_dim(db)})")
    return tuple(reversed(out))


def broadcast_all(shapes: list[Shape]) -> Shape:
    out: Shape = ()
    for s in shapes:
        out = broadcast(out, s)
    return out


def matmul_shape(a: Shape, b: Shape) -> tuple[Shape, str]:
    """Result shape and the helper that computes it: dot, matvec, vecmat or matmul."""
    if len(a) == 1 and len(b) == 1:
        _same(a[0], b[0], a, b)
        return (), "dot"
    if len(a) == 2 and len(b) == 1:
        _same(a[1], b[0], a, b)
        return (a[0],), "matvec"
    if len(a) == 1 and len(b) == 2:
        _same(a[0], b[0], a, b)
        return (b[1],), "vecmat"
    if len(a) == 2 and len(b) == 2:
        _same(a[1], b[0], a, b)
        return (a[0], b[1]), "matmul"
    raise ShapeMismatch(f"'@' needs vectors or matrices, got {fmt_shape(a)} and {fmt_shape(b)}")


def _same(x: Dim, y: Dim, a: Shape, b: Shape) -> None:
    if x != y:
        raise ShapeMismatch(f"inner dimensions differ: {fmt_shape(a)} @ {fmt_shape(b)} ({fmt_dim(x)} vs {fmt_dim(y)})")


def slice_len(size: Dim, start: Dim | None, stop: Dim | None) -> Dim:
    """Length of ``x[start:stop]`` for a dim of ``size`` (non-negative bounds or negative ints)."""
    lo = 0 if start is None else start
    hi = size if stop is None else stop
    if isinstance(lo, int) and lo < 0:
        lo = dim_op("+", size, lo)
    if isinstance(hi, int) and hi < 0:
        hi = dim_op("+", size, hi)
    if isinstance(lo, int) and isinstance(hi, int) and isinstance(size, int):
        return max(0, min(hi, size) - max(0, lo))
    return dim_op("-", hi, lo)
