"""The forward-sensitivity system of an ODE, emitted as straight-line Python over floats.

For ``dy/dt = f(t, y, a)`` with the state's sensitivities ``S = dy/d(y0, a)`` (``[n, m]``, ``m = n + p``
for the ``p`` argument elements), the coupled system is ``dS/dt = J_y S + [0 | J_a]`` (Stan integrates the
same coupled system, with the same tolerances on every component). ``helper(ode)`` gives the source of

    @zl.ode_jit
    def NAME(t, y, a, out):      # y: the state then S row-major (n + n*m floats); a: the arguments, flat
        ...
        out[0] = f_0; ...; out[n + n*m - 1] = dS_{n-1,m-1}

(compiled by numba: ``zsdsl.runtime.lib.dopri5`` integrates it as machine code), built by forward-mode
differentiation of the right-hand side's IR: every scalar of the body carries its
derivatives along the m sensitivity directions (the state's tangent is its row of S, an argument's a unit
vector), so the sensitivities' derivatives are those tangents of f. The body must have sizes known at
compile time and use the operations below; anything else returns the reason instead, and the solve then
runs through torchdiffeq with autograd (slower, and the compiler says so).
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache

from zsdsl.compiler import ir


class _Unsupported(Exception):
    pass


_SIMPLE = re.compile(r"-?[A-Za-z_][A-Za-z0-9_]*|\(?-?[0-9.e+-]+\)?")  # a name or a number: no local needed


_SIGMOID = "(1.0 / (1.0 + math.exp(-{x})) if {x} >= 0.0 else 1.0 - 1.0 / (1.0 + math.exp({x})))"  # no overflow

# name → (value code of x, derivative code of the value v with respect to x, from x and v)
_UNARY = {
    "exp": ("math.exp({x})", "{v}"),
    "log": ("math.log({x})", "1.0 / {x}"),
    "sqrt": ("math.sqrt({x})", "0.5 / {v}"),
    "square": ("{x} * {x}", "2.0 * {x}"),
    "sin": ("math.sin({x})", "math.cos({x})"),
    "cos": ("math.cos({x})", "-math.sin({x})"),
    "tanh": ("math.tanh({x})", "1.0 - {v} * {v}"),
    "sigmoid": (_SIGMOID, "{v} * (1.0 - {v})"),
    "inv_logit": (_SIGMOID, "{v} * (1.0 - {v})"),
    "log1p": ("math.log1p({x})", "1.0 / (1.0 + {x})"),
    "expm1": ("math.expm1({x})", "{v} + 1.0"),
}


@lru_cache(maxsize=256)
def helper(ode: ir.Ode) -> tuple[str | None, str]:
    """(name, source) of the coupled system's function, or (None, why there is none)."""
    try:
        sizes = [_static(ode.y0.ty.shape), *(_static(a.ty.shape) for a in ode.args)]
    except _Unsupported as why:
        return None, str(why)
    n = math.prod(sizes[0])
    p = sum(math.prod(s) for s in sizes[1:])
    digest = hashlib.sha1(ode.model_dump_json().encode()).hexdigest()[:8]
    name = f"_ode_{ode.func}_{ode.line}_{digest}"
    g = _Gen(n, n + p)
    try:
        inputs = {ode.params[0]: ([], [("t", {})]), ode.params[1]: (sizes[0], g.state())}
        offset = n
        for pname, shape in zip(ode.params[2:], sizes[1:], strict=True):
            size = math.prod(shape)
            inputs[pname] = (shape, g.argument(offset, size))
            offset += size
        g.inputs = inputs
        shape, elems = g.value(ode.rhs)
    except _Unsupported as why:
        return None, f"the right-hand side of {ode.func} uses {why}, which the sensitivity solver does not handle"
    return name, g.source(name, elems)


def _static(shape) -> list[int]:
    if len(shape) > 1 or not all(isinstance(d, int) for d in shape):
        raise _Unsupported("the state and the arguments need sizes known at compile time (vectors or numbers)")
    return list(shape)


class _Gen:
    """Emits lines; a scalar is (code, {direction: derivative code}) with zero derivatives left out."""

    def __init__(self, n: int, m: int):
        self.n, self.m = n, m
        self.lines: list[str] = []
        self.count = 0
        self.inputs: dict = {}
        self.p = 0  # the argument elements

    def state(self) -> list:
        return [(f"y{j}", {k: f"s{j}_{k}" for k in range(self.m)}) for j in range(self.n)]

    def argument(self, offset: int, size: int) -> list:
        self.p = offset - self.n + size
        return [(f"a{offset - self.n + i}", {offset + i: "1.0"}) for i in range(size)]

    def source(self, name: str, elems: list) -> str:
        out = [code for code, _ in elems]
        out += [tan.get(k, "0.0") for _, tan in elems for k in range(self.m)]
        body = ["@zl.ode_jit", f"def {name}(t, y, a, out):",
                "    # the ODE's coupled sensitivity system (zsdsl.compiler.ode_sens), compiled by numba"]  # fmt: skip
        states = [f"y{j}" for j in range(self.n)] + [f"s{j}_{k}" for j in range(self.n) for k in range(self.m)]
        body += [f"    {v} = y[{i}]" for i, v in enumerate(states)]
        body += [f"    a{i} = a[{i}]" for i in range(self.p)]
        body += ["    " + line for line in self.lines]
        body += [f"    out[{i}] = {code}" for i, code in enumerate(out)]
        return "\n".join(body)

    def let(self, code: str) -> str:
        """A new local holding ``code`` (derivatives are expressions of locals, so each value once)."""
        self.count += 1
        var = f"v{self.count}"
        self.lines.append(f"{var} = {code}")
        return var

    def scalar(self, code: str, tan: dict) -> tuple:
        v = self.let(code)
        return v, {k: d if _SIMPLE.fullmatch(d) else self.let(d) for k, d in tan.items()}

    # ------------------------------------------------------------ values: (shape, [scalar, ...])
    def value(self, e) -> tuple[list, list]:
        method = getattr(self, "_" + e.kind, None)
        if method is None:
            raise _Unsupported(f"the expression kind '{e.kind}'")
        return method(e)

    def _const(self, e: ir.Const):
        if e.ty.dtype == "bool":
            raise _Unsupported("a comparison")
        code = repr(float(e.value))
        if not math.isfinite(e.value):
            raise _Unsupported("an infinite constant")
        return [], [(f"({code})" if code.startswith("-") else code, {})]

    def _ref(self, e: ir.Ref):
        if e.role != "fn_arg" or e.name not in self.inputs:
            raise _Unsupported(f"the {e.role} '{e.name}'")
        return self.inputs[e.name]

    def _index(self, e: ir.Index):
        shape, elems = self.value(e.base)
        if len(shape) != 1 or len(e.items) != 1:
            raise _Unsupported("an index of this form")
        item, size = e.items[0], shape[0]
        if item.mode == "full":
            return shape, elems
        if item.mode == "select" and isinstance(item.index, ir.Const):
            return [], [elems[int(item.index.value) % size]]
        if item.mode == "slice" and all(b is None or isinstance(b, ir.Const) for b in (item.start, item.stop)):
            lo = None if item.start is None else int(item.start.value)
            hi = None if item.stop is None else int(item.stop.value)
            picked = elems[lo:hi]
            return [len(picked)], picked
        raise _Unsupported("an index that is not a constant")

    def _list(self, e: ir.ListE):
        items = [self.value(x) for x in e.items]
        if any(shape for shape, _ in items):
            raise _Unsupported("a list of vectors")
        return [len(items)], [elems[0] for _, elems in items]

    def _neg(self, e: ir.Neg):
        shape, elems = self.value(e.operand)
        return shape, [self.scalar(f"-{c}", {k: f"-{d}" for k, d in t.items()}) for c, t in elems]

    def _binop(self, e: ir.BinOp):
        if e.op not in ("+", "-", "*", "/", "**"):
            raise _Unsupported(f"the operator '{e.op}'")
        return self._elementwise(e.left, e.right, lambda a, b: self._arith(e.op, a, b))

    def _call(self, e: ir.Call):
        if e.func in _UNARY and len(e.args) == 1:
            shape, elems = self.value(e.args[0])
            return shape, [self._unary(e.func, x) for x in elems]
        if e.func == "pow" and len(e.args) == 2:
            return self._elementwise(e.args[0], e.args[1], lambda a, b: self._arith("**", a, b))
        if e.func == "sum" and len(e.args) == 1 and set(dict(e.static)) <= {"ndims"}:  # over every element
            _, elems = self.value(e.args[0])
            return [], [self._total(elems)]
        if e.func == "dot" and len(e.args) == 2:
            _, x = self.value(e.args[0])
            _, y = self.value(e.args[1])
            return [], [self._total([self._arith("*", a, b) for a, b in zip(x, y, strict=True)])]
        raise _Unsupported(f"the function '{e.func}'")

    # ------------------------------------------------------------ scalar rules
    def _elementwise(self, left, right, op):
        (ls, lx), (rs, rx) = self.value(left), self.value(right)
        if ls and rs and ls != rs:
            raise _Unsupported("operands of different lengths")
        size = max(len(lx), len(rx))
        return ls or rs, [op(lx[i % len(lx)], rx[i % len(rx)]) for i in range(size)]

    def _total(self, elems: list) -> tuple:
        if not elems:
            return "0.0", {}
        keys = sorted({k for _, t in elems for k in t})
        code = " + ".join(c for c, _ in elems)
        return self.scalar(code, {k: " + ".join(t[k] for _, t in elems if k in t) for k in keys})

    def _arith(self, op: str, a: tuple, b: tuple) -> tuple:
        (x, tx), (y, ty) = a, b
        keys = sorted(set(tx) | set(ty))
        if op == "+":
            return self.scalar(f"{x} + {y}", {k: _sum(tx.get(k), ty.get(k)) for k in keys})
        if op == "-":
            return self.scalar(f"{x} - {y}", {k: _sum(tx.get(k), f"-{ty[k]}" if k in ty else None) for k in keys})
        if op == "*":
            return self.scalar(f"{x} * {y}", {k: _sum(_mul(tx.get(k), y), _mul(x, ty.get(k))) for k in keys})
        if op == "/":
            v = self.let(f"{x} / {y}")
            return v, {k: self.let(f"({_sum(tx.get(k), f'-{v} * {ty[k]}' if k in ty else None)}) / {y}") for k in keys}
        # x ** y: v y x^(y-1) along x, v log(x) along y
        v = self.let(f"{x} ** {y}")
        if not ty:
            dv = self.let(f"{y} * {x} ** ({y} - 1.0)")
            return v, {k: self.let(f"{dv} * {tx[k]}") for k in keys}
        return v, {k: self.let(_sum(f"{y} * {x} ** ({y} - 1.0) * {tx[k]}" if k in tx else None,
                                    f"{v} * math.log({x}) * {ty[k]}" if k in ty else None)) for k in keys}  # fmt: skip

    def _unary(self, func: str, a: tuple) -> tuple:
        x, tx = a
        value, deriv = _UNARY[func]
        v = self.let(value.format(x=x))
        if not tx:
            return v, {}
        dv = self.let(deriv.format(x=x, v=v))
        return v, {k: self.let(f"{dv} * {d}") for k, d in tx.items()}


def _mul(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return b if a == "1.0" else a if b == "1.0" else f"{a} * {b}"


def _sum(*terms) -> str:
    kept = [t for t in terms if t is not None]
    return " + ".join(kept) if kept else "0.0"
