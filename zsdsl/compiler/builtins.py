"""Builtin functions: their arity and the shape/dtype rule of each.

A rule takes the argument types (``Ty``) and the statically known dims of the
arguments that are sizes, and returns ``(shape, dtype, static)``; it raises
``ShapeMismatch``/``BuiltinError`` with a sentence for the user. The runtime
implements each name in ``zsdsl.runtime.lib`` with the same positional arguments.
"""

from __future__ import annotations

from zsdsl.compiler.ir import Shape, Ty
from zsdsl.compiler.shapes import ShapeMismatch, broadcast_all, fmt_shape, matmul_shape


class BuiltinError(Exception):
    pass


UNARY_REAL = (
    "to_real exp log log10 log2 log1p expm1 sqrt square sin cos tanh sigmoid inv_logit logit softplus relu "
    "log_sigmoid lgamma digamma erf"
).split()
ELEMENTWISE = {"pow": 2, "minimum": 2, "maximum": 2, "log_sum_exp": 2, "log_mix": 3, "where": 3}
REDUCTIONS = "sum mean prod max min logsumexp norm sd variance".split()
SCANS = "cumsum softmax log_softmax".split()  # shape-preserving along one element dim (default the last)
AXIS_FUNCS = {*REDUCTIONS, *SCANS} - {"norm"}  # take dim= (an element dim; negative counts from the end)
SIZE_FUNCS = {"zeros", "ones", "full", "eye", "arange"}  # arguments (all but full's last) are sizes


def _real(t: Ty) -> str:
    return "real"


def rule(name: str, args: list[Ty], sizes: list, dim: int | None = None) -> tuple[Shape, str, tuple]:
    if dim is not None or name in SCANS:
        return _along(name, args, -1 if dim is None else dim)
    if name in UNARY_REAL or name == "abs":
        _arity(name, args, 1)
        return args[0].shape, ("real" if name != "abs" else args[0].dtype), ()
    if name in ELEMENTWISE:
        _arity(name, args, ELEMENTWISE[name])
        shape = broadcast_all([a.shape for a in args])
        if name == "where":
            if args[0].dtype != "bool":
                raise BuiltinError("where(condition, a, b) needs a comparison as its first argument.")
            dtype = "real" if "real" in (args[1].dtype, args[2].dtype) else "int"
        else:
            dtype = "real"
        return shape, dtype, ()
    if name in REDUCTIONS:
        _arity(name, args, 1)
        dtype = args[0].dtype if name in ("sum", "prod", "max", "min") and args[0].dtype == "int" else "real"
        return (), dtype, (("ndims", args[0].rank),)
    if name in SIZE_FUNCS:
        return _constructor(name, args, sizes)
    handler = _SPECIAL.get(name)
    if handler is None:
        raise KeyError(name)
    return handler(args)


# Stan's quadratic forms, written by the checker as the products they are (check_expr._rewrite): both
# gradient paths take them with no rules of their own
REWRITTEN = {"quad_form": 2, "quad_form_diag": 2, "dot_self": 1}


def known_functions() -> list[str]:
    return sorted({*UNARY_REAL, "abs", *ELEMENTWISE, *REDUCTIONS, *SCANS, *SIZE_FUNCS, *_SPECIAL, *REWRITTEN,
                   *STAN_KERNELS})  # fmt: skip


def _along(name: str, args: list[Ty], dim: int) -> tuple[Shape, str, tuple]:
    """A reduction over one element dim (that dim removed) or a scan along it (shape kept); ``axis`` is the
    dim counted from the end (-1 the last), which is where it lies however many sample and plate dims lead."""
    _arity(name, args, 1)
    x = args[0]
    if name not in AXIS_FUNCS:
        raise BuiltinError(f"{name}() takes no dim=.")
    if not x.rank:
        raise BuiltinError(f"{name}() along a dim needs a vector or an array, got a scalar.")
    if not -x.rank <= dim < x.rank:
        raise BuiltinError(f"dim={dim} is out of range for a value of shape {fmt_shape(x.shape)} "
                           f"(element dims {-x.rank} to {x.rank - 1}).")  # fmt: skip
    axis = dim - x.rank if dim >= 0 else dim
    if name in SCANS:
        return x.shape, "real", (("axis", axis),)
    shape = tuple(d for i, d in enumerate(x.shape) if i != x.rank + axis)
    dtype = x.dtype if name in ("sum", "prod", "max", "min") and x.dtype == "int" else "real"
    return shape, dtype, (("axis", axis),)


def _arity(name: str, args: list, n: int) -> None:
    if len(args) != n:
        raise BuiltinError(f"{name}() takes {n} argument{'s' if n != 1 else ''}, got {len(args)}.")


def _constructor(name, args, sizes):
    if name == "full":
        if len(args) < 2:
            raise BuiltinError("full(size, ..., value) takes one or more sizes and a value.")
        if args[-1].rank:
            raise BuiltinError("The value of full() must be a scalar.")
        return tuple(sizes[:-1]), "real", ()
    if name == "eye":
        _arity(name, args, 1)
        return (sizes[0], sizes[0]), "real", ()
    if name == "arange":
        _arity(name, args, 1)
        return (sizes[0],), "int", ()
    if not args:
        raise BuiltinError(f"{name}() needs at least one size.")
    return tuple(sizes), "real", ()


def _need_rank(name: str, what: str, t: Ty, ranks: tuple[int, ...]) -> None:
    if t.rank not in ranks:
        want = " or ".join({0: "a scalar", 1: "a vector", 2: "a matrix"}[r] for r in ranks)
        raise BuiltinError(f"{name}() needs {want} for {what}, got {fmt_shape(t.shape)}.")


def _concat(args):
    if not args:
        raise BuiltinError("concat() needs at least one argument.")
    ranks = {a.rank for a in args}
    if len(ranks) != 1 or 0 in ranks:
        raise BuiltinError("concat() joins vectors (or arrays of equal rank) along their last dimension.")
    lead = broadcast_all([a.shape[:-1] for a in args])
    total = 0
    from zsdsl.compiler.shapes import dim_op

    for a in args:
        total = dim_op("+", total, a.shape[-1])
    return (*lead, total), "real", ()


def _stack(args):
    if not args:
        raise BuiltinError("stack() needs at least one argument.")
    return (*broadcast_all([a.shape for a in args]), len(args)), "real", ()


def _one_hot(args):
    _arity("one_hot", args, 2)
    if args[0].dtype != "int":
        raise BuiltinError("one_hot(i, K) needs an integer index.")
    return None, "real", ()  # shape finished by the checker (K is a size)


def _matrix_fn(name):
    def rule_(args):
        _arity(name, args, 1)
        _need_rank(name, "its argument", args[0], (2,))
        s = args[0].shape
        if name == "transpose":
            return (s[1], s[0]), "real", ()
        if name == "log_determinant":
            return (), "real", ()
        if s[0] != s[1]:
            raise BuiltinError(f"{name}() needs a square matrix, got {fmt_shape(s)}.")
        return s, "real", ()

    return rule_


def _linalg(name):
    def rule_(args):
        _arity(name, args, 2)
        shape, helper = matmul_shape(args[0].shape, args[1].shape)
        return shape, "real", ()

    return rule_


def _diag(args):
    _arity("diag", args, 1)
    _need_rank("diag", "its argument", args[0], (1,))
    return (args[0].shape[0], args[0].shape[0]), "real", ()


KERNELS = {"exp_quad_kernel": ("alpha", "rho"), "matern32_kernel": ("alpha", "rho"),
           "matern52_kernel": ("alpha", "rho"), "exponential_kernel": ("alpha", "rho"),
           "periodic_kernel": ("alpha", "rho", "period")}  # fmt: skip
# Stan's names: (the kernel, its number of arguments with one set of points, which Stan then uses twice)
STAN_KERNELS = {"gp_exp_quad_cov": ("exp_quad_kernel", 3), "cov_exp_quad": ("exp_quad_kernel", 3),
                "gp_matern32_cov": ("matern32_kernel", 3), "gp_matern52_cov": ("matern52_kernel", 3),
                "gp_exponential_cov": ("exponential_kernel", 3), "gp_periodic_cov": ("periodic_kernel", 4)}  # fmt: skip


def _kernel(name: str):
    def rule_(args):
        hyper = KERNELS[name]
        _arity(name, args, 2 + len(hyper))
        x1, x2 = args[:2]
        _need_rank(name, "x1", x1, (1, 2))
        _need_rank(name, "x2", x2, (x1.rank,))
        for what, arg in zip(hyper, args[2:], strict=True):
            _need_rank(name, what, arg, (0,))
        return (x1.shape[0], x2.shape[0]), "real", (("points_rank", x1.rank - 1),)

    return rule_


def _ard(args):
    _arity("ard_kernel", args, 4)
    x1, x2, amp, ls = args
    _need_rank("ard_kernel", "X1", x1, (2,))
    _need_rank("ard_kernel", "X2", x2, (2,))
    _need_rank("ard_kernel", "amplitude", amp, (0,))
    _need_rank("ard_kernel", "lengthscale", ls, (0, 1))
    return (x1.shape[0], x2.shape[0]), "real", ()


def _gp_noise(name: str, args: list, n: int) -> None:
    """``n`` arguments, or ``n + 1`` with a scalar noise variance last (added to K_ZZ's diagonal)."""
    if len(args) not in (n, n + 1):
        raise BuiltinError(f"{name}() takes {n} arguments, or {n + 1} with a noise variance last; got {len(args)}.")
    if len(args) == n + 1:
        _need_rank(name, "noise", args[n], (0,))


def _gp_mean(args):
    _gp_noise("gp_conditional_mean", args, 5)
    x, z, u = args[:3]
    _need_rank("gp_conditional_mean", "x", x, (1,))
    _need_rank("gp_conditional_mean", "Z", z, (2,))
    _need_rank("gp_conditional_mean", "u", u, (1,))
    return (), "real", ()


def _gp_var(args):
    _gp_noise("gp_conditional_var", args, 4)
    x, z = args[:2]
    _need_rank("gp_conditional_var", "x", x, (1,))
    _need_rank("gp_conditional_var", "Z", z, (2,))
    return (), "real", ()


def _recurrence(args):
    """recurrence(a, b, init): s[0] = init, s[t] = a * s[t-1] + b[t-1]; a vector shaped like b."""
    _arity("recurrence", args, 3)
    _need_rank("recurrence", "a", args[0], (0,))
    _need_rank("recurrence", "b", args[1], (1,))
    _need_rank("recurrence", "init", args[2], (0,))
    return args[1].shape, "real", ()


def _hmm_marginal(args):
    """Stan's hmm_marginal(log_omega, Gamma, rho): log p(y) of a K-state hidden Markov model over N steps;
    log_omega [K, N] the log emission densities, Gamma [K, K] the transitions (row: from), rho [K] the
    initial probabilities."""
    _arity("hmm_marginal", args, 3)
    lo, gamma, rho = args
    _need_rank("hmm_marginal", "log_omega", lo, (2,))
    _need_rank("hmm_marginal", "Gamma", gamma, (2,))
    _need_rank("hmm_marginal", "rho", rho, (1,))
    k = lo.shape[0]
    if gamma.shape[0] != gamma.shape[1] or gamma.shape[0] != k or rho.shape[0] != k:
        raise BuiltinError(f"hmm_marginal() needs log_omega [K, N], Gamma [K, K] and rho [K] with one K; got "
                           f"{fmt_shape(lo.shape)}, {fmt_shape(gamma.shape)} and {fmt_shape(rho.shape)}.")  # fmt: skip
    return (), "real", ()


def _solve(args):
    _arity("solve", args, 2)
    _need_rank("solve", "A", args[0], (2,))
    _need_rank("solve", "b", args[1], (1, 2))
    return args[1].shape, "real", (("b_rank", args[1].rank),)


_SPECIAL = {
    "concat": _concat,
    "stack": _stack,
    "one_hot": _one_hot,
    "cholesky": _matrix_fn("cholesky"),
    "inverse": _matrix_fn("inverse"),
    "transpose": _matrix_fn("transpose"),
    "log_determinant": _matrix_fn("log_determinant"),
    "dot": _linalg("dot"),
    "matvec": _linalg("matvec"),
    "matmul": _linalg("matmul"),
    "diag": _diag,
    "solve": _solve,
    "recurrence": _recurrence,
    "hmm_marginal": _hmm_marginal,
    **{name: _kernel(name) for name in KERNELS},
    "ard_kernel": _ard,
    "gp_conditional_mean": _gp_mean,
    "gp_conditional_var": _gp_var,
}

__all__ = ["BuiltinError", "ShapeMismatch", "known_functions", "rule"]
