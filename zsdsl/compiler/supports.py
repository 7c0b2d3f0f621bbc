"""Supports of declared types and distributions, and the bijector each continuous latent gets.

``declared_support`` reads a type annotation; ``latent_support`` reconciles a
distribution's support with an annotation (Stan's semantics: the annotation
restricts the support, the density is not renormalised) and picks the bijector to
unconstrained space. A declared support wider than the distribution's is an error:
the sampler would leave the density's support.
"""

from __future__ import annotations

from zsdsl.compiler import ir
from zsdsl.compiler.signatures import DistSig
from zsdsl.errors import Span, SupportError

_VECTOR_KINDS = {"simplex", "ordered", "positive_ordered", "corr_cholesky", "lower_cholesky", "pos_def"}


def _const(x) -> float | None:
    return float(x.value) if isinstance(x, ir.Const) else None


def declared_support(base: str, lower, upper, values, dtype: str, opens=(False, False)) -> ir.Support:
    if base == "bool":
        return ir.Support(kind="boolean")
    if base in ("simplex", "ordered", "positive_ordered", "corr_cholesky"):
        return ir.Support(kind=base)
    if base == "cholesky":
        return ir.Support(kind="lower_cholesky")
    if base == "cov":
        return ir.Support(kind="pos_def")
    if values is not None:
        return ir.Support(kind="set", values=tuple(values))
    if dtype == "int":
        if lower is None and upper is None:
            return ir.Support(kind="int_any")
        return ir.Support(kind="interval_int", lower=lower, upper=upper, lower_open=opens[0], upper_open=opens[1])
    if lower is not None and upper is not None:
        return ir.Support(kind="interval", lower=lower, upper=upper, lower_open=opens[0], upper_open=opens[1])
    if lower is not None:
        if _const(lower) == 0.0:
            return ir.Support(kind="positive", lower_open=opens[0])
        return ir.Support(kind="lower", lower=lower, lower_open=opens[0])
    if upper is not None:
        return ir.Support(kind="upper", upper=upper, upper_open=opens[1])
    return ir.Support(kind="real")


def bijector_for(support: ir.Support) -> ir.Bijector | None:
    k = support.kind
    if k == "real":
        return ir.Bijector(kind="identity")
    if k in ("positive", "simplex", "ordered", "positive_ordered", "corr_cholesky", "lower_cholesky"):
        return ir.Bijector(kind=k)
    if k in ("lower", "upper", "interval"):
        return ir.Bijector(kind=k, lower=support.lower, upper=support.upper)
    return None


def param_support(support: ir.Support) -> ir.Bijector:
    bij = bijector_for(support)
    if bij is None:
        raise SupportError(f"A parameter cannot have support '{support.kind}'.")
    return bij


def _dist_support(sig: DistSig, dist: ir.Dist, span: Span) -> ir.Support:
    k = sig.support
    if k == "unit":
        one = ir.Const(value=1.0, ty=ir.Ty(dtype="real"))
        zero = ir.Const(value=0.0, ty=ir.Ty(dtype="real"))
        return ir.Support(kind="interval", lower=zero, upper=one)
    if k == "interval":
        args = dict(dist.args)
        for key in ("low", "high"):
            if any(r in ("latent", "det") for r in _roles(args[key])):
                raise SupportError(
                    f"{sig.name}'s support depends on other latents; declare the bounds on the variable instead.", span
                )
        return ir.Support(kind="interval", lower=args["low"], upper=args["high"])
    if k == "corr_cholesky":
        return ir.Support(kind="corr_cholesky")
    return ir.Support(kind=k)


def _roles(expr) -> set[str]:
    out: set[str] = set()

    def walk(obj):
        if isinstance(obj, ir.Ref):
            out.add(obj.role)
        elif isinstance(obj, ir.Rec):
            for name in type(obj).model_fields:
                walk(getattr(obj, name))
        elif isinstance(obj, tuple):
            for x in obj:
                walk(x)

    walk(expr)
    return out


def latent_support(sig: DistSig, dist: ir.Dist, declared: ir.Support | None, span: Span):
    """The latent's support and bijector (None for discrete latents)."""
    natural = _dist_support(sig, dist, span)
    if sig.discrete:
        return (declared or natural), None
    if declared is None:
        return natural, bijector_for(natural)
    if not _within(declared, natural):
        raise SupportError(
            f"The declared support {_describe(declared)} is wider than the support of {sig.name}, "
            f"{_describe(natural)}; declare a matching constraint, e.g. 'real in (0, inf)' for a positive variable.",
            span,
        )
    bij = bijector_for(declared)
    if bij is None:
        raise SupportError(f"There is no unconstraining transform for '{declared.kind}' latents.", span)
    return declared, bij


def _bounds(s: ir.Support) -> tuple[float | None, float | None]:
    if s.kind in ("positive", "positive_ordered"):
        return 0.0, None
    if s.kind == "real" or s.kind == "ordered":
        return None, None
    return (_const(s.lower) if s.lower is not None else None, _const(s.upper) if s.upper is not None else None)


def _within(inner: ir.Support, outer: ir.Support) -> bool:
    if outer.kind in _VECTOR_KINDS:
        return inner.kind == outer.kind
    if outer.kind == "real":
        return True
    if inner.kind in ("simplex",):
        return outer.kind in ("positive", "interval")
    lo_o, hi_o = _bounds(outer)
    lo_i, hi_i = _bounds(inner)
    if outer.kind == "interval" and (
        outer.lower is not None and lo_o is None or outer.upper is not None and hi_o is None
    ):
        return inner.kind == "interval"  # data-dependent bounds: trust a declared interval
    ok_lo = lo_o is None or (lo_i is not None and lo_i >= lo_o)
    ok_hi = hi_o is None or (hi_i is not None and hi_i <= hi_o)
    return ok_lo and ok_hi


def _describe(s: ir.Support) -> str:
    lo, hi = _bounds(s)
    if s.kind in ("real",):
        return "(-inf, inf)"
    if s.kind in _VECTOR_KINDS:
        return s.kind
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"({lo_s}, {hi_s})"
