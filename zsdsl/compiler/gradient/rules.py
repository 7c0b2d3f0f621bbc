"""One forward and one adjoint rule per primitive, as Python source text.

``forward(op, args, fast)`` is the expression computing ``op.out`` from the argument codes;
``fast`` means the value is a Python scalar computed with ``math`` (the hot path of small models),
otherwise NumPy (``np``, ``sp`` for ``scipy.special``) under ``np.errstate``. ``adjoint(op, i, ...)``
is the contribution of ``op.out``'s adjoint ``g`` to argument ``i``: an ``Adj`` holding the code,
whether it is a scatter into an index of the argument, and whether it needs ``g`` materialised at
the output's full shape (the elementwise rules broadcast a smaller ``g`` for free). A primitive
missing here has no gradient on this path and the lowering refuses the model, saying which.
"""

from __future__ import annotations

from dataclasses import dataclass

from zsdsl.compiler.gradient.graph import COMPARE, Op, Unsupported

_BIN = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", **COMPARE}
_MATH = {"exp", "log", "log1p", "expm1", "sqrt", "tanh", "lgamma", "sin", "cos", "erf"}
_NP = {"exp": "np.exp", "log": "np.log", "log1p": "np.log1p", "expm1": "np.expm1", "sqrt": "np.sqrt",
       "tanh": "np.tanh", "lgamma": "sp.gammaln", "sin": "np.sin", "cos": "np.cos", "erf": "sp.erf",
       "digamma": "sp.digamma", "logit": "sp.logit"}  # fmt: skip
NO_GRADIENT = {"to_real", *COMPARE, "ravel", "code", "prod", "max", "min", "norm"}


@dataclass(frozen=True)
class Adj:
    code: str
    scatter: str | None = None  # an index expression: the contribution goes to arg[scatter]
    exact_g: bool = False  # the rule indexes or multiplies matrices with g: g at the output's shape
    shape: tuple | None = None  # the contribution's shape where an exact_g rule's is not the argument's
    setup: tuple[str, ...] = ()  # statements run before (temporaries named from the output)


def _f(name: str, fast: bool) -> str:
    if fast and name in _MATH:
        return f"math.{name}"
    return _NP[name]


def forward(op: Op, a: list[str], fast: bool) -> str:
    p, at = op.prim, op.attrs
    if p in _BIN:
        return f"{a[0]} {_BIN[p]} {a[1]}"
    if p == "scan_get":  # a carry's last value or an output's stacked values (gradient/emit_scan.py)
        return f"{a[0]}[{at[0]}]"
    if p == "neg":
        return f"-{a[0]}"
    if p == "square":
        return f"{a[0]} * {a[0]}"
    if p in _NP:
        return f"{_f(p, fast)}({a[0]})"
    if p == "sigmoid":
        return _sigmoid(a[0], fast)
    if p == "softplus":
        x = a[0]
        if fast:
            return f"(({x}) + math.log1p(math.exp(-({x}))) if {x} > 0.0 else math.log1p(math.exp({x})))"
        return f"(np.maximum({x}, 0.0) + np.log1p(np.exp(-np.abs({x}))))"  # a third of np.logaddexp's time
    if p == "abs":
        return f"abs({a[0]})" if fast else f"np.abs({a[0]})"
    if p == "logaddexp":
        x, y = a
        if fast:
            return f"(max({x}, {y}) + math.log1p(math.exp(-abs({x} - {y}))))"
        return f"np.logaddexp({x}, {y})"
    if p == "xlogy":
        return f"sp.xlogy({a[0]}, {a[1]})"
    if p == "nonneg":
        x, lp = a
        if fast:
            return f"({lp} if {x} >= 0.0 else -math.inf)"
        return f"np.where({x} >= 0.0, {lp}, -np.inf)"
    if p == "where":
        c, x, y = a
        return f"({x} if {c} else {y})" if fast else f"np.where({c}, {x}, {y})"
    if p in ("logsumexp", "prod", "max", "min"):
        fn = {"logsumexp": "logsumexp", "prod": "np.prod", "max": "np.max", "min": "np.min"}[p]
        return f"{fn}({a[0]}, axis={at[0]!r})"
    if p == "norm":
        return f"np.sqrt(np.sum(np.square({a[0]}), axis={at[0]!r}))"
    if p == "concat":
        return f"np.concatenate({_tup(a[: at[0]])}, -1)"  # tuples, not lists: numba's kernel takes these only
    if p == "sum":
        (axes,) = at
        if len(axes) == len(op.args[0].shape):
            return f"add_reduce({a[0]}, None)"
        return f"add_reduce({a[0]}, {axes!r})"
    if p == "expand":
        lead, n = at
        return f"{a[0]}[{':, ' * lead}{', '.join(['None'] * n)}]"
    if p in ("index", "reshape_plates"):
        return f"{a[0]}[{at[0]}]"
    if p == "code":
        return at[0]
    if p == "gather":
        return f"{a[0]}[{a[1]}]"
    if p == "vdot":
        return f"np.dot({a[0]}, {a[1]})"
    if p in ("matvec", "vecmat", "matmul"):
        return f"{a[0]} @ {a[1]}"
    if p == "transpose":
        return f"{a[0]}.T"
    if p == "stack":
        return f"np.array([{', '.join(a)}])" if not op.out.lead and len(op.out.shape) == 1 and all(
            x.scalar for x in op.args) else f"np.stack({_tup(a)}, -1)"  # fmt: skip
    if p == "cumsum":
        return f"np.cumsum({a[0]}, {at[0] if at else -1})"
    if p == "unsqueeze":
        return f"np.expand_dims({a[0]}, {at[0]!r})"
    if p == "cholesky":
        return f"cholesky_lower({a[0]})"
    if p == "trisolve":
        return f"sla.solve_triangular({a[0]}, {a[1]}, lower=True, check_finite=False)"
    if p == "diag_part":
        return f"np.diagonal({a[0]})"
    if p == "diag_matrix":
        return f"np.diag({a[0]})"
    if p == "recurrence":  # s[0] = init, s[t] = a s[t-1] + b[t-1]: a first-order IIR filter, in C
        x, b, init = a
        return f"sig.lfilter([1.0], [1.0, -{x}], np.concatenate(([{init}], {b}[:-1])))"
    if p == "hmm_marginal":  # the value; the tape for the adjoint is kept beside it
        return f"(t_{op.out.name} := zl.hmm_forward_np({a[0]}, {a[1]}, {a[2]}))[0]"
    if p == "ode_times":  # t0 then ts, checked to increase (a data error otherwise), once per data set
        return f"zl.ode_times_np({a[0]}, {a[1]}, {at[0]!r})"
    if p == "ode":  # the solution; its sensitivities S ([T, n, m]) are kept beside it for the adjoint
        sens, rtol, atol, max_steps, where = at[:5]
        args = ", ".join(a[2:]) + ("," if len(a) == 3 else "")
        return (f"(t_{op.out.name} := zl.ode_solve_np({sens}, {a[0]}, {a[1]}, ({args}), {rtol!r}, {atol!r}, "
                f"{max_steps!r}, {where!r}))[0]")  # fmt: skip
    if p == "ordered":
        u = a[0]
        return f"np.concatenate(({u}[..., :1], {u}[..., :1] + np.cumsum(np.exp({u}[..., 1:]), -1)), -1)"
    if p == "to_real":
        return f"float({a[0]})" if op.out.scalar else f"np.asarray({a[0]}, dtype=np.float64)"
    if p == "ravel":
        return f"np.ravel({a[0]})"
    raise Unsupported(f"the primitive '{p}'")


def _tup(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _sigmoid(x: str, fast: bool) -> str:
    """sigmoid(x) = (1 + tanh(x/2)) / 2: no overflow for any x, and faster than scipy's expit on arrays."""
    return f"(0.5 * {'math' if fast else 'np'}.tanh(0.5 * {x}) + 0.5)"


def _rev_cumsum(g: str, axis=-1) -> str:
    return f"np.flip(np.cumsum(np.flip({g}, {axis}), {axis}), {axis})"


def _trailing(axes: tuple, rank: int) -> bool:
    return tuple(axes) == tuple(range(rank - len(axes), rank))


def adjoint(op: Op, i: int, g: str, out: str, a: list[str], fast: bool) -> Adj | None:
    """The contribution to argument ``i`` (None: the output does not depend on it smoothly)."""
    p = op.prim
    x = a[0]
    if p in NO_GRADIENT:
        return None

    def m(expr: str) -> str:  # g times expr, without the multiplication when g is ±1
        return expr if g == "1.0" else f"-{expr}" if g == "-1.0" else f"{g} * {expr}"

    minus_g = "-1.0" if g == "1.0" else f"(-{g})"
    if p == "add":
        return Adj(g)
    if p == "sub":
        return Adj(g if i == 0 else minus_g)
    if p == "mul":
        return Adj(m(a[1 - i]))
    if p == "div":
        return Adj(f"{g} / {a[1]}" if i == 0 else f"-{m(out)} / {a[1]}")
    if p == "pow":
        return Adj(m(f"{a[1]} * {x} ** ({a[1]} - 1.0)") if i == 0 else m(f"{out} * {_f('log', fast)}({x})"))
    if p == "neg":
        return Adj(minus_g)
    simple = {
        "exp": m(out), "log": f"{g} / {x}", "log1p": f"{g} / (1.0 + {x})", "expm1": m(f"({out} + 1.0)"),
        "sqrt": f"{g} * 0.5 / {out}", "square": m(f"(2.0 * {x})"), "tanh": m(f"(1.0 - {out} * {out})"),
        "sigmoid": m(f"{out} * (1.0 - {out})"), "lgamma": m(f"sp.digamma({x})"),
        "digamma": m(f"sp.polygamma(1, {x})"), "sin": m(f"{_f('cos', fast)}({x})"),
        "cos": f"-{m(_f('sin', fast) + '(' + x + ')')}",
        "logit": f"{g} / ({x} * (1.0 - {x}))",
        "erf": m(f"1.1283791670955126 * {_f('exp', fast)}(-{x} * {x})"),
    }  # fmt: skip
    if p in simple:
        return Adj(simple[p])
    if p == "softplus":  # sigmoid(x) = exp(x - softplus(x)): one exp of a value ≤ 0 from the forward pass
        return Adj(m(f"{_f('exp', fast)}({x} - {out})"))
    if p == "abs":
        return Adj(f"({g} if {x} > 0.0 else -{g})" if fast else f"{g} * np.sign({x})")
    if p == "logaddexp":
        return Adj(f"{g} * {_f('exp', fast)}({a[i]} - {out})")
    if p == "xlogy":
        return Adj(f"{g} * {_f('log', fast)}({a[1]})" if i == 0 else f"{g} * {a[0]} / {a[1]}")
    if p == "nonneg":
        if i == 0:
            return None
        return Adj(f"({g} if {x} >= 0.0 else 0.0)" if fast else f"np.where({x} >= 0.0, {g}, 0.0)")
    if p == "where":
        if i == 0:
            return None
        c = a[0]
        if fast:
            return Adj(f"({g} if {c} else 0.0)" if i == 1 else f"(0.0 if {c} else {g})")
        return Adj(f"np.where({c}, {g}, 0.0)" if i == 1 else f"np.where({c}, 0.0, {g})")
    if p == "sum":
        (axes,) = op.attrs
        if len(axes) == len(op.args[0].shape):
            return Adj(g)  # a scalar: broadcast by whatever consumes it
        kept = list(op.out.shape)  # reduced axes come back as singletons: broadcast by the sum
        for ax in axes:
            kept.insert(ax, 1)
        if _trailing(axes, len(op.args[0].shape)):
            return Adj(f"{g}[..., {', '.join(['None'] * len(axes))}]", exact_g=True, shape=tuple(kept))
        return Adj(f"np.expand_dims({g}, {tuple(axes)!r})", exact_g=True, shape=tuple(kept))
    if p == "unsqueeze":
        return Adj(f"np.squeeze({g}, {op.attrs[0]!r})", exact_g=True)
    if p == "expand":
        lead, n = op.attrs
        return Adj(f"{g}[{':, ' * lead}{', '.join(['0'] * n)}]", exact_g=True)
    if p == "index":
        return Adj(g, scatter=op.attrs[0]) if i == 0 else None
    if p == "reshape_plates":
        return Adj(f"{g}[{op.attrs[0].replace('None', '0')}]", exact_g=True)
    if p == "gather":
        if i == 1:
            return None
        base = op.args[0]
        if len(base.shape) == 1:
            return Adj(f"np.bincount({a[2]}, np.ravel({g}), {x}.shape[0])", exact_g=True)
        tmp = f"t_{out}"
        return Adj(tmp, exact_g=True, setup=(f"{tmp} = np.zeros_like({x})", f"np.add.at({tmp}, {a[1]}, {g})"))
    if p == "matvec":
        return Adj(f"np.outer({g}, {a[1]})" if i == 0 else f"{g} @ {x}", exact_g=True)
    if p == "vecmat":
        return Adj(f"{a[1]} @ {g}" if i == 0 else f"np.outer({x}, {g})", exact_g=True)
    if p == "matmul":  # C = A B: dA = G B', dB = A' G
        return Adj(f"{g} @ {a[1]}.T" if i == 0 else f"{x}.T @ {g}", exact_g=True)
    if p == "vdot":
        return Adj(m(a[1 - i]))
    if p == "transpose":
        return Adj(f"{g}.T", exact_g=True)
    if p == "stack":
        return Adj(f"{g}[..., {i}]", exact_g=True)
    if p == "cumsum":
        return Adj(_rev_cumsum(g, op.attrs[0] if op.attrs else -1), exact_g=True)
    if p == "cholesky":
        # Murray (2016): P = Φ(Lᵀ tril(Ḡ)) (lower triangle, diagonal halved), Ā = sym(L⁻ᵀ P L⁻¹); the two
        # triangle masks are data of ``make`` (np.tril and index assignment cost more than the maths here)
        if i > 0:
            return None
        mask, half = a[1], a[2]
        t, li = f"t_{out}", f"li_{out}"
        setup = (
            f"{t} = ({out}.T @ ({g} * {mask})) * {half}",
            f"{li} = dtrtri({out}, lower=1)[0]",
            f"{t} = {li}.T @ {t} @ {li}",
        )
        return Adj(f"0.5 * ({t} + {t}.T)", exact_g=True, setup=setup)
    if p == "trisolve":
        # x = L⁻¹ b: b̄ = L⁻ᵀ x̄, L̄ = -tril(b̄ xᵀ)
        t = f"t_{out}"
        setup = (f"{t} = sla.solve_triangular({a[0]}, {g}, trans='T', lower=True, check_finite=False)",)
        return Adj(f"-np.tril(np.outer({t}, {out}))" if i == 0 else t, exact_g=True, setup=setup)
    if p == "diag_part":
        return Adj(f"np.diag({g})", exact_g=True)
    if p == "diag_matrix":
        return Adj(f"np.diagonal({g})", exact_g=True)
    if p == "logsumexp":
        if op.out.scalar:
            return Adj(m(f"np.exp({x} - {out})"))
        axes = op.attrs[0]
        if not _trailing(axes, len(op.args[0].shape)):
            return Adj(f"np.expand_dims({g}, {axes!r}) * np.exp({x} - np.expand_dims({out}, {axes!r}))",
                       exact_g=True)  # fmt: skip
        new = ", ".join(["None"] * len(axes))
        return Adj(f"{g}[..., {new}] * np.exp({x} - {out}[..., {new}])", exact_g=True)
    if p == "concat":
        k = op.attrs[0]
        if i >= k:
            return None
        lo = "" if i == 0 else a[k + i - 1]
        hi = "" if i == k - 1 else a[k + i]
        return Adj(f"{g}[..., {lo}:{hi}]", exact_g=True)
    if p == "recurrence":
        # the adjoint filter runs backwards: l[t] = g[t] + a l[t+1]; then d/db[k] = l[k+1], d/dinit = l[0],
        # d/da = sum over t >= 1 of l[t] s[t-1]
        lam = f"l_{out}"
        setup = (f"{lam} = sig.lfilter([1.0], [1.0, -{x}], {g}[::-1])[::-1]",)
        code = [f"{lam}[1:] @ {out}[:-1]", f"np.append({lam}[1:], 0.0)", f"{lam}[0]"][i]
        return Adj(code, exact_g=True, setup=setup)
    if p == "hmm_marginal":
        t = f"a_{out}"
        setup = (f"{t} = zl.hmm_adjoint_np({a[0]}, {a[1]}, {a[2]}, t_{out}[1])",)
        return Adj(m(f"{t}[{i}]"), exact_g=True, setup=setup)
    if p == "ode":  # g contracted with S: d/d(y0, args) = sum over t and i of g[t, i] S[t, i, :]
        if i == 0:
            return None  # the times are data
        t = f"gS_{out}"
        lo, hi = op.attrs[5][i - 1]
        setup = (f"{t} = np.ravel({g}) @ t_{out}[1].reshape(-1, {op.attrs[6]})",)
        shape = op.args[i].shape
        if not shape:
            return Adj(f"float({t}[{lo}])", exact_g=True, setup=setup)
        code = f"{t}[{lo}:{hi}]" if len(shape) == 1 else f"{t}[{lo}:{hi}].reshape({tuple(shape)!r})"
        return Adj(code, exact_g=True, setup=setup)
    if p == "ordered":
        tail = f"{_rev_cumsum(f'{g}[..., 1:]')} * np.exp({x}[..., 1:])"
        return Adj(f"np.concatenate((add_reduce({g}, (-1,), keepdims=True), {tail}), -1)", exact_g=True)
    raise Unsupported(f"the primitive '{p}' (no adjoint rule)")
