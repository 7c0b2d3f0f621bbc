"""The ``np`` of the emitted numba kernel: NumPy's namespace, with the functions numba lacks in the forms the
emitted gradient calls them put back (``emit_kernel``; ``jitlib`` holds the SciPy and helper names).

numba runs ``np.expand_dims`` with one int axis, ``np.sum``/``np.max``/``np.cumsum`` over one axis or all,
and no ``np.diagonal``, ``np.squeeze`` or ``np.add.at``. The emitted code passes axes as tuples of
literals, so here each such call is specialised at compile time: the array is viewed as
``(before, axes, after)`` (the axes are a contiguous run in every call the emitter writes), reduced or
scanned along the middle, and reshaped to the result's shape, whose length numba knows statically. A
form outside these (axes that are not contiguous) has no implementation, numba says so when it compiles,
and the NumPy path stays. Importing this module imports numba.
"""

from __future__ import annotations

import math
import types

import numba
import numpy
from numba import types as nt
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


def literal_axes(axes, ndim: int) -> tuple | None:
    """The axes of a literal int or tuple of literal ints, normalised; None if not literal."""
    if isinstance(axes, nt.IntegerLiteral):
        items = (axes,)
    elif isinstance(axes, nt.BaseTuple):
        items = tuple(axes.types) if hasattr(axes, "types") else (axes.dtype,) * axes.count
    else:
        return None
    if not all(isinstance(t, nt.IntegerLiteral) for t in items):
        return None
    return tuple(sorted(t.literal_value % ndim for t in items)) if ndim else ()


def _run(axes: tuple) -> bool:
    return bool(axes) and axes == tuple(range(axes[0], axes[-1] + 1))


@register_jitable
def _prod(shape, lo, hi):
    n = 1
    for i in range(lo, hi):
        n *= shape[i]
    return n


@register_jitable
def _as3(x, lo, hi):
    """x (C-contiguous copy if need be) as (prod(shape[:lo]), prod(shape[lo:hi]), prod(shape[hi:]))."""
    a = numpy.ascontiguousarray(x)
    return a.reshape((_prod(a.shape, 0, lo), _prod(a.shape, lo, hi), _prod(a.shape, hi, a.ndim)))


@register_jitable
def _shape_from(shape, source):
    """The shape whose i-th size is shape[source[i]], or 1 where source[i] < 0."""
    out = numpy.empty(len(source), numpy.int64)
    for i in range(len(source)):
        out[i] = 1 if source[i] < 0 else shape[source[i]]
    return out


def _result_source(ndim: int, axes: tuple, keep: bool) -> numpy.ndarray:
    """For a reduction over ``axes``: where each result dimension's size comes from (-1: a kept singleton)."""
    return numpy.array([(-1 if i in axes else i) for i in range(ndim) if keep or i not in axes], dtype=numpy.int64)


def _reduction(fold):
    """An overload body for ``f(x, axis, keepdims=False)``: ``fold(v)`` reduces a 1-D array to a float."""

    def body(x, axis, keepdims=False):
        if not isinstance(x, nt.Array):
            return None
        axes = tuple(range(x.ndim)) if axis is None or isinstance(axis, nt.NoneType) else literal_axes(axis, x.ndim)
        if axes is None or not _run(axes):
            return None
        keep = not (keepdims is False or isinstance(keepdims, nt.Omitted))
        lo, hi = axes[0], axes[-1] + 1
        src = _result_source(x.ndim, axes, keep)
        n_out = len(src)
        if n_out == 0:
            return lambda x, axis, keepdims=False: fold(numpy.ravel(x))

        def impl(x, axis, keepdims=False):
            a = _as3(x, lo, hi)
            out = numpy.empty((a.shape[0], a.shape[2]))
            for i in range(a.shape[0]):
                for j in range(a.shape[2]):
                    out[i, j] = fold(a[i, :, j])
            return out.reshape(to_fixed_tuple(_shape_from(x.shape, src), n_out))

        return impl

    return body


@numba.njit(**_JIT)
def _sum(v):
    return numpy.sum(v)


@numba.njit(**_JIT)
def _max(v):
    return numpy.max(v)


@numba.njit(**_JIT)
def _min(v):
    return numpy.min(v)


@numba.njit(**_JIT)
def _product(v):
    return numpy.prod(v)


@numba.njit(**_JIT)
def _lse(v):
    m = numpy.max(v)
    if not math.isfinite(m):
        m = 0.0
    return math.log(numpy.sum(numpy.exp(v - m))) + m


def add_reduce(x, axes, keepdims=False):
    """np.add.reduce(x, axes, keepdims=keepdims)."""
    return numpy.add.reduce(x, axes, keepdims=keepdims)


def amax(x, axis=None, keepdims=False):
    return numpy.max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    return numpy.min(x, axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False):
    return numpy.prod(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis, keepdims=False):
    """The gradient module's ``logsumexp`` (``keepdims`` unused: the overload's signature has it)."""
    from zsdsl.compiler.gradient.helpers import logsumexp as numpy_logsumexp

    return numpy_logsumexp(x, axis)


overload(add_reduce, jit_options=_JIT)(_reduction(_sum))
overload(amax, jit_options=_JIT)(_reduction(_max))
overload(amin, jit_options=_JIT)(_reduction(_min))
overload(prod, jit_options=_JIT)(_reduction(_product))
overload(logsumexp, jit_options=_JIT)(_reduction(_lse))


def cumsum(x, axis=None):
    return numpy.cumsum(x, axis)


@overload(cumsum, jit_options=_JIT)
def _cumsum(x, axis=None):
    if axis is None or isinstance(axis, (nt.NoneType, nt.Omitted)):
        return lambda x, axis=None: numpy.cumsum(x)
    axes = literal_axes(axis, x.ndim)
    if axes is None:
        return None
    (ax,) = axes

    def impl(x, axis=None):
        a = _as3(x, ax, ax + 1)
        out = numpy.empty_like(a)
        for i in range(a.shape[0]):
            for j in range(a.shape[2]):
                out[i, :, j] = numpy.cumsum(a[i, :, j])
        return out.reshape(x.shape)

    return impl


def flip(x, axis=None):
    return numpy.flip(x, axis)


@overload(flip, jit_options=_JIT)
def _flip(x, axis=None):
    axes = literal_axes(axis, x.ndim)
    if axes is None:
        return None
    (ax,) = axes
    return lambda x, axis=None: numpy.ascontiguousarray(_as3(x, ax, ax + 1)[:, ::-1, :]).reshape(x.shape)


def expand_dims(x, axis):
    return numpy.expand_dims(x, axis)


@overload(expand_dims, jit_options=_JIT)
def _expand_dims(x, axis):
    ndim = x.ndim if isinstance(x, nt.Array) else 0
    axes = literal_axes(axis, ndim + (axis.count if isinstance(axis, nt.BaseTuple) else 1))
    if axes is None:
        return None
    n_out = ndim + len(axes)
    src, k = [], 0
    for i in range(n_out):
        src.append(-1 if i in axes else k)
        k += i not in axes
    source = numpy.array(src, dtype=numpy.int64)
    if ndim == 0:
        return lambda x, axis: numpy.full(to_fixed_tuple(numpy.ones(n_out, numpy.int64), n_out), x)
    return lambda x, axis: numpy.ascontiguousarray(x).reshape(to_fixed_tuple(_shape_from(x.shape, source), n_out))


def squeeze(x, axis=None):
    return numpy.squeeze(x, axis)


@overload(squeeze, jit_options=_JIT)
def _squeeze(x, axis=None):
    if not isinstance(x, nt.Array):
        return None
    axes = literal_axes(axis, x.ndim)
    if axes is None:
        return None
    source = numpy.array([i for i in range(x.ndim) if i not in axes], dtype=numpy.int64)
    n_out = len(source)
    if n_out == 0:
        return lambda x, axis=None: numpy.ravel(x)[0]
    return lambda x, axis=None: numpy.ascontiguousarray(x).reshape(to_fixed_tuple(_shape_from(x.shape, source), n_out))


def diagonal(x):
    return numpy.diagonal(x)


@overload(diagonal, jit_options=_JIT)
def _diagonal(x):
    if isinstance(x, nt.Array) and x.ndim == 2:
        return lambda x: numpy.diag(x)
    return None


def add_at(a, index, b):
    numpy.add.at(a, index, b)


@overload(add_at, jit_options=_JIT)
def _add_at(a, index, b):
    """Rows of ``a`` picked by an int vector, with repeats adding up (the gather's adjoint)."""
    if not (isinstance(index, nt.Array) and index.ndim == 1 and isinstance(a, nt.Array) and a.ndim >= 2):
        return None

    def impl(a, index, b):
        for k in range(index.shape[0]):
            a[index[k]] += b[k]

    return impl


np = types.ModuleType("zsdsl.runtime.lib.jitnp.np", "NumPy for the numba kernel, with the forms numba lacks")
np.__dict__.update({k: v for k, v in numpy.__dict__.items() if not k.startswith("__")})
np.expand_dims, np.squeeze, np.diagonal, np.cumsum, np.flip = expand_dims, squeeze, diagonal, cumsum, flip
np.max, np.min, np.prod = amax, amin, prod
np.add = types.ModuleType("zsdsl.runtime.lib.jitnp.np.add", "np.add.at and np.add.reduce")
np.add.at, np.add.reduce = add_at, add_reduce
