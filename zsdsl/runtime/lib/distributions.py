"""Distribution factories for generated code (``zl.dist``), one per entry of the signature table.

Each factory takes keyword arguments named as in ``zsdsl.compiler.signatures`` and returns
a ``torch.distributions.Distribution`` whose batch shape is the broadcast of its arguments.
``site_log_prob`` sums a site's log-density over its element and plate dims; ``draw`` and
``draw_truncated`` produce ancestral draws of a given batch shape.
"""

from __future__ import annotations

import math

import torch
import torch.distributions as td
from torch.distributions import constraints
from torch.distributions.utils import broadcast_all

_NO_VALIDATE = {"validate_args": False}
_EMPTY = torch.Size()


def _t(x):
    if torch.is_tensor(x):
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    return torch.as_tensor(x, dtype=torch.get_default_dtype())


def _pl(probs, logits):
    return {"probs": _t(probs)} if probs is not None else {"logits": _t(logits)}


def Normal(loc, scale):
    return td.Normal(_t(loc), _t(scale), **_NO_VALIDATE)


def HalfNormal(scale):
    return td.HalfNormal(_t(scale), **_NO_VALIDATE)


def HalfCauchy(scale):
    return td.HalfCauchy(_t(scale), **_NO_VALIDATE)


def StudentT(df, loc=0.0, scale=1.0):
    return td.StudentT(_t(df), _t(loc), _t(scale), **_NO_VALIDATE)


def Cauchy(loc, scale):
    return td.Cauchy(_t(loc), _t(scale), **_NO_VALIDATE)


def Laplace(loc, scale):
    return td.Laplace(_t(loc), _t(scale), **_NO_VALIDATE)


def LogNormal(loc, scale):
    return td.LogNormal(_t(loc), _t(scale), **_NO_VALIDATE)


def Exponential(rate):
    return td.Exponential(_t(rate), **_NO_VALIDATE)


def Gamma(concentration, rate):
    return td.Gamma(_t(concentration), _t(rate), **_NO_VALIDATE)


def Weibull(concentration, scale):
    return td.Weibull(_t(scale), _t(concentration), **_NO_VALIDATE)


def Beta(concentration1, concentration0):
    return td.Beta(_t(concentration1), _t(concentration0), **_NO_VALIDATE)


def Uniform(low, high):
    return td.Uniform(_t(low), _t(high), **_NO_VALIDATE)


def Bernoulli(probs=None, logits=None):
    return td.Bernoulli(**_pl(probs, logits), **_NO_VALIDATE)


def Binomial(total_count, probs=None, logits=None):
    return td.Binomial(_t(total_count), **_pl(probs, logits), **_NO_VALIDATE)


def NegativeBinomial(total_count, probs=None, logits=None):
    return td.NegativeBinomial(_t(total_count), **_pl(probs, logits), **_NO_VALIDATE)


def Categorical(probs=None, logits=None):
    return td.Categorical(**_pl(probs, logits), **_NO_VALIDATE)


def OneHotCategorical(probs=None, logits=None):
    return td.OneHotCategorical(**_pl(probs, logits), **_NO_VALIDATE)


def Dirichlet(concentration):
    return td.Dirichlet(_t(concentration), **_NO_VALIDATE)


def MultivariateNormal(loc, scale_tril=None, covariance_matrix=None, precision_matrix=None):
    kw = {"scale_tril": scale_tril, "covariance_matrix": covariance_matrix, "precision_matrix": precision_matrix}
    kw = {k: _t(v) for k, v in kw.items() if v is not None}
    return td.MultivariateNormal(_t(loc), **kw, **_NO_VALIDATE)


def LKJCholesky(dim, concentration=1.0):
    return td.LKJCholesky(int(dim), _t(concentration), **_NO_VALIDATE)


def RelaxedBernoulli(temperature, probs=None, logits=None):
    return td.RelaxedBernoulli(_t(temperature), **_pl(probs, logits), **_NO_VALIDATE)


def Concrete(temperature, probs=None, logits=None):
    return td.RelaxedOneHotCategorical(_t(temperature), **_pl(probs, logits), **_NO_VALIDATE)


class _Custom(td.Distribution):
    """Shared plumbing of the hand-written distributions below (no argument validation)."""

    arg_constraints: dict = {}

    def __init__(self, *params):
        self._params = broadcast_all(*[_t(p) for p in params])
        super().__init__(self._params[0].shape, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self))
        new._params = tuple(p.expand(batch_shape) for p in self._params)
        td.Distribution.__init__(new, torch.Size(batch_shape), validate_args=False)
        return new


class FoldNormalDist(_Custom):
    """|X| for X ~ Normal(loc, scale)."""

    support = constraints.nonnegative
    has_rsample = True

    def log_prob(self, value):
        loc, scale = self._params
        base = td.Normal(loc, scale, validate_args=False)
        return torch.logaddexp(base.log_prob(value), base.log_prob(-value))

    def rsample(self, sample_shape=_EMPTY):
        loc, scale = self._params
        shape = self._extended_shape(sample_shape)
        return (loc + scale * torch.randn(shape, dtype=loc.dtype)).abs()


class InverseGammaDist(_Custom):
    """Density b^a / Γ(a) x^(-a-1) exp(-b/x)."""

    support = constraints.positive
    has_rsample = True

    def log_prob(self, value):
        a, b = self._params
        return a * torch.log(b) - torch.lgamma(a) - (a + 1) * torch.log(value) - b / value

    def rsample(self, sample_shape=_EMPTY):
        a, b = self._params
        shape = self._extended_shape(sample_shape)
        return 1.0 / td.Gamma(a.expand(shape), b.expand(shape), validate_args=False).rsample()


class LogisticDist(_Custom):
    support = constraints.real
    has_rsample = True

    def log_prob(self, value):
        loc, scale = self._params
        z = (value - loc) / scale
        return -z - 2 * torch.nn.functional.softplus(-z) - torch.log(scale)

    def rsample(self, sample_shape=_EMPTY):
        loc, scale = self._params
        u = torch.rand(self._extended_shape(sample_shape), dtype=loc.dtype).clamp(1e-12, 1 - 1e-12)
        return loc + scale * (torch.log(u) - torch.log1p(-u))

    def cdf(self, value):
        loc, scale = self._params
        return torch.sigmoid((value - loc) / scale)

    def icdf(self, p):
        loc, scale = self._params
        return loc + scale * (torch.log(p) - torch.log1p(-p))


class PoissonLogDist(_Custom):
    """Poisson with a log-rate parameter, evaluated stably: k·η − exp(η) − log k!."""

    support = constraints.nonnegative_integer
    has_rsample = False

    def log_prob(self, value):
        (eta,) = self._params
        value = _t(value)
        return value * eta - torch.exp(eta) - torch.lgamma(value + 1)

    def sample(self, sample_shape=_EMPTY):
        (eta,) = self._params
        with torch.no_grad():
            return torch.poisson(torch.exp(eta).expand(self._extended_shape(sample_shape)))


class NegBinomial2Dist(_Custom):
    """Stan's neg_binomial_2: mean mu, variance mu + mu²/phi."""

    support = constraints.nonnegative_integer
    has_rsample = False

    def log_prob(self, value):
        mu, phi = self._params
        value = _t(value)
        return (
            torch.lgamma(value + phi) - torch.lgamma(phi) - torch.lgamma(value + 1)
            + phi * (torch.log(phi) - torch.log(mu + phi)) + value * (torch.log(mu) - torch.log(mu + phi))
        )  # fmt: skip

    def sample(self, sample_shape=_EMPTY):
        mu, phi = self._params
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            rate = td.Gamma(phi.expand(shape), (phi / mu).expand(shape)).sample()
            return torch.poisson(rate)


class MultinomialDist(td.Distribution):
    """Multinomial whose total count may vary per batch element (a tensor)."""

    arg_constraints: dict = {}
    support = constraints.nonnegative_integer
    has_rsample = False

    def __init__(self, total_count, probs=None, logits=None):
        logits = torch.log(_t(probs)) if probs is not None else torch.log_softmax(_t(logits), -1)
        total = _t(total_count)
        batch = torch.broadcast_shapes(total.shape, logits.shape[:-1])
        self.total_count = total.expand(batch)
        self.logits = logits.expand(*batch, logits.shape[-1])
        super().__init__(batch, logits.shape[-1:], validate_args=False)

    def expand(self, batch_shape, _instance=None):
        return MultinomialDist(self.total_count.expand(batch_shape), logits=self.logits.expand(*batch_shape, -1))

    def log_prob(self, value):
        value = _t(value)
        logits = self.logits.masked_fill((value == 0) & torch.isinf(self.logits), 0.0)
        return torch.lgamma(self.total_count + 1) - torch.lgamma(value + 1).sum(-1) + (value * logits).sum(-1)

    def sample(self, sample_shape=_EMPTY):
        shape = self._extended_shape(sample_shape)
        total = self.total_count.expand(shape[:-1]).reshape(-1)
        logits = self.logits.expand(shape).reshape(-1, shape[-1])
        with torch.no_grad():
            rows = [td.Multinomial(int(n), logits=lg).sample() for n, lg in zip(total.tolist(), logits)]
        return torch.stack(rows).reshape(shape) if rows else torch.zeros(shape)


def FoldNormal(loc, scale):
    return FoldNormalDist(loc, scale)


def InverseGamma(concentration, scale):
    return InverseGammaDist(concentration, scale)


def Logistic(loc, scale):
    return LogisticDist(loc, scale)


def Poisson(rate=None, log_rate=None):
    if rate is not None:
        return td.Poisson(_t(rate), **_NO_VALIDATE)
    return PoissonLogDist(log_rate)


def NegativeBinomial2(mu, phi):
    return NegBinomial2Dist(mu, phi)


def Multinomial(total_count, probs=None, logits=None):
    return MultinomialDist(total_count, probs=probs, logits=logits)


# ---------------------------------------------------------------- sites


def log_prob(d: td.Distribution, value):
    """``d.log_prob(value)`` with integer data cast to the floating dtype torch expects."""
    if torch.is_tensor(value) and not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    elif not torch.is_tensor(value):
        value = _t(value)
    return d.log_prob(value)


def site_log_prob(d: td.Distribution, value, ndims: int):
    """``d.log_prob(value)`` summed over its last ``ndims`` dims."""
    lp = log_prob(d, value)
    if ndims <= 0:
        return lp
    if lp.dim() < ndims:
        lp = lp.reshape((1,) * (ndims - lp.dim()) + tuple(lp.shape))
    return lp.sum(dim=tuple(range(-ndims, 0)))


def draw(d: td.Distribution, shape, reparam: bool):
    """A draw whose batch shape is ``shape`` (the intrinsic event shape is appended)."""
    shape = torch.Size(shape)
    if tuple(d.batch_shape) != tuple(shape):
        d = d.expand(torch.broadcast_shapes(d.batch_shape, shape))
    if reparam and d.has_rsample:
        return d.rsample()
    return d.sample()


def _cdf(d, x):
    if isinstance(d, td.HalfNormal):
        return torch.erf(_t(x) / (d.scale * math.sqrt(2.0)))
    if isinstance(d, td.HalfCauchy):
        return 2.0 / math.pi * torch.atan(_t(x) / d.scale)
    return d.cdf(_t(x))


def _icdf(d, p):
    if isinstance(d, td.HalfNormal):
        return d.scale * math.sqrt(2.0) * torch.erfinv(p)
    if isinstance(d, td.HalfCauchy):
        return d.scale * torch.tan(p * math.pi / 2.0)
    return d.icdf(p)


def draw_truncated(d: td.Distribution, shape, low=None, high=None, max_rounds: int = 100):
    """A draw of batch shape ``shape`` restricted to [low, high] (None: unbounded).

    Inverse-CDF sampling where the distribution has cdf/icdf, else rejection sampling.
    """
    shape = torch.Size(shape)
    d = d.expand(torch.broadcast_shapes(d.batch_shape, shape)) if tuple(d.batch_shape) != tuple(shape) else d
    try:
        with torch.no_grad():
            lo = _cdf(d, low) if low is not None else torch.zeros(())
            hi = _cdf(d, high) if high is not None else torch.ones(())
            u = lo + (hi - lo) * torch.rand(d.batch_shape, dtype=torch.get_default_dtype())
            x = _icdf(d, u.clamp(1e-12, 1 - 1e-12))
        if torch.isfinite(x).all():
            return x
    except NotImplementedError:
        pass
    x = d.sample()
    for _ in range(max_rounds):
        bad = torch.zeros_like(x, dtype=torch.bool)
        if low is not None:
            bad |= x < low
        if high is not None:
            bad |= x > high
        if not bad.any():
            return x
        x = torch.where(bad, d.sample(), x)
    raise RuntimeError(f"could not draw from {type(d).__name__} restricted to [{low}, {high}] by rejection")
