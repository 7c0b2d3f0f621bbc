"""Closed-form log-densities for generated log-joints (``zl.lpdf``): the hot path of HMC/NUTS.

``zl.lpdf.Normal(value, loc=..., scale=...)`` equals ``zl.dist.Normal(loc, scale).log_prob(value)``
(torch's formulas, elementwise, broadcast) but builds no distribution object and keeps constant
arguments as Python numbers, so the autograd graph has only the ops the maths needs. The
compiler emits these for the (distribution, parameterisation) pairs listed in
``zsdsl.compiler.signatures.FAST_LPDF``; every other case goes through ``zl.dist``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def _f(x):
    """Tensors of floating dtype; integer data is cast; Python numbers stay numbers."""
    if torch.is_tensor(x):
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    return float(x)


def _log(x):
    return math.log(x) if isinstance(x, float) else torch.log(x)


def _lgamma(x):
    return math.lgamma(x) if isinstance(x, float) else torch.lgamma(x)


def _nonneg(value, lp):
    """-inf below 0, as torch's half distributions."""
    return torch.where(value >= 0, lp, -math.inf)


def Normal(value, loc, scale):
    value, loc, scale = _f(value), _f(loc), _f(scale)
    z = (value - loc) / scale
    return -0.5 * (z * z) - _log(scale) - _HALF_LOG_2PI


def HalfNormal(value, scale):
    value = _f(value)
    return _nonneg(value, Normal(value, 0.0, scale) + _LOG_2)


def Cauchy(value, loc, scale):
    value, loc, scale = _f(value), _f(loc), _f(scale)
    z = (value - loc) / scale
    return -_LOG_PI - _log(scale) - torch.log1p(z * z)


def HalfCauchy(value, scale):
    value = _f(value)
    return _nonneg(value, Cauchy(value, 0.0, scale) + _LOG_2)


def StudentT(value, df, loc=0.0, scale=1.0):
    value, df, loc, scale = _f(value), _f(df), _f(loc), _f(scale)
    z = (value - loc) / scale
    norm = _log(scale) + 0.5 * _log(df) + 0.5 * _LOG_PI + _lgamma(0.5 * df) - _lgamma(0.5 * (df + 1.0))
    return -0.5 * (df + 1.0) * torch.log1p(z * z / df) - norm


def LogNormal(value, loc, scale):
    value = _f(value)
    log_x = torch.log(value)
    return Normal(log_x, loc, scale) - log_x


def Exponential(value, rate):
    value, rate = _f(value), _f(rate)
    return _log(rate) - rate * value


def Gamma(value, concentration, rate):
    value, a, b = _f(value), _f(concentration), _f(rate)
    a_t = a if torch.is_tensor(a) else torch.as_tensor(a, dtype=value.dtype)
    return torch.xlogy(a_t, b) + torch.xlogy(a_t - 1.0, value) - b * value - _lgamma(a)


def Bernoulli(value, probs=None, logits=None):
    """The logits form (the compiler routes ``probs=`` to ``zl.dist``)."""
    value, logits = _f(value), _f(logits)
    if not torch.is_tensor(logits):
        logits = torch.as_tensor(logits, dtype=value.dtype)
    if logits.shape != value.shape:
        logits, value = torch.broadcast_tensors(logits, value)
    return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")


def Poisson(value, rate=None, log_rate=None):
    value = _f(value)
    if log_rate is not None:
        log_rate = _f(log_rate)
        return value * log_rate - torch.exp(log_rate) - torch.lgamma(value + 1.0)
    rate = _f(rate)
    return torch.xlogy(value, rate) - rate - torch.lgamma(value + 1.0)


def site(lp, ndims: int):
    """A site's log-density summed over its last ``ndims`` (event) dims."""
    if ndims <= 0:
        return lp
    if not torch.is_tensor(lp):
        lp = torch.as_tensor(lp, dtype=torch.get_default_dtype())
    if lp.dim() < ndims:
        lp = lp.reshape((1,) * (ndims - lp.dim()) + tuple(lp.shape))
    return lp.sum(dim=tuple(range(-ndims, 0)))
