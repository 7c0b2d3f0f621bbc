"""Symbolic shapes: dims are ints or canonical strings; broadcasting and dim arithmetic.

A symbolic dim is a size bound from the data (``"N"``) or an expression of such
sizes (``"2*K"``). Arithmetic folds constants; anything else stays symbolic.
"""

from __future__ import annotations

import re

from zsdsl.compiler.ir import Dim, Shape


class ShapeMismatch(Exception):
    """Raised by the helpers here; the checker turns it into a located ``ShapeError``."""


def fmt_dim(d: Dim) -> str:
    return str(d)


def fmt_shape(shape: Shape) -> str:
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]" if shape else "scalar"


def fmt_ty(dtype: str, shape: Shape) -> str:
    """A value's type in a message: ``real[K, 2]``, or ``a real scalar``."""
    return f"{dtype}{fmt_shape(shape)}" if shape else f"a {dtype} scalar"


def dim_op(op: str, a: Dim, b: Dim) -> Dim:
    """``a op b`` for sizes, in canonical form: ``(T-1)+1`` is ``T``, ``2*K-K`` is ``K``, ``T-T`` is 0."""
    pa, pb = _poly(a), _poly(b)
    if op == "+":
        return _dim(_add(pa, pb, 1))
    if op == "-":
        return _dim(_add(pa, pb, -1))
    if op == "*":
        return _dim(_mul(pa, pb))
    return _dim(_floordiv(pa, pb))


def canonical(d: Dim) -> Dim:
    """The canonical form of a size (an int where it is a constant)."""
    return _dim(_poly(d))


def evaluate(d: Dim, sizes: dict) -> int | None:
    """The value of a size given the sizes of the names in it (None where one is not known)."""
    if isinstance(d, int):
        return d
    total = 0
    for mono, c in _poly(d).items():
        term = c
        for name in mono:
            if name.startswith("("):  # an exact quotient kept whole: ((a)//b)
                inner, _, den = name[1:-1].rpartition("//")
                num, q = evaluate(inner, sizes), evaluate(den, sizes)
                value = None if num is None or not q else num // q
            else:
                value = sizes.get(name)
            if value is None:
                return None
            term *= value
        total += term
    return total


# A size is a polynomial in the names bound from the data, with integer coefficients: {monomial: coeff},
# a monomial a sorted tuple of names (a floor division that does not come out exact is one name, "((a)//b)").
_TOKENS = re.compile(r"\s*(\d+|[A-Za-z_][A-Za-z0-9_]*|//|[-+*/()])")


def _poly(d: Dim) -> dict:
    if isinstance(d, int):
        return {(): d} if d else {}
    tokens = _TOKENS.findall(str(d))
    if "".join(tokens) != str(d).replace(" ", ""):
        raise ValueError(f"not a size: {d!r}")
    p, rest = _parse_sum(tokens)
    if rest:
        raise ValueError(f"not a size: {d!r}")
    return p


def _parse_sum(t):
    p, t = _parse_product(t)
    while t and t[0] in "+-":
        q, rest = _parse_product(t[1:])
        p, t = _add(p, q, 1 if t[0] == "+" else -1), rest
    return p, t


def _parse_product(t):
    p, t = _parse_atom(t)
    while t and t[0] in ("*", "//", "/"):
        q, rest = _parse_atom(t[1:])
        p, t = (_mul(p, q) if t[0] == "*" else _floordiv(p, q)), rest
    return p, t


def _parse_atom(t):
    if not t:
        raise ValueError("a size ends early")
    head, rest = t[0], t[1:]
    if head == "-":
        p, rest = _parse_atom(rest)
        return {m: -c for m, c in p.items()}, rest
    if head == "(":
        p, rest = _parse_sum(rest)
        if not rest or rest[0] != ")":
            raise ValueError("unbalanced brackets in a size")
        return p, rest[1:]
    if head.isdigit():
        return _poly(int(head)), rest
    return {(head,): 1}, rest


def _add(p: dict, q: dict, sign: int) -> dict:
    out = dict(p)
    for m, c in q.items():
        out[m] = out.get(m, 0) + sign * c
    return {m: c for m, c in out.items() if c}


def _mul(p: dict, q: dict) -> dict:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = tuple(sorted(m1 + m2))
            out[m] = out.get(m, 0) + c1 * c2
    return {m: c for m, c in out.items() if c}


def _floordiv(p: dict, q: dict) -> dict:
    if set(q) == {()} and set(p) <= {()} and q[()]:
        return _poly(p.get((), 0) // q[()])
    if set(q) == {()} and q[()] and all(c % q[()] == 0 for c in p.values()):
        return {m: c // q[()] for m, c in p.items()}
    if p == q and p:
        return {(): 1}
    return {(f"(({_text(p)})//{_factor(_text(q))})",): 1}


def _factor(text: str) -> str:
    return text if text.isidentifier() or text.isdigit() else f"({text})"


def _text(p: dict) -> str:
    if not p:
        return "0"
    # names before constants, positive terms first, then by degree and name: T-1, N*K+2, 2*K-J
    order = sorted(p.items(), key=lambda mc: (not mc[0], mc[1] < 0, -len(mc[0]), mc[0]))
    out = ""
    for m, c in order:
        mono = "*".join(m)
        if not m:
            body = str(abs(c))
        elif abs(c) == 1:
            body = mono
        else:
            body = f"{abs(c)}*{mono}"
        out += ("-" if c < 0 else ("+" if out else "")) + body
    return out


def _dim(p: dict) -> Dim:
    if not p:
        return 0
    if set(p) == {()}:
        return p[()]
    return _text(p)


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
