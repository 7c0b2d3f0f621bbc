"""User functions (Stan's ``functions`` block): ``def name(x: real[K], s: real) -> real[K]:``.

    def gp_sd(alpha: real, rho: real, lam: real[M]) -> real[M]:   # typed parameters and result
        c = sqrt(sqrt(2 * pi()) * rho)                           # local values
        return alpha * c * exp(-0.25 * rho ^ 2 * lam ^ 2)        # one final return

A function is pure: its body reads only its parameters, its own locals, constants and the builtins
(no data, latents or model values; pass them as arguments). Names in a parameter's shape (``K``, ``M``)
are sizes of the function, bound by each call to the argument's sizes; the result's shape may use them.
Functions may call functions defined above them, not themselves.

Each definition is checked once with its declared parameter types (errors at the body's spans, also
for a function never called); each call checks its arguments against the parameter types (errors at
the argument) and is **inlined**: the call's value is the body's expression with the arguments in
place, so the PyTorch path and the emitted gradient path need nothing new (the gradient path shares
identical subexpressions). The emitted code has no Python function of the user's name.
"""

from __future__ import annotations

from zsdsl.compiler import builtins, ir
from zsdsl.compiler.scope import Scope, Sym
from zsdsl.compiler.shapes import dim_op, fmt_shape, fmt_ty
from zsdsl.compiler.signatures import DISTRIBUTIONS
from zsdsl.errors import NameError_, ShapeError, TypeError_, ZsdslError
from zsdsl.grammar import ast as A

_TYPES = {"real": "real", "int": "int", "bool": "bool"}
_RESERVED = {"logpdf", "range"}


def define_function(ex, f: A.FunctionDef) -> None:
    """Check ``f``'s definition and add it to ``ex.functions`` (``ex``: the expression checker)."""
    if f.name in ex.functions:
        raise NameError_(f"The function '{f.name}' is already defined (line {ex.functions[f.name].span.line}).",
                         f.span)  # fmt: skip
    if f.name in builtins.known_functions() or f.name in DISTRIBUTIONS or f.name in _RESERVED:
        raise NameError_(f"'{f.name}' is a builtin; give the function another name.", f.span)
    if f.result is None:
        raise TypeError_(f"The function '{f.name}' has no 'return'; its last line is 'return expression'.", f.span)
    seen = set()
    for p in f.params:
        if p.name in seen:
            raise NameError_(f"The parameter '{p.name}' is given twice.", p.span)
        seen.add(p.name)
        _param_type(p.type)
    free = {d.id for p in f.params for d in p.type.shape if isinstance(d, A.Name)}
    for d in f.returns.shape:
        if isinstance(d, A.Name) and d.id not in free:
            raise ShapeError(f"The result's size '{d.id}' is not a size of a parameter; the result's sizes come "
                             "from the parameters' (x: real[K] -> real[K]).", d.span)  # fmt: skip
    args = [ir.Ref(name=p.name, role="det", ty=ir.Ty(dtype=_param_type(p.type)[0], shape=_declared(p.type)))
            for p in f.params]  # fmt: skip
    ex.functions[f.name] = f  # known while its body is checked: a call of itself is then recognised
    try:
        _inline(ex, f, args, (), None)
    except ZsdslError:
        del ex.functions[f.name]
        ex.scope.failed.add(f.name)  # its calls are not errors of their own
        raise


def call_function(ex, f: A.FunctionDef, call: A.Call, E):
    """The inlined value of ``call`` (a call of the user function ``f``)."""
    if call.kwargs:
        raise TypeError_(f"{f.name}() takes its arguments by position.", call.kwargs[0].span)
    if len(call.args) != len(f.params):
        sig = ", ".join(p.name for p in f.params)
        raise TypeError_(f"{f.name}({sig}) takes {len(f.params)} argument{'s' if len(f.params) != 1 else ''}, "
                         f"got {len(call.args)}.", call.span)  # fmt: skip
    args = [ex.expr(a, E) for a in call.args]
    try:
        return _inline(ex, f, args, E, call)
    except ZsdslError as err:
        if err.span.line and f.span.line <= err.span.line <= f.span.end_line:  # in the body: say which call
            raise type(err)(f"In this call of {f.name}: {err.message} (line {err.span.line})", call.span) from None
        raise


def _inline(ex, f: A.FunctionDef, args: list, E, call):
    scope = Scope()  # no parent: a function reads its parameters and locals only
    sizes: dict[str, ir.Dim] = {}
    for p, x, node in zip(f.params, args, call.args if call is not None else f.params, strict=True):
        _bind(f, p, x, node, sizes)
        scope.syms[p.name] = Sym(p.name, "fn_value", x.ty.dtype, x.ty.shape, span=p.span, value=x)
    for name, d in sizes.items():
        if name not in scope.syms:
            scope.syms[name] = Sym(name, "dim", "int", span=f.span, dim_value=d)
    saved, stack = ex.scope, ex.inlining
    if f.name in stack:
        raise TypeError_(f"'{f.name}' calls itself; recursive functions are not supported.", f.span)
    ex.scope, ex.inlining = scope, (*stack, f.name)
    try:
        for stmt in f.body:
            if stmt.target.indices or stmt.options or stmt.type is not None:
                raise TypeError_("A function's lines are 'name = expression' (no indices, types or options).",
                                 stmt.span)  # fmt: skip
            x = ex.expr(stmt.value, E)
            scope.define(Sym(stmt.target.name, "fn_value", x.ty.dtype, x.ty.shape, span=stmt.span, value=x))
        result = ex.expr(f.result.value, E)
    finally:
        ex.scope, ex.inlining = saved, stack
    _check_result(f, result, sizes)
    return result


def _bind(f, p: A.Param, x, node, sizes: dict) -> None:
    dtype, _ = _param_type(p.type)
    where = f"The argument '{p.name}' of {f.name}"
    if dtype == "int" and x.ty.dtype != "int" or dtype == "bool" and x.ty.dtype != "bool":
        raise TypeError_(f"{where} is declared {dtype}, got {x.ty.dtype}.", node.span)
    if dtype == "real" and x.ty.dtype == "bool":
        raise TypeError_(f"{where} is declared real, got a comparison.", node.span)
    shape = x.ty.shape
    if len(shape) != len(p.type.shape):
        raise ShapeError(f"{where} is declared {_show(p.type)}, got {fmt_ty(x.ty.dtype, x.ty.shape)}.", node.span)
    for d, actual in zip(p.type.shape, shape, strict=True):
        want = d.value if isinstance(d, A.Num) else sizes.get(d.id)
        if want is None:
            sizes[d.id] = actual
        elif dim_op("-", want, actual) != 0:
            bound = f" ({d.id} = {want} from an earlier argument)" if isinstance(d, A.Name) else ""
            raise ShapeError(
                f"{where} is declared {_show(p.type)}{bound}, got {fmt_ty(x.ty.dtype, x.ty.shape)}.", node.span
            )


def _check_result(f, result, sizes: dict) -> None:
    dtype, _ = _param_type(f.returns)
    want = tuple(d.value if isinstance(d, A.Num) else sizes[d.id] for d in f.returns.shape)
    got = tuple(result.ty.shape)
    same = len(want) == len(got) and all(dim_op("-", a, b) == 0 for a, b in zip(want, got, strict=True))
    if not same or (dtype != "real" and result.ty.dtype != dtype) or (dtype == "real" and result.ty.dtype == "bool"):
        got_ty = fmt_ty(result.ty.dtype, result.ty.shape)
        raise ShapeError(f"{f.name} is declared to return {_show(f.returns)}"
                         f"{' = ' + dtype + fmt_shape(want) if want != tuple(f.returns.shape) and want else ''}, "
                         f"but its return gives {got_ty}.", f.result.span)  # fmt: skip


def _param_type(t: A.TypeSpec) -> tuple[str, tuple]:
    if t.base not in _TYPES:
        raise TypeError_(f"A function's parameter and result types are real, int or bool with a shape "
                         f"(real[K]); got '{t.base}'.", t.span)  # fmt: skip
    if t.lower is not None or t.upper is not None or t.values is not None:
        raise TypeError_("A function's types carry no constraint (write real[K], not real[K] in (0, inf)).", t.span)
    for d in t.shape:
        if not (isinstance(d, A.Name) or isinstance(d, A.Num) and isinstance(d.value, int) and d.value >= 0):
            raise ShapeError("A size in a function's type is a name (K) or a non-negative integer.", d.span)
    return _TYPES[t.base], tuple(t.shape)


def _declared(t: A.TypeSpec) -> tuple:
    return tuple(d.value if isinstance(d, A.Num) else d.id for d in t.shape)


def _show(t: A.TypeSpec) -> str:
    return t.base + (fmt_shape(_declared(t)) if t.shape else " (a scalar)")
