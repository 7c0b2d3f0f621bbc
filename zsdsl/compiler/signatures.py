"""The distribution signature table: names, arguments, supports and value shapes.

This is pure data shared by the checker (which validates calls against it) and
the runtime (which implements each entry in ``zsdsl.runtime.lib.distributions``
under the same name with the same keyword arguments). No torch import here, so
``zsdsl check`` stays fast.

Conventions
- ``support`` strings: ``real``, ``positive``, ``nonneg``, ``unit`` (open (0, 1)),
  ``unit_closed`` ([0, 1]), ``simplex``, ``pos_def``, ``lower_cholesky``,
  ``corr_cholesky``, ``interval`` (between the ``low`` and ``high`` arguments),
  ``boolean`` ({0, 1}), ``int_nonneg`` ({0, 1, ...}), ``int_range`` ({0..K-1}
  where K is the size of the probability vector), ``one_hot``, ``count_vector``
  (non-negative integer vector summing to ``total_count``).
- ``event_rank`` of a parameter: how many trailing dims of the argument belong to
  one draw (e.g. Categorical ``probs`` has 1). The remaining leading dims are the
  batch shape, broadcast across parameters.
- ``value_event``: how the intrinsic event shape of a draw is derived:
  ``"scalar"`` (no event dims), ``"param:NAME"`` (the last dim of that argument),
  ``"param2:NAME"`` (the last two dims), ``"square:NAME"`` (an int argument D
  gives shape [D, D]).
- ``alternatives``: groups of mutually exclusive arguments, exactly one of each
  group is required (e.g. ``probs`` or ``logits``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ParamSig:
    name: str
    support: str = "real"
    event_rank: int = 0
    dtype: str = "real"
    default: float | None = None


@dataclass(frozen=True)
class DistSig:
    name: str
    params: tuple[ParamSig, ...]
    support: str
    dtype: str = "real"  # dtype of a draw: real | int
    value_event: str = "scalar"
    alternatives: tuple[tuple[str, ...], ...] = ()
    reparam: bool = True  # has a pathwise (rsample) gradient
    discrete: bool = False
    finite: bool = False  # a discrete distribution with finitely many values (enumerable)
    doc: str = ""
    positional: tuple[str, ...] = field(default=())

    def param(self, name: str) -> ParamSig | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def positional_names(self) -> tuple[str, ...]:
        return self.positional or tuple(p.name for p in self.params)

    @property
    def required(self) -> tuple[str, ...]:
        grouped = {n for g in self.alternatives for n in g}
        return tuple(p.name for p in self.params if p.default is None and p.name not in grouped)


def _p(name: str, support: str = "real", event_rank: int = 0, dtype: str = "real", default=None):
    return ParamSig(name, support, event_rank, dtype, default)


PROBS = (_p("probs", "unit_closed"), _p("logits"))
PROBS_VEC = (_p("probs", "simplex", 1), _p("logits", "real", 1))

_DISTS = [
    DistSig("Normal", (_p("loc"), _p("scale", "positive")), "real", doc="Gaussian"),
    DistSig("Flat", (), "real", doc="improper uniform on the reals (density 1); for Stan's unstated priors"),
    DistSig(
        "Implicit",
        (_p("value"),),
        "real",
        doc="an observed site that is a function of latents, with no "
        "density (a GAN's generator output); fitted by --infer gan / wgan-gp against a critic",
    ),
    DistSig("HalfNormal", (_p("scale", "positive"),), "positive"),
    DistSig("FoldNormal", (_p("loc"), _p("scale", "positive")), "positive"),
    DistSig("HalfCauchy", (_p("scale", "positive"),), "positive"),
    DistSig("StudentT", (_p("df", "positive"), _p("loc", default=0.0), _p("scale", "positive", default=1.0)), "real"),
    DistSig("Cauchy", (_p("loc"), _p("scale", "positive")), "real"),
    DistSig("Laplace", (_p("loc"), _p("scale", "positive")), "real"),
    DistSig("Logistic", (_p("loc"), _p("scale", "positive")), "real"),
    DistSig("LogNormal", (_p("loc"), _p("scale", "positive")), "positive"),
    DistSig("Exponential", (_p("rate", "positive"),), "positive"),
    DistSig(
        "Gamma", (_p("concentration", "positive"), _p("rate", "positive")), "positive", doc="shape-rate, like Stan"
    ),
    DistSig("InverseGamma", (_p("concentration", "positive"), _p("scale", "positive")), "positive"),
    DistSig("Weibull", (_p("concentration", "positive"), _p("scale", "positive")), "positive"),
    DistSig("Beta", (_p("concentration1", "positive"), _p("concentration0", "positive")), "unit"),
    DistSig("Uniform", (_p("low"), _p("high")), "interval"),
    DistSig(
        "Bernoulli",
        PROBS,
        "boolean",
        "int",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
        finite=True,
    ),
    DistSig(
        "Binomial",
        (_p("total_count", "int_nonneg", dtype="int"), *PROBS),
        "int_nonneg",
        "int",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
        finite=True,
    ),
    DistSig(
        "Poisson",
        (_p("rate", "positive"), _p("log_rate")),
        "int_nonneg",
        "int",
        alternatives=(("rate", "log_rate"),),
        reparam=False,
        discrete=True,
    ),
    DistSig(
        "NegativeBinomial",
        (_p("total_count", "positive"), *PROBS),
        "int_nonneg",
        "int",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
    ),
    DistSig(
        "NegativeBinomial2",
        (_p("mu", "positive"), _p("phi", "positive")),
        "int_nonneg",
        "int",
        reparam=False,
        discrete=True,
        doc="Stan's neg_binomial_2 (mean, overdispersion)",
    ),
    DistSig(
        "Categorical",
        PROBS_VEC,
        "int_range",
        "int",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
        finite=True,
    ),
    DistSig(
        "OneHotCategorical",
        PROBS_VEC,
        "one_hot",
        "int",
        "param:probs",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
        finite=True,
    ),
    DistSig(
        "Multinomial",
        (_p("total_count", "int_nonneg", dtype="int"), *PROBS_VEC),
        "count_vector",
        "int",
        "param:probs",
        alternatives=(("probs", "logits"),),
        reparam=False,
        discrete=True,
    ),
    DistSig("Dirichlet", (_p("concentration", "positive", 1),), "simplex", value_event="param:concentration"),
    DistSig(
        "MultivariateNormal",
        (
            _p("loc", "real", 1),
            _p("scale_tril", "lower_cholesky", 2),
            _p("covariance_matrix", "pos_def", 2),
            _p("precision_matrix", "pos_def", 2),
        ),
        "real",
        value_event="param:loc",
        alternatives=(("scale_tril", "covariance_matrix", "precision_matrix"),),
    ),
    DistSig(
        "LKJCholesky",
        (_p("dim", "int_nonneg", dtype="int"), _p("concentration", "positive", default=1.0)),
        "corr_cholesky",
        value_event="square:dim",
        reparam=False,
    ),
    DistSig(
        "RelaxedBernoulli",
        (_p("temperature", "positive"), *PROBS),
        "unit",
        alternatives=(("probs", "logits"),),
    ),
    DistSig(
        "Concrete",
        (_p("temperature", "positive"), *PROBS_VEC),
        "simplex",
        value_event="param:probs",
        alternatives=(("probs", "logits"),),
        doc="RelaxedOneHotCategorical (Maddison et al. 2017)",
    ),
]

DISTRIBUTIONS: dict[str, DistSig] = {d.name: d for d in _DISTS}

#: Supports that admit an unconstraining bijector (continuous latents).
CONTINUOUS_SUPPORTS = {
    "real",
    "positive",
    "nonneg",
    "unit",
    "unit_closed",
    "interval",
    "simplex",
    "corr_cholesky",
    "lower_cholesky",
    "ordered",
    "positive_ordered",
    "lower",
    "upper",
}


# Distributions with a closed-form log-density in ``zl.lpdf`` (the model's hot path), each with
# the argument sets it takes; other calls (e.g. Bernoulli(probs=...)) build a ``zl.dist`` object.
FAST_LPDF: dict[str, tuple[frozenset, ...]] = {
    "Normal": (frozenset({"loc", "scale"}),),
    "HalfNormal": (frozenset({"scale"}),),
    "Cauchy": (frozenset({"loc", "scale"}),),
    "HalfCauchy": (frozenset({"scale"}),),
    "StudentT": tuple(frozenset({"df", *rest}) for rest in ((), ("loc",), ("scale",), ("loc", "scale"))),
    "LogNormal": (frozenset({"loc", "scale"}),),
    "Exponential": (frozenset({"rate"}),),
    "Gamma": (frozenset({"concentration", "rate"}),),
    "Bernoulli": (frozenset({"logits"}),),
    "Poisson": (frozenset({"rate"}), frozenset({"log_rate"})),
}


def has_fast_lpdf(name: str, arg_names) -> bool:
    return frozenset(arg_names) in FAST_LPDF.get(name, ())
