"""The primitive form: a straight-line list of typed operations, built by ``Builder``.

Every value (``Val``) has a full symbolic shape (its leading ``lead`` axes are the plates of the
context it was computed in, size 1 where it does not vary), a dtype, and whether it depends on the
unconstrained vector ``z`` at all (``data`` values are computed once per data set). Values known at
compile time are Python numbers (``const``) and fold: ``log(5)`` is a literal, ``x + 0`` is ``x``.
Identical operations on identical operands are shared (one ``beta[0]`` however often it is read).

``Val`` overloads the arithmetic operators, so the density table writes ``-0.5 * z * z`` for both
this builder and PyTorch tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class Unsupported(Exception):
    """The model uses something the emitted gradient path has no rule for (the message says what)."""


class Val:
    __slots__ = ("b", "name", "shape", "lead", "dtype", "data", "const")

    def __init__(self, b, name, shape, lead, dtype, data, const=None):
        self.b, self.name, self.shape, self.lead = b, name, tuple(shape), lead
        self.dtype, self.data, self.const = dtype, data, const

    @property
    def elem(self) -> int:
        return len(self.shape) - self.lead

    @property
    def scalar(self) -> bool:
        return not self.shape

    def __repr__(self):
        return f"Val({self.name}, {self.shape}, lead={self.lead})"

    def with_lead(self, lead: int) -> Val:
        """The same array read with another number of leading plate axes (a data field's leading axes as the
        plates of its observed site; a value of other plates read whole)."""
        return Val(self.b, self.name, self.shape, lead, self.dtype, self.data, self.const)

    # arithmetic, for the density table's formulas
    def __add__(self, o):
        return self.b.binary("add", self, o)

    def __radd__(self, o):
        return self.b.binary("add", o, self)

    def __sub__(self, o):
        return self.b.binary("sub", self, o)

    def __rsub__(self, o):
        return self.b.binary("sub", o, self)

    def __mul__(self, o):
        return self.b.binary("mul", self, o)

    def __rmul__(self, o):
        return self.b.binary("mul", o, self)

    def __truediv__(self, o):
        return self.b.binary("div", self, o)

    def __rtruediv__(self, o):
        return self.b.binary("div", o, self)

    def __pow__(self, o):
        return self.b.binary("pow", self, o)

    def __neg__(self):
        return self.b.unary("neg", self)


@dataclass
class Op:
    out: Val
    prim: str
    args: tuple
    attrs: tuple = ()


_FOLD1 = {
    "neg": lambda x: -x, "exp": math.exp, "log": math.log, "log1p": math.log1p, "expm1": math.expm1,
    "sqrt": math.sqrt, "square": lambda x: x * x, "lgamma": math.lgamma, "tanh": math.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)), "abs": abs,
    "softplus": lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))),
}  # fmt: skip
_FOLD2 = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b, "logaddexp": lambda a, b: max(a, b) + math.log1p(math.exp(-abs(a - b))),
}  # fmt: skip
COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "and": "&"}


def literal(x) -> str:
    """Python source for a number (``math.inf`` for infinities)."""
    if isinstance(x, float):
        if math.isinf(x):
            return "math.inf" if x > 0 else "(-math.inf)"
        if math.isnan(x):
            return "math.nan"
        return repr(x)
    return repr(int(x))


def broadcast(a: tuple, b: tuple) -> tuple:
    """Right-aligned broadcast of two symbolic shapes; sizes that cannot be shown equal are refused."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise Unsupported(f"sizes {x} and {y} that the gradient emitter cannot show to be equal")
    return tuple(reversed(out))


@dataclass
class Builder:
    ops: list = field(default_factory=list)
    _memo: dict = field(default_factory=dict)
    _producer: dict = field(default_factory=dict)  # value name -> the operation that computed it
    _count: int = 0

    # ------------------------------------------------------------ values
    def const(self, x) -> Val:
        if isinstance(x, bool):
            x = int(x)
        return Val(self, literal(x), (), 0, "real" if isinstance(x, float) else "int", True, x)

    def input(self, shape: tuple, lead: int) -> Val:
        """A latent site's slice of the unconstrained vector ``z`` (no operation computes it)."""
        self._count += 1
        return Val(self, f"v{self._count}", shape, lead, "real", False)

    def lift(self, x) -> Val:
        return x if isinstance(x, Val) else self.const(x)

    def emit(self, prim, args, shape, lead, dtype, attrs=(), data=None) -> Val:
        """A new value computed by ``prim`` (or the one computed before by the same operation)."""
        args = tuple(args)
        key = (prim, tuple((a.name, a.lead) for a in args), attrs)
        if key in self._memo:
            return self._memo[key]
        if data is None:
            data = all(a.data for a in args)
        self._count += 1
        out = Val(self, f"{'c' if data else 'v'}{self._count}", shape, lead, dtype, data)
        self.ops.append(Op(out, prim, args, attrs))
        self._memo[key] = out
        self._producer[out.name] = self.ops[-1]
        return out

    # ------------------------------------------------------------ elementwise
    def unary(self, prim: str, x) -> Val:
        x = self.lift(x)
        if x.const is not None and prim in _FOLD1:
            return self.const(float(_FOLD1[prim](x.const)))
        if prim in ("neg", "log") and x.const is None:
            op = self._op_of(x)
            if op is not None and (prim, op.prim) in (("neg", "neg"), ("log", "exp")):
                return op.args[0]  # -(-x) and log(exp(x)) are x
        dtype = "int" if prim in ("neg", "abs") and x.dtype == "int" else "real"
        return self.emit(prim, (x,), x.shape, x.lead, dtype)

    def _op_of(self, x: Val) -> Op | None:
        """The operation that computed ``x`` (not a re-read of its array with other plate axes)."""
        op = self._producer.get(x.name)
        return op if op is not None and op.out is x else None

    def elementwise(self, prim: str, *args, dtype: str = "real") -> Val:
        """An elementwise operation: operands padded to a common element rank (singleton axes between their
        plate axes and their element axes), then broadcast."""
        args = [self.lift(a) for a in args]
        rank = max(a.elem for a in args)
        args = [self.pad(a, rank) for a in args]
        shape: tuple = ()
        for a in args:
            shape = broadcast(shape, a.shape)
        return self.emit(prim, args, shape, max(a.lead for a in args), dtype)

    def pad(self, x: Val, rank: int) -> Val:
        if x.lead == 0 or x.elem >= rank or x.const is not None:
            return x
        n = rank - x.elem
        shape = x.shape[: x.lead] + (1,) * n + x.shape[x.lead :]
        return self.emit("expand", (x,), shape, x.lead, x.dtype, (x.lead, n))

    def binary(self, prim: str, a, b) -> Val:
        a, b = self.lift(a), self.lift(b)
        if a.const is not None and b.const is not None and prim in _FOLD2:
            value = _FOLD2[prim](a.const, b.const)
            return self.const(float(value) if prim in ("div", "logaddexp") or "real" in (a.dtype, b.dtype) else value)
        if prim == "add" and a.const == 0:
            return b
        if prim in ("add", "sub") and b.const == 0:
            return a
        if prim == "mul" and a.const == 1:
            return b
        if prim in ("mul", "div") and b.const == 1:
            return a
        if prim == "pow" and b.const == 2:
            return self.unary("square", a)
        if prim == "sub" and a.const == 0:
            return self.unary("neg", b)
        if prim == "mul" and a is b:
            return self.unary("square", a)
        if prim in ("add", "sub") and b.const is not None:
            folded = self._fold_offset(a, b.const if prim == "add" else -b.const)
            if folded is not None:
                return folded
        a, b = self._as_real(a, b, prim), self._as_real(b, a, prim)
        if prim in COMPARE:
            dtype = "bool"
        elif prim == "div" or "real" in (a.dtype, b.dtype):
            dtype = "real"
        else:
            dtype = "int"
        return self.elementwise(prim, a, b, dtype=dtype)

    def _as_real(self, x: Val, other: Val, prim: str) -> Val:
        """Integer data in arithmetic with reals: converted once per data set, not at every call."""
        if x.data and x.dtype != "real" and x.shape and other.dtype == "real" and prim in ("add", "sub", "mul", "div"):
            return self.emit("to_real", (x,), x.shape, x.lead, "real")
        return x

    def _fold_offset(self, a: Val, c) -> Val | None:
        """(x ± k) + c as x + (c ± k): one operation for a chain of constant offsets."""
        op = self._op_of(a)
        if op is None or op.prim not in ("add", "sub"):
            return None
        x, y = op.args
        if y.const is not None:
            k = y.const if op.prim == "add" else -y.const
            return self.binary("add", x, self.const(float(k + c)))
        if x.const is not None and op.prim == "sub":
            return self.binary("sub", self.const(float(x.const + c)), y)
        return None

    def size_of(self, shape: tuple) -> Val:
        """The number of elements of a symbolic shape (a literal, or a size computed in ``make``): one value
        per size, however many terms read it."""
        from zsdsl.compiler.emit_expr import dim_code

        if all(isinstance(d, int) for d in shape):
            return self.const(math.prod(shape))
        if len(shape) == 1:
            return self.integer(dim_code(shape[0]))
        return self.integer(" * ".join(f"({dim_code(d)})" for d in shape))

    def integer(self, code: str) -> Val:
        """An integer computed in ``make`` from the sizes ``d`` (e.g. ``d["T"]-d["K"]``)."""
        return self.emit("code", (), (), 0, "int", (code,), data=True)

    def where(self, cond, a, b) -> Val:
        cond, a, b = self.lift(cond), self.lift(a), self.lift(b)
        if cond.const is not None:
            return a if cond.const else b
        return self.elementwise("where", cond, a, b, dtype="real" if "real" in (a.dtype, b.dtype) else a.dtype)

    # ------------------------------------------------------------ reductions
    def sum_all(self, x: Val) -> Val:
        """The sum of every element; sums of offsets and scalings are taken apart, so the scalar
        maths runs on Python floats and the data's share is folded once per data set."""
        if x.scalar:
            return x
        op = self._op_of(x)
        if op is not None and op.prim in ("add", "sub", "mul"):
            a, b = op.args
            if op.prim == "mul":
                if a.scalar:
                    return a * self.sum_all(b)
                if b.scalar:
                    return self.sum_all(a) * b
                if len(a.shape) == 1 and a.shape == b.shape:
                    return self.emit("vdot", (a, b), (), 0, "real")
            else:
                parts = [self._share(a, x.shape), self._share(b, x.shape)]
                if None not in parts:  # sum(a ± b) = sum(a) ± sum(b): one array operation fewer
                    return self.binary(op.prim, *parts)
        return self.emit("sum", (x,), (), 0, x.dtype if x.dtype != "bool" else "int", (tuple(range(len(x.shape))),))

    def _share(self, y: Val, shape: tuple) -> Val | None:
        """sum(y broadcast to ``shape``): a scalar times the size, or the sum of a full-shape value."""
        if y.scalar:
            return y * self.size_of(shape)
        if tuple(y.shape) == tuple(shape):
            return self.sum_all(y)
        return None

    def sum_last(self, x: Val, n: int) -> Val:
        if n <= 0:
            return x
        if n > x.elem:
            raise Unsupported("a reduction over more dims than the value has")
        axes = tuple(range(len(x.shape) - n, len(x.shape)))
        return self.emit("sum", (x,), x.shape[: len(x.shape) - n], x.lead, x.dtype, (axes,))
