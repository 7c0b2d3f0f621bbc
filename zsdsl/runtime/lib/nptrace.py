"""Straight-line NumPy code for a potential and its gradient, from one traced evaluation.

``trace(fn, z0)`` runs ``fn`` (an ``npad`` value-and-gradient: forward pass, tape, backward
closures) once with the input vector replaced by a ``Sym``, an array stand-in that records every
NumPy call made on it and computes the concrete value alongside (for shapes and branches). What is
computed from data alone stays a plain array: folded once at trace time and bound as a constant.
The recording, pruned to what the outputs need, becomes a Python function of ``z`` that makes the
same NumPy calls with no ``Var`` objects, closures, tape or shape logic: the gradient code of the
model, emitted once per compiled model and data (``TracedFunction.source`` prints it).

Branches: a Python ``if`` on a traced value becomes a guard in the code; a point where it would go
the other way raises ``Retrace`` and the caller evaluates that point another way. What the recorder
cannot follow (in-place writes, conversion to Python numbers, ``np.asarray``, NumPy functions outside
``_FUNCTIONS``) raises ``npad.Unsupported`` while tracing, and the caller keeps ``npad``.
"""

from __future__ import annotations

import math
import re

import numpy as np
from scipy import special

from zsdsl.runtime.lib.npad import Unsupported, Wrapped


class Retrace(Exception):
    """The traced code's branch assumption does not hold at this point."""


# NumPy functions recorded as calls (pure, array-valued); the shape queries answer concretely.
_FUNCTIONS = {
    np.sum, np.where, np.broadcast_to, np.concatenate, np.split, np.stack, np.take, np.expand_dims, np.squeeze,
    np.bincount, np.nan_to_num, np.cumsum, np.flip, np.reshape, np.ravel, np.all, np.any, np.max, np.min,
    np.amax, np.amin, np.transpose, np.moveaxis, np.swapaxes, np.dot, np.outer, np.clip, np.zeros_like,
    np.ones_like, np.prod, np.mean, np.einsum, np.tensordot, np.atleast_1d, np.diagonal, np.tril, np.triu,
    np.take_along_axis, np.diff,
}  # fmt: skip
_SHAPE_QUERIES = {np.shape, np.ndim, np.size, np.result_type}
_UFUNC_METHODS = ("__call__", "reduce", "outer", "accumulate")


class _Recorder:
    def __init__(self):
        self.lines: list = []  # (target or None for a guard, code, names used)
        self.globals: dict = {"Retrace": Retrace}
        self._bound: dict = {}  # id(object) -> global name
        self.count = 0

    def bind(self, obj, prefix: str) -> str:
        """A global name for a constant or a function (kept alive by ``globals``)."""
        name = self._bound.get(id(obj))
        if name is None:
            name = self._bound[id(obj)] = f"{prefix}{len(self._bound)}"
            self.globals[name] = obj
        return name

    def render(self, x, uses: set) -> str:
        """Python source for an argument: a traced name, a literal, or a bound constant."""
        if type(x) is Sym:
            uses.add(x.name)
            return x.name
        if x is None or isinstance(x, (bool, int, str)) and type(x) in (bool, int, str):
            return repr(x)
        if type(x) in (float, np.float64) and math.isfinite(x):
            return repr(float(x))
        if x is Ellipsis:
            return "..."
        if type(x) is slice:
            return f"slice({self.render(x.start, uses)}, {self.render(x.stop, uses)}, {self.render(x.step, uses)})"
        if type(x) is tuple:
            return "(" + "".join(self.render(e, uses) + ", " for e in x) + ")"
        if type(x) is list:
            return "[" + ", ".join(self.render(e, uses) for e in x) + "]"
        return self.bind(x, "c")

    def call(self, head: str, args, kwargs, concrete, uses: set | None = None):
        uses = set() if uses is None else uses
        parts = [self.render(a, uses) for a in args]
        parts += [f"{k}={self.render(v, uses)}" for k, v in kwargs.items()]
        return self.emit(f"{head}({', '.join(parts)})", concrete, uses)

    def emit(self, code: str, concrete, uses: set):
        if isinstance(concrete, (list, tuple)):  # np.split: one name per piece
            whole = self.emit(code, np.empty(0), uses)
            return [self.emit(f"{whole.name}[{i}]", piece, {whole.name}) for i, piece in enumerate(concrete)]
        if not isinstance(concrete, (np.ndarray, np.generic, float, int, bool)):
            raise Unsupported(f"a traced call returning {type(concrete).__name__}")
        name = f"t{self.count}"
        self.count += 1
        self.lines.append((name, code, uses))
        return Sym(self, concrete, name)

    def guard(self, sym: Sym, taken: bool) -> None:
        self.lines.append((None, f"if {'not ' if taken else ''}{sym.name}: raise Retrace", {sym.name}))

    def source(self, inputs: str, outputs: list) -> str:
        live = {o.name for o in outputs}
        kept = []
        for target, code, uses in reversed(self.lines):
            if target is None or target in live:
                kept.append((target, code))
                live |= uses
        body = [f"    {code}" if target is None else f"    {target} = {code}" for target, code in reversed(kept)]
        ret = "".join(f"{o.name}, " for o in outputs)
        text = "\n".join(body)
        legend = [f"# {name}: {_describe(obj)}" for name, obj in self.globals.items()
                  if name[0] in "cf" and re.search(rf"\b{name}\b", text)]  # fmt: skip
        return "\n".join(legend) + f"\ndef traced({inputs}):\n" + text + f"\n    return ({ret})\n"


def _describe(obj) -> str:
    if isinstance(obj, np.ndarray):
        return f"constant {obj.dtype} array of shape {obj.shape}"
    if isinstance(obj, (np.generic, float, int)):
        return f"constant {obj!r}"
    module = getattr(obj, "__module__", None) or ("numpy" if isinstance(obj, np.ufunc) else "")
    return f"{module}.{getattr(obj, '__name__', type(obj).__name__)}"


def _concrete(x):
    if type(x) is Sym:
        return x.v
    if type(x) is dict:
        return {k: _concrete(v) for k, v in x.items()}
    if type(x) in (list, tuple):
        return type(x)(_concrete(e) for e in x)
    return x


def _find_sym(xs):
    for x in xs:
        if type(x) is Sym:
            return x
        if type(x) in (list, tuple):
            found = _find_sym(x)
            if found is not None:
                return found
    return None


# Elementwise ufuncs as Python operators (the same ufunc on arrays, scalar arithmetic on numbers),
# and on scalars as ``math`` functions: a call costs tens of nanoseconds instead of a microsecond.
# Python's scalar arithmetic raises where NumPy returns inf or nan (1/0, log(0), exp(1000)): the
# caller treats ArithmeticError and ValueError like ``Retrace``.
_INFIX = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/", np.less: "<",
          np.less_equal: "<=", np.greater: ">", np.greater_equal: ">=", np.equal: "==", np.not_equal: "!="}  # fmt: skip
_MATH = {np.exp: "exp", np.log: "log", np.log1p: "log1p", np.expm1: "expm1", np.sqrt: "sqrt", np.sin: "sin",
         np.cos: "cos", np.tanh: "tanh", np.isfinite: "isfinite", special.gammaln: "lgamma",
         special.erf: "erf"}  # fmt: skip
_IDENTITY_ON_SCALARS = {np.sum, np.all, np.any}


def _literal(x) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _short(rec: _Recorder, ufunc, inputs):
    """``(code, uses)`` for a ufunc call written as an operator or a ``math`` call; ``("", sym)``
    where the call is the identity (x + 0, x * 1); None where the plain call must stay."""
    uses: set = set()
    if len(inputs) == 2 and ufunc in _INFIX:
        a, b = inputs
        if ufunc in (np.add, np.subtract) and _literal(b) and b == 0 and type(a) is Sym and a.dtype.kind == "f":
            return "", a
        if ufunc in (np.multiply, np.true_divide) and _literal(b) and b == 1 and type(a) is Sym and a.dtype.kind == "f":
            return "", a
        if ufunc is np.multiply and _literal(a) and a == 1 and type(b) is Sym and b.dtype.kind == "f":
            return "", b
        return f"{rec.render(a, uses)} {_INFIX[ufunc]} {rec.render(b, uses)}", uses
    if len(inputs) == 2 and ufunc is np.power and _literal(inputs[1]) and float(inputs[1]).is_integer():
        return f"{rec.render(inputs[0], uses)} ** {int(inputs[1])}", uses
    if len(inputs) != 1:
        return None
    (x,) = inputs
    if ufunc is np.negative:
        return f"-{rec.render(x, uses)}", uses
    if ufunc is np.square:
        name = rec.render(x, uses)
        return f"{name} * {name}", uses
    if ufunc in _MATH and type(x) is Sym and type(x.v) in (float, np.float64):
        rec.globals.setdefault("math", math)
        return f"math.{_MATH[ufunc]}({x.name})", {x.name}
    return None


class Sym(Wrapped):
    """A traced array: ``v`` its value at the trace point, ``name`` its variable in the code."""

    __slots__ = ("rec", "v", "name")

    def __init__(self, rec: _Recorder, v, name: str):
        self.rec, self.v, self.name = rec, v, name

    # ---- NumPy protocols: ufuncs and functions on a Sym are recorded
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method not in _UFUNC_METHODS or "out" in kwargs:
            raise Unsupported(f"{ufunc.__name__}.{method} with out= (in place)")
        concrete = getattr(ufunc, method)(*_concrete(inputs), **_concrete(kwargs))
        if method == "__call__" and not kwargs:
            short = _short(self.rec, ufunc, inputs)
            if short is not None:
                return self.rec.emit(short[0], concrete, short[1]) if short[0] != "" else short[1]
        head = self.rec.bind(ufunc, "f") + ("" if method == "__call__" else f".{method}")
        return self.rec.call(head, inputs, kwargs, concrete)

    def __array_function__(self, func, types, args, kwargs):
        if func in _SHAPE_QUERIES:
            return func(*_concrete(args), **_concrete(kwargs))
        if func in _IDENTITY_ON_SCALARS and type(args[0]) is Sym and not np.ndim(args[0].v):
            if func is np.sum and kwargs.get("keepdims"):
                raise Unsupported("np.sum(keepdims=True) of a scalar")
            return args[0]  # a sum, all or any of one number is that number (a guard reads its truth)
        if func is np.sum and type(args[0]) is Sym and len(args) == 1 and type(args[0].v) is np.ndarray:
            uses: set = {args[0].name}
            axis = self.rec.render(kwargs.get("axis"), uses)
            keep = bool(kwargs.get("keepdims", False))
            code = f"{args[0].name}.sum({'' if axis == 'None' else 'axis=' + axis}{', keepdims=True' if keep else ''})"
            return self.rec.emit(code, func(args[0].v, **kwargs), uses)
        if func not in _FUNCTIONS:
            raise Unsupported(f"np.{func.__name__} on a traced value")
        concrete = func(*_concrete(args), **_concrete(kwargs))
        return self.rec.call(self.rec.bind(func, "f"), args, kwargs, concrete)

    def __array__(self, *args, **kwargs):
        raise Unsupported("a traced value converted to an array")

    # ---- what Python does with it
    def __bool__(self):
        taken = bool(self.v)
        self.rec.guard(self, taken)
        return taken

    def __float__(self):
        raise Unsupported("a traced value converted to a Python number")

    __int__ = __index__ = __complex__ = __float__

    def __setitem__(self, key, value):
        raise Unsupported("an in-place write to a traced value")

    def __getitem__(self, key):
        uses: set = set()
        code = f"{self.name}[{self.rec.render(key, uses)}]"
        return self.rec.emit(code, self.v[_concrete(key)], uses | {self.name})

    def __len__(self):
        return len(self.v)

    def __iter__(self):
        return (self[i] for i in range(len(self.v)))

    @property
    def size(self) -> int:
        return np.size(self.v)

    @property
    def dtype(self):
        return np.result_type(self.v)

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return np.transpose(self)

    def sum(self, axis=None, keepdims=False):
        return np.sum(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None):
        return np.all(self, axis=axis)

    def any(self, axis=None):
        return np.any(self, axis=axis)

    def max(self, axis=None):
        return np.max(self, axis=axis)

    def reshape(self, *shape):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape)

    def ravel(self):
        return np.ravel(self)

    def astype(self, dtype):
        return self.rec.call(f"{self.name}.astype", (dtype,), {}, self.v.astype(dtype), {self.name})


def _binary(ufunc):
    return (lambda self, o: ufunc(self, o)), (lambda self, o: ufunc(o, self))


for _name, _ufunc in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.true_divide),
                      ("pow", np.power), ("matmul", np.matmul), ("and", np.logical_and), ("or", np.logical_or),
                      ("floordiv", np.floor_divide), ("mod", np.remainder)]:  # fmt: skip
    _f, _r = _binary(_ufunc)
    setattr(Sym, f"__{_name}__", _f)
    setattr(Sym, f"__r{_name}__", _r)
for _name, _ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                      ("eq", np.equal), ("ne", np.not_equal)]:  # fmt: skip
    setattr(Sym, f"__{_name}__", _binary(_ufunc)[0])
Sym.__neg__ = lambda self: np.negative(self)
Sym.__pos__ = lambda self: self
Sym.__abs__ = lambda self: np.absolute(self)
Sym.__invert__ = lambda self: np.logical_not(self)
Sym.__hash__ = None


def pure(fn):
    """``fn`` (a function of arrays with no side effects) recorded as one call when an argument is
    traced: its body runs at run time as written, in-place writes to its own arrays included."""

    def wrapper(*args):
        sym = _find_sym(args)
        if sym is None:
            return fn(*args)
        return sym.rec.call(sym.rec.bind(fn, "f"), args, {}, fn(*_concrete(args)))

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


class TracedFunction:
    """``fn`` traced at ``z0``: ``traced(z)`` returns its outputs (arrays) or raises ``Retrace``."""

    def __init__(self, fn, z0: np.ndarray):
        rec = _Recorder()
        with np.errstate(all="ignore"):
            outputs = fn(Sym(rec, np.array(z0, dtype=np.float64), "z"))
        if any(type(o) is not Sym for o in outputs):
            raise Unsupported("an output that does not depend on the input")
        self.source = rec.source("z", list(outputs))
        self.lines = self.source.count("\n") - 2
        scope = dict(rec.globals)
        exec(compile(self.source, "<zsdsl: traced gradient>", "exec"), scope)  # noqa: S102  # safe: the code is our recording of NumPy calls; names are t/c/f + numbers, constants are bound objects, no user text
        self.traced = scope["traced"]
