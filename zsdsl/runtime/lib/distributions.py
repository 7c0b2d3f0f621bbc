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

from zsdsl.runtime.lib import lpdf
from zsdsl.runtime.lib.shards import draw_shard, find_shard

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


class FlatDist(td.Distribution):
    """The improper uniform density 1 on the reals: log_prob is 0; it cannot be sampled."""

    arg_constraints: dict = {}
    support = constraints.real
    has_rsample = False

    def __init__(self, batch_shape=_EMPTY):
        super().__init__(torch.Size(batch_shape), validate_args=False)

    def expand(self, batch_shape, _instance=None):
        return FlatDist(batch_shape)

    def log_prob(self, value):
        return torch.zeros_like(_t(value))

    def sample(self, sample_shape=_EMPTY):
        raise RuntimeError("a Flat (improper) prior cannot be sampled; give the value or use a proper prior")


def Flat():
    return FlatDist()


class ImplicitDist(td.Distribution):
    """``x ~ Implicit(value)``: an observed site that is a deterministic function of latents (a GAN's
    ``G(z)``). Its draw is ``value`` (pathwise); it has no density, so an engine that needs one says so."""

    arg_constraints: dict = {}
    support = constraints.real
    has_rsample = True

    def __init__(self, value):
        self.value = _t(value)
        super().__init__(self.value.shape, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        return ImplicitDist(self.value.expand(batch_shape))

    def rsample(self, sample_shape=_EMPTY):
        return self.value.expand(self._extended_shape(sample_shape))

    def sample(self, sample_shape=_EMPTY):
        with torch.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        from zsdsl.errors import ModelError

        raise ModelError(
            "An implicit site (x ~ Implicit(G(z))) has no density, so this engine cannot fit or score "
            "it: train it adversarially with --infer gan or --infer wgan-gp and a critic block."
        )


def Implicit(value):
    return ImplicitDist(value)


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
    """``d.log_prob(value)`` summed over its last ``ndims`` dims (a Normal in closed form)."""
    if type(d) is td.Normal:  # the usual guide family: no temporaries beyond the formula's
        lp = lpdf.Normal(value, d.loc, d.scale)
    else:
        lp = log_prob(d, value)
    return lpdf.site(lp, ndims)


def draw(d: td.Distribution, shape, reparam: bool):
    """A draw whose batch shape is ``shape`` (the intrinsic event shape is appended); a shape with a
    data-parallel shard's size in it takes the whole minibatch's random numbers (``shards``)."""
    shard = find_shard(shape)
    if shard is not None:
        return draw_shard(d, shape, reparam, *shard)
    shape = torch.Size(shape)
    batch = d.batch_shape
    if type(d) is td.Normal and reparam and len(shape) >= len(batch) and shape[len(shape) - len(batch) :] == batch:
        return d.rsample(shape[: len(shape) - len(batch)])  # the same draws as expanding, without the copy
    if tuple(batch) != tuple(shape):
        d = d.expand(torch.broadcast_shapes(batch, shape))
    if reparam and d.has_rsample:
        return d.rsample()
    return d.sample()


def _cdf(d, x):
    if isinstance(d, td.HalfNormal):
        return torch.erf(x / (d.scale * math.sqrt(2.0)))
    if isinstance(d, td.HalfCauchy):
        return 2.0 / math.pi * torch.atan(x / d.scale)
    return d.cdf(x)


def _icdf(d, p):
    if isinstance(d, td.HalfNormal):
        return d.scale * math.sqrt(2.0) * torch.erfinv(p)
    if isinstance(d, td.HalfCauchy):
        return d.scale * torch.tan(p * math.pi / 2.0)
    return d.icdf(p)


def _float_dtype(d) -> torch.dtype:
    """The floating dtype of a distribution's parameters (looking into base distributions)."""
    for v in vars(d).values():
        for t in v if isinstance(v, tuple) else (v,):
            if torch.is_tensor(t) and t.is_floating_point():
                return t.dtype
            if isinstance(t, td.Distribution):
                return _float_dtype(t)
    return torch.get_default_dtype()


def _bounds(d, low, high):
    """The bounds as tensors of the draw's dtype, ±inf where absent."""
    dtype = _float_dtype(d)
    lo = torch.as_tensor(-math.inf if low is None else low, dtype=dtype)
    hi = torch.as_tensor(math.inf if high is None else high, dtype=dtype)
    return lo, hi


def _normal_icdf_draw(d, lo, hi):
    """Inverse-CDF draw of a Normal on [lo, hi], accurate to ~37 sd into either tail.

    The upper tail is reflected into the lower one; the CDF is taken in log space in float64
    (``ndtr`` itself underflows to 0 below about −8).
    """
    a, b = ((lo - d.loc) / d.scale).double(), ((hi - d.loc) / d.scale).double()
    flip = a > 0
    a, b = torch.where(flip, -b, a), torch.where(flip, -a, b)
    la, lb = torch.special.log_ndtr(a), torch.special.log_ndtr(b)
    r = torch.rand(d.batch_shape, dtype=torch.float64)
    log_u = lb + torch.log(r + (1 - r) * torch.exp(la - lb))  # log(pa + (pb − pa) r)
    z = torch.special.ndtri(torch.exp(log_u)).to(d.loc.dtype)
    return d.loc + d.scale * torch.where(flip, -z, z)


def _icdf_draw(d, lo, hi):
    if isinstance(d, td.Normal):
        return _normal_icdf_draw(d, lo, hi)
    plo = torch.where(lo == -math.inf, 0.0, _cdf(d, lo).clamp(0.0, 1.0))
    phi = torch.where(hi == math.inf, 1.0, _cdf(d, hi).clamp(0.0, 1.0))
    u = plo + (phi - plo) * torch.rand(d.batch_shape, dtype=plo.dtype)
    return _icdf(d, u.clamp(1e-12, 1 - 1e-12))


def _reject(d, x, ok, lo, hi, what: str, max_draws: int):
    """Fill the elements of ``x`` not ``ok`` by rejection, drawing a growing batch of candidates per round."""
    drawn, k = 0, 4
    while not bool(ok.all()):
        if drawn >= max_draws:
            raise RuntimeError(f"{what}: no draw within the bounds after {max_draws} rejection-sampling candidates")
        k = min(2 * k, max(1, 10_000_000 // max(1, x.numel())), max_draws - drawn)
        cand = d.sample((k,))
        good = (cand >= lo) & (cand <= hi)
        first = good.to(torch.uint8).argmax(0, keepdim=True)  # the first accepted candidate of each element
        hit = good.any(0)
        x = torch.where(~ok & hit, cand.gather(0, first).squeeze(0), x)
        ok = ok | hit
        drawn += k
    return x


def draw_truncated(d: td.Distribution, shape, low=None, high=None, site: str | None = None, max_draws: int = 10_000):
    """A draw of batch shape ``shape`` restricted to [low, high] (None: unbounded); not differentiable.

    Inverse-CDF sampling where the distribution has cdf/icdf (Normal tails computed with
    ndtr/ndtri), else, and for elements where that is not finite, rejection sampling with
    at most ``max_draws`` candidates per element; beyond that a ``RuntimeError`` names ``site``.
    """
    shape = torch.Size(shape)
    d = d.expand(torch.broadcast_shapes(d.batch_shape, shape)) if tuple(d.batch_shape) != tuple(shape) else d
    what = f"truncated draw of {site or type(d).__name__} on [{low}, {high}]"
    with torch.no_grad():
        lo, hi = _bounds(d, low, high)
        try:
            x = _icdf_draw(d, lo, hi)
        except NotImplementedError:
            x = d.sample()
            ok = (x >= lo) & (x <= hi)
        else:
            ok = torch.isfinite(x) & (x >= lo - 1e-6 * (1 + lo.abs())) & (x <= hi + 1e-6 * (1 + hi.abs()))
            x = torch.where(ok, torch.maximum(torch.minimum(x, hi), lo), x)  # rounding at the bounds
        return _reject(d, x, ok, lo, hi, what, max_draws)
