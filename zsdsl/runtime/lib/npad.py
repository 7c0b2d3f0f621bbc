"""Reverse-mode differentiation on NumPy arrays for small models: the MCMC hot path without autograd.

A ``Var`` wraps a float64 array (or NumPy scalar) and records, on the active ``Tape``, a closure
that hands its gradient to its inputs. Operators and the functions in this module build the
graph; ``Tape.backward(root)`` walks it once in reverse creation order. Every op costs one NumPy
call forward and one or two backward (about a microsecond each on small arrays), against
several microseconds per op for PyTorch's dispatcher and autograd: for models of a few dozen
scalars (eight schools) a gradient costs a fraction of PyTorch's.

What this module cannot differentiate raises ``Unsupported``; callers then use PyTorch.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


class Unsupported(Exception):
    """An operation or argument the NumPy backend does not differentiate."""


class Tape:
    """The Vars created while this tape is active, in creation (topological) order."""

    active: Tape | None = None

    def __init__(self):
        self.nodes: list = []

    def __enter__(self) -> Tape:
        self._previous, Tape.active = Tape.active, self
        return self

    def __exit__(self, *exc) -> None:
        Tape.active = self._previous

    def backward(self, root: Var) -> None:
        root.g = 1.0 if not np.ndim(root.v) else np.ones(np.shape(root.v))
        for node in reversed(self.nodes):
            if node.g is not None and node.back is not None:
                node.back(node.g)


class Wrapped:
    """Shape queries of a wrapper whose array is ``v`` (``Var`` here, ``nptrace.Sym``)."""

    __slots__ = ()

    @property
    def shape(self) -> tuple:
        return np.shape(self.v)

    @property
    def ndim(self) -> int:
        return np.ndim(self.v)


class Var(Wrapped):
    """A differentiable value: ``v`` (array), ``g`` (its gradient after ``backward``)."""

    __slots__ = ("v", "g", "back")
    __array_ufunc__ = None  # ndarray ⊕ Var defers to Var's reflected operators

    def __init__(self, v, back=None):
        self.v, self.g, self.back = v, None, back
        if back is not None:
            Tape.active.nodes.append(self)

    def dim(self) -> int:
        return np.ndim(self.v)

    def __add__(self, o):
        return add(self, o)

    __radd__ = __add__

    def __sub__(self, o):
        return add(self, neg(o))

    def __rsub__(self, o):
        return add(o, neg(self))

    def __mul__(self, o):
        return mul(self, o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        return div(self, o)

    def __rtruediv__(self, o):
        return div(o, self)

    def __neg__(self):
        return neg(self)

    def __pow__(self, o):
        return power(self, o)

    def __rpow__(self, o):
        return power(o, self)

    def __getitem__(self, key):
        return index(self, key)

    # comparisons are not differentiable: plain boolean arrays
    def __lt__(self, o):
        return self.v < value(o)

    def __le__(self, o):
        return self.v <= value(o)

    def __gt__(self, o):
        return self.v > value(o)

    def __ge__(self, o):
        return self.v >= value(o)

    def sum(self, axis=None):
        return reduce_sum(self, axis)


def value(x):
    """The array under ``x`` (Vars unwrapped)."""
    return x.v if type(x) is Var else x


def unbroadcast(g, shape: tuple):
    """Sum ``g`` down to ``shape`` (the inverse of broadcasting)."""
    gs = np.shape(g)
    if gs == shape:
        return g
    if not shape:
        return g.sum()
    lead = len(gs) - len(shape)
    if lead:
        g = np.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return np.sum(g, axis=axes, keepdims=True) if axes else g


def acc(x, g) -> None:
    """Add ``g`` (unbroadcast to ``x``'s shape) to the gradient of ``x`` when it is a Var."""
    if type(x) is Var:
        shape = getattr(x.v, "shape", ())
        if getattr(g, "shape", ()) != shape:
            g = unbroadcast(g, shape)
        x.g = g if x.g is None else x.g + g


def _is_var(*xs) -> bool:
    for x in xs:
        if type(x) is Var:
            return True
    return False


# ---------------------------------------------------------------- arithmetic


def add(a, b):
    if not _is_var(a, b):
        return value(a) + value(b)

    def back(g):
        acc(a, g)
        acc(b, g)

    return Var(value(a) + value(b), back)


def neg(a):
    if not isinstance(a, Var):
        return -value(a)
    return Var(-a.v, lambda g: acc(a, -g))


def mul(a, b):
    av, bv = value(a), value(b)
    if not _is_var(a, b):
        return av * bv

    def back(g):
        acc(a, g * bv)
        acc(b, g * av)

    return Var(av * bv, back)


def div(a, b):
    av, bv = value(a), value(b)
    if not _is_var(a, b):
        return av / bv
    out = av / bv

    def back(g):
        gb = g / bv
        acc(a, gb)
        acc(b, -gb * out)

    return Var(out, back)


def power(a, b):
    av, bv = value(a), value(b)
    out = np.power(av, bv)
    if not _is_var(a, b):
        return out

    def back(g):
        if isinstance(a, Var):
            acc(a, g * bv * np.power(av, bv - 1.0))
        if isinstance(b, Var):
            acc(b, g * out * np.log(av))

    return Var(out, back)


def index(a, key):
    out = a.v[key]

    shape = np.shape(a.v)
    size = math.prod(shape)
    # where each element of the result came from, as flat positions: the gradient scatters back with
    # bincount (no in-place writes, so the traced code of ``nptrace`` can follow it)
    positions = np.ravel(np.arange(size).reshape(shape)[key])

    def back(g):
        weights = np.ravel(np.broadcast_to(g, np.shape(out)))
        acc(a, np.reshape(np.bincount(positions, weights=weights, minlength=size), shape))

    return Var(out, back)


def _sum(x, axis=None):
    return x.sum(axis) if hasattr(x, "sum") else x


def reduce_sum(a, axis=None):
    if type(a) is not Var:
        return np.sum(a, axis=axis)
    shape = getattr(a.v, "shape", ())

    def back(g):
        if axis is None:
            full = np.broadcast_to(g, shape)
        else:
            full = np.broadcast_to(_expand_reduced(g, shape, axis), shape)
        acc(a, full)

    return Var(_sum(a.v, axis), back)


def total(xs):
    """Σ over every element of every term in ``xs`` (Vars, arrays, numbers): one node."""
    out = 0.0
    for x in xs:
        out += _sum(value(x))
    if not _is_var(*xs):
        return out

    def back(g):
        for x in xs:
            if type(x) is Var:
                shape = getattr(x.v, "shape", ())
                acc(x, np.broadcast_to(g, shape) if shape else g)

    return Var(out, back)


def _expand_reduced(g, shape, axis):
    axes = (axis,) if isinstance(axis, int) else axis
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))


def unary(fn, dfn):
    """An elementwise function with derivative ``dfn(x, out)``."""

    def apply(x):
        xv = value(x)
        out = fn(xv)
        if not isinstance(x, Var):
            return out
        return Var(out, lambda g: acc(x, g * dfn(xv, out)))

    apply.__name__ = fn.__name__
    return apply


def _sigmoid(x):
    return special.expit(x)


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


exp = unary(np.exp, lambda x, y: y)
log = unary(np.log, lambda x, y: 1.0 / x)
log1p = unary(np.log1p, lambda x, y: 1.0 / (1.0 + x))
expm1 = unary(np.expm1, lambda x, y: y + 1.0)
sqrt = unary(np.sqrt, lambda x, y: 0.5 / y)
square = unary(np.square, lambda x, y: 2.0 * x)
sin = unary(np.sin, lambda x, y: np.cos(x))
cos = unary(np.cos, lambda x, y: -np.sin(x))
tanh = unary(np.tanh, lambda x, y: 1.0 - y * y)
sigmoid = unary(_sigmoid, lambda x, y: y * (1.0 - y))
softplus = unary(_softplus, lambda x, y: _sigmoid(x))
log_sigmoid = unary(lambda x: -_softplus(-x), lambda x, y: _sigmoid(-x))
logit = unary(special.logit, lambda x, y: 1.0 / (x * (1.0 - x)))
lgamma = unary(special.gammaln, lambda x, y: special.digamma(x))
digamma = unary(special.digamma, lambda x, y: special.polygamma(1, x))
erf = unary(special.erf, lambda x, y: 2.0 / np.sqrt(np.pi) * np.exp(-x * x))
abs_ = unary(np.abs, lambda x, y: np.sign(x))


def where(cond, a, b):
    cond = np.not_equal(value(cond), 0)
    av, bv = value(a), value(b)
    out = np.where(cond, av, bv)
    if not _is_var(a, b):
        return out

    def back(g):
        acc(a, np.where(cond, g, 0.0))
        acc(b, np.where(cond, 0.0, g))

    return Var(out, back)


def logaddexp(a, b):
    av, bv = value(a), value(b)
    out = np.logaddexp(av, bv)
    if not _is_var(a, b):
        return out

    def back(g):
        with np.errstate(invalid="ignore"):
            wa = np.exp(av - out)
            wb = np.exp(bv - out)
        acc(a, g * np.nan_to_num(wa))
        acc(b, g * np.nan_to_num(wb))

    return Var(out, back)


def xlogy(x, y):
    """x·log y, 0 where x is 0."""
    xv, yv = value(x), value(y)
    out = special.xlogy(xv, yv)
    if not _is_var(x, y):
        return out

    def back(g):
        if isinstance(x, Var):
            acc(x, g * np.log(yv))
        if isinstance(y, Var):
            acc(y, g * np.where(xv == 0, 0.0, xv / yv))

    return Var(out, back)


def matmul(a, b):
    """``a @ b`` for a matrix and a vector (either side) or two vectors."""
    av, bv = value(a), value(b)
    if np.ndim(av) > 2 or np.ndim(bv) > 2 or (np.ndim(av) == 2 and np.ndim(bv) == 2):
        raise Unsupported("matmul beyond matrix-vector")
    out = av @ bv
    if not _is_var(a, b):
        return out

    def back(g):
        if isinstance(a, Var):
            acc(a, np.multiply.outer(g, bv) if np.ndim(av) == 2 else (g * bv if np.ndim(bv) == 1 else bv @ g))
        if isinstance(b, Var):
            acc(b, np.multiply.outer(av, g) if np.ndim(bv) == 2 else (g * av if np.ndim(av) == 1 else g @ av))

    return Var(out, back)


def _f64(x):
    """A Var's array as it is; anything else as a float64 array."""
    return x.v if type(x) is Var else np.asarray(x, dtype=np.float64)


def concat(xs, axis: int = -1):
    vals = [_f64(x) for x in xs]
    out = np.concatenate(vals, axis)
    if not _is_var(*xs):
        return out
    ends = np.cumsum([v.shape[axis] for v in vals])

    def back(g):
        for x, part in zip(xs, np.split(g, ends[:-1], axis)):
            acc(x, part)

    return Var(out, back)


def stack(xs, axis: int = -1):
    vals = [_f64(x) for x in xs]
    shape = np.broadcast_shapes(*[v.shape for v in vals])
    out = np.stack([np.broadcast_to(v, shape) for v in vals], axis)
    if not _is_var(*xs):
        return out

    def back(g):
        for i, x in enumerate(xs):
            acc(x, np.take(g, i, axis))

    return Var(out, back)


def take(x, idx):
    """``x[idx]`` along the first axis of a vector; the gradient scatters with ``bincount``."""
    xv = value(x)
    out = xv[idx]
    if not isinstance(x, Var):
        return out
    if np.ndim(xv) != 1 or np.ndim(idx) != 1:
        return index(x, idx)
    n = xv.shape[0]
    return Var(out, lambda g: acc(x, np.bincount(idx, weights=g, minlength=n)))


def cumsum(x):
    """Cumulative sum along the last axis."""
    if type(x) is not Var:
        return np.cumsum(x, -1)
    return Var(np.cumsum(x.v, -1), lambda g: acc(x, np.flip(np.cumsum(np.flip(g, -1), -1), -1)))
