"""Checking ODE solutions (Stan's ``ode_rk45``): the right-hand side is a user function.

    def dz_dt(t: real, z: real[2], theta: real[4]) -> real[2]:    # time, state, then extra arguments
        return [theta[0] * z[0] - theta[1] * z[0] * z[1], -theta[2] * z[1] + theta[3] * z[0] * z[1]]

    z = ode_rk45(dz_dt, z_init, 0.0, ts, theta, rtol=1e-5, atol=1e-3, max_steps=500)   # real[N, 2]

``ode_rk45(f, y0, t0, ts, *args, rtol=, atol=, max_steps=)``: ``f(t, y, *args)`` returns dy/dt with the
state's shape; ``y0`` is a vector (the state at ``t0``); ``t0`` and ``ts`` (strictly increasing, after
``t0``) are data or constants; ``args`` are any values (latents too), passed to ``f`` after the state. The
value is the state at each of the times, ``real[T, n]`` (a row per time, as Stan's array of vectors). The
tolerances default to Stan's (1e-6, 1e-6, 1e6 steps between output times).

The function's body is inlined once, with its parameters read as placeholders (``ir.Ref`` of role
``fn_arg``) that the emitted code binds to the solver's time, state and arguments.
"""

from __future__ import annotations

from zsdsl.compiler import ir
from zsdsl.compiler.check_functions import _bind, _inline, _param_type
from zsdsl.compiler.shapes import dim_op, fmt_ty
from zsdsl.compiler.supports import _roles
from zsdsl.errors import ShapeError, TypeError_
from zsdsl.grammar import ast as A

SOLVERS = ("ode_rk45",)
SIGNATURE = "ode_rk45(f, y0, t0, ts, ...args, rtol=, atol=, max_steps=)"
# Stan's other ODE interfaces, with the zsdsl form (the non-stiff solver stands in for all of them)
STAN_FORMS = {
    "integrate_ode_rk45": "Stan's integrate_ode_rk45(f, y0, t0, ts, theta, x_r, x_i, rtol, atol, max_steps) is "
    "ode_rk45(f, y0, t0, ts, theta, rtol=, atol=, max_steps=) here: f(t: real, y: real[n], theta: real[K]) -> "
    "real[n] takes its extra arguments directly (no x_r, x_i).",
    "ode_rk45_tol": "Stan's ode_rk45_tol(f, y0, t0, ts, rtol, atol, max_steps, ...) is "
    "ode_rk45(f, y0, t0, ts, ..., rtol=, atol=, max_steps=) here.",
}
for _stiff in ("ode_bdf", "ode_bdf_tol", "integrate_ode_bdf", "ode_adams", "ode_adams_tol", "ode_ckrk", "ode_ckrk_tol"):
    STAN_FORMS[_stiff] = (f"zsdsl has no {_stiff}; its ODE solver is ode_rk45(f, y0, t0, ts, ...args, rtol=, "
                          "atol=, max_steps=) (Dormand-Prince, for non-stiff systems).")  # fmt: skip
_OPTIONS = {"rtol": 1e-6, "atol": 1e-6, "max_steps": 1_000_000}


def check_ode(ex, e: A.Call, E):
    """The ``ir.Ode`` of the call ``e`` (``ex``: the expression checker)."""
    if E:
        raise ShapeError(f"An ODE is solved at the top level, not inside plate '{E[-1]}': solve one system whose "
                         "state holds every member's (a state may be any length).", e.func_span)  # fmt: skip
    if ex.inlining:
        raise TypeError_(f"{e.func} is called from the model, not from inside a function.", e.func_span)
    if len(e.args) < 4:
        raise TypeError_(f"{SIGNATURE} takes the right-hand side (a user function), the initial state, the initial "
                         f"time and the output times, then f's extra arguments; got {len(e.args)} "
                         f"argument{'s' if len(e.args) != 1 else ''}.", e.span)  # fmt: skip
    f = _function(ex, e.args[0])
    options = _options(e)
    y0, t0, ts = (ex.expr(a, E) for a in e.args[1:4])
    extra = [ex.expr(a, E) for a in e.args[4:]]
    _check_times(ex, t0, ts, e)
    if y0.ty.dtype == "bool" or y0.ty.rank != 1:
        got = fmt_ty(y0.ty.dtype, y0.ty.shape)
        raise ShapeError(f"The initial state of {e.func} is a vector (real[n]), got {got}.", e.args[1].span)
    if len(f.params) != 2 + len(extra):
        raise TypeError_(f"{f.name} takes {len(f.params)} argument{'s' if len(f.params) != 1 else ''}; {e.func} passes "
                         f"the time, the state and the {len(extra)} extra argument{'s' if len(extra) != 1 else ''} "
                         f"after ts (the parameters after the state: {_names(f.params[2:])}).", e.span)  # fmt: skip
    t_param = f.params[0]
    if _param_type(t_param.type)[0] != "real" or t_param.type.shape:
        raise TypeError_(f"The first parameter of {f.name} is the time: declare it '{t_param.name}: real'.",
                         t_param.span)  # fmt: skip
    sizes: dict = {}
    for p, x, node in zip(f.params[1:], [y0, *extra], [e.args[1], *e.args[4:]], strict=True):
        _bind(f, p, x, node, sizes)
    holders = [_holder(t_param.name, "real", ()), _holder(f.params[1].name, "real", y0.ty.shape)]
    holders += [_holder(p.name, x.ty.dtype, x.ty.shape) for p, x in zip(f.params[2:], extra, strict=True)]
    rhs = _inline(ex, f, holders, (), None)
    if rhs.ty.rank != 1 or dim_op("-", rhs.ty.shape[0], y0.ty.shape[0]) != 0:
        raise ShapeError(f"{f.name} returns {fmt_ty(rhs.ty.dtype, rhs.ty.shape)}, but the state y0 is "
                         f"{fmt_ty('real', y0.ty.shape)}: dy/dt has the state's shape.", e.args[0].span)  # fmt: skip
    return ir.Ode(solver=e.func, func=f.name, params=tuple(p.name for p in f.params), rhs=rhs, y0=y0, t0=t0, ts=ts,
                  args=tuple(extra), ranks=tuple(len(p.type.shape) for p in f.params[2:]), line=e.span.line,
                  ty=ir.Ty(dtype="real", shape=(ts.ty.shape[0], y0.ty.shape[0])), **options)  # fmt: skip


def _function(ex, node):
    if isinstance(node, A.Name) and node.id in ex.functions:
        return ex.functions[node.id]
    what = f"'{node.id}' is not a user function" if isinstance(node, A.Name) else "this is not a function's name"
    raise TypeError_(f"The first argument of ode_rk45 is the right-hand side, a function defined above with 'def' "
                     f"(def f(t: real, y: real[n], ...) -> real[n]:); {what}.", node.span)  # fmt: skip


def _options(e: A.Call) -> dict:
    out = dict(_OPTIONS)
    for kw in e.kwargs:
        if kw.name not in _OPTIONS:
            raise TypeError_(f"{e.func}() takes rtol=, atol= and max_steps=; got '{kw.name}='.", kw.span)
        v = kw.value.value if isinstance(kw.value, A.Num) else None
        if v is None or v <= 0 or kw.name == "max_steps" and not isinstance(v, int):
            want = "a positive integer" if kw.name == "max_steps" else "a positive number"
            raise TypeError_(f"{kw.name}= is {want} written in the model (a literal).", kw.value.span)
        out[kw.name] = int(v) if kw.name == "max_steps" else float(v)
    return out


def _check_times(ex, t0, ts, e: A.Call) -> None:
    if t0.ty.rank or t0.ty.dtype == "bool":
        raise ShapeError(f"The initial time of {e.func} is a number, got {fmt_ty(t0.ty.dtype, t0.ty.shape)}.",
                         e.args[2].span)  # fmt: skip
    if ts.ty.rank != 1 or ts.ty.dtype == "bool":
        got = fmt_ty(ts.ty.dtype, ts.ty.shape)
        raise ShapeError(f"The output times of {e.func} are a vector (real[T]), got {got}.", e.args[3].span)
    for x, node, what in ((t0, e.args[2], "initial time"), (ts, e.args[3], "output times")):
        if not _data_only(ex, x):
            raise TypeError_(f"The {what} of {e.func} must be data or constants, not computed from the latents.",
                             node.span)  # fmt: skip


def _data_only(ex, x) -> bool:
    for name in ir.expr_refs(x):
        sym = ex.scope.lookup(name)
        if sym is None or not (sym.role in ("data", "dim") or sym.data_only):
            return False
    return not (_roles(x) - {"data", "dim", "det"})


def _holder(name: str, dtype: str, shape) -> ir.Ref:
    return ir.Ref(name=name, role="fn_arg", ty=ir.Ty(dtype=dtype, shape=tuple(shape)))


def _names(params) -> str:
    return ", ".join(p.name for p in params) or "none"
