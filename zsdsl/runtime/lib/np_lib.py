"""The generated code's support library (``zl``) over NumPy and ``npad`` Vars instead of torch.

A generated ``_model`` run with this module bound to ``zl`` computes the same log-density terms
on float64 NumPy arrays, differentiable by ``npad``. It covers what small Stan-like models use
(closed-form densities, elementwise maths, sums, dot products, one-level gathers) for one point
without sample dims or minibatches; any other name raises ``npad.Unsupported`` and the caller
evaluates with PyTorch instead. Each density is one graph node with its gradient in closed form.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from scipy import special

from zsdsl.runtime.lib import npad
from zsdsl.runtime.lib.npad import Unsupported, Var, value

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def __getattr__(name: str):
    raise Unsupported(f"zl.{name} has no NumPy version")


_any_var = npad._is_var


# ---------------------------------------------------------------- plates (whole data, one point)


def plate_indices(subsample, plate: str):
    if subsample:
        raise Unsupported("minibatches")
    return None


def plate_scale(idx, size: int) -> float:
    return 1.0


def plate_size(idx, size: int) -> int:
    return size


def plate_arange(idx, size: int):
    return np.arange(size)


def scaled(scale: float, term):
    return term if scale == 1.0 else scale * term


def take_plate(x, idx, rank: int):
    return x


def lift(x, n: int, keep: int):
    """``x[..., None × n, :× keep]`` when ``x`` has more than ``keep`` dims (see ``zl.lift``)."""
    if np.ndim(value(x)) <= keep:
        return x
    return x[(..., *([None] * n), *([slice(None)] * keep))]


# ---------------------------------------------------------------- densities


def _normal(value_, loc, scale):
    v, m, s = value(value_), value(loc), value(scale)
    z = (v - m) / s
    out = -0.5 * (z * z) - np.log(s) - _HALF_LOG_2PI
    if not _any_var(value_, loc, scale):
        return out

    def back(g):
        gz = g * z / s
        if type(value_) is Var:
            npad.acc(value_, -gz)
        if type(loc) is Var:
            npad.acc(loc, gz)
        if type(scale) is Var:
            npad.acc(scale, g * (z * z - 1.0) / s)

    return Var(out, back)


def _cauchy(value_, loc, scale):
    v, m, s = value(value_), value(loc), value(scale)
    z = (v - m) / s
    q = 1.0 + z * z
    out = -_LOG_PI - np.log(s) - np.log(q)
    if not _any_var(value_, loc, scale):
        return out

    def back(g):
        gz = g * 2.0 * z / (s * q)
        if type(value_) is Var:
            npad.acc(value_, -gz)
        if type(loc) is Var:
            npad.acc(loc, gz)
        if type(scale) is Var:
            npad.acc(scale, g * (z * z - 1.0) / (s * q))

    return Var(out, back)


def _nonneg(value_, lp):
    """-inf below 0, as torch's half distributions (no node when every value is ≥ 0)."""
    cond = np.greater_equal(value(value_), 0)
    return lp if np.all(cond) else npad.where(cond, lp, -math.inf)


def _half_normal(value_, scale):
    return _nonneg(value_, _normal(value_, 0.0, scale) + _LOG_2)


def _half_cauchy(value_, scale):
    return _nonneg(value_, _cauchy(value_, 0.0, scale) + _LOG_2)


def _student_t(value_, df, loc=0.0, scale=1.0):
    z = (value_ - loc) / scale
    norm = npad.log(scale) + 0.5 * npad.log(df) + 0.5 * _LOG_PI + npad.lgamma(0.5 * df) - npad.lgamma(0.5 * (df + 1.0))
    return -0.5 * (df + 1.0) * npad.log1p(z * z / df) - norm


def _lognormal(value_, loc, scale):
    log_x = npad.log(value_)
    return _normal(log_x, loc, scale) - log_x


def _exponential(value_, rate):
    return npad.log(rate) - rate * value_


def _gamma(value_, concentration, rate):
    a = concentration
    return npad.xlogy(a, rate) + npad.xlogy(a - 1.0, value_) - rate * value_ - npad.lgamma(a)


def _bernoulli(value_, probs=None, logits=None):
    if logits is None:
        raise Unsupported("Bernoulli(probs=)")
    v, lg = np.asarray(value(value_), dtype=np.float64), value(logits)
    e = np.exp(-np.abs(lg))
    out = v * lg - (np.maximum(lg, 0.0) + np.log1p(e))  # x·l − softplus(l), stably
    if not isinstance(logits, Var):
        return out
    if isinstance(value_, Var):
        raise Unsupported("a Bernoulli value that is differentiated")
    return Var(out, lambda g: npad.acc(logits, g * (v - np.where(lg >= 0, 1.0, e) / (1.0 + e))))


_CONST: dict = {}


def _lgamma1p(x):
    """lgamma(x + 1) of data, computed once per data array."""
    if isinstance(x, Var):
        return npad.lgamma(x + 1.0)
    hit = _CONST.get(id(x))
    if hit is None or hit[0] is not x:
        hit = _CONST[id(x)] = (x, special.gammaln(np.asarray(x, dtype=np.float64) + 1.0))
    return hit[1]


def _poisson(value_, rate=None, log_rate=None):
    if log_rate is not None:
        return value_ * log_rate - npad.exp(log_rate) - _lgamma1p(value_)
    return npad.xlogy(value_, rate) - rate - _lgamma1p(value_)


def _site(lp, ndims: int):
    if ndims <= 0:
        return lp
    shape = np.shape(value(lp))
    if len(shape) < ndims:
        return lp
    return npad.reduce_sum(lp, tuple(range(-ndims, 0)))


def _beta(value_, concentration1, concentration0):
    a, b = concentration1, concentration0
    norm = npad.lgamma(a) + npad.lgamma(b) - npad.lgamma(a + b)
    return npad.xlogy(a - 1.0, value_) + npad.xlogy(b - 1.0, 1.0 - value_) - norm


def _laplace(value_, loc, scale):
    return -npad.log(2.0 * scale) - npad.abs_(value_ - loc) / scale


def _inverse_gamma(value_, concentration, scale):
    a, b = concentration, scale
    return a * npad.log(b) - npad.lgamma(a) - (a + 1.0) * npad.log(value_) - b / value_


def _uniform(value_, low, high):
    v = value(value_)
    inside = np.logical_and(np.greater_equal(v, value(low)), np.less_equal(v, value(high)))
    return npad.where(inside, -npad.log(high - low) + np.zeros(np.shape(v)), -math.inf)


def _flat(value_):
    return np.zeros(np.shape(value(value_)))


_LOG_PROB = {
    "Normal": _normal, "Cauchy": _cauchy, "HalfNormal": _half_normal, "HalfCauchy": _half_cauchy,
    "StudentT": _student_t, "LogNormal": _lognormal, "Exponential": _exponential, "Gamma": _gamma, "Beta": _beta,
    "Laplace": _laplace, "InverseGamma": _inverse_gamma, "Uniform": _uniform, "Poisson": _poisson, "Flat": _flat,
}  # fmt: skip
lpdf = SimpleNamespace(**{k: v for k, v in _LOG_PROB.items() if k != "Flat"}, Bernoulli=_bernoulli, site=_site)


class _Dist:
    """``zl.dist.NAME(...)``: the density's arguments, for ``log_prob``."""

    def __init__(self, name: str, args: tuple, kwargs: dict):
        self.name, self.args, self.kwargs = name, args, kwargs


class _Dists:
    def __getattr__(self, name: str):
        if name not in _LOG_PROB:
            raise Unsupported(f"zl.dist.{name} has no NumPy version")
        return lambda *args, **kwargs: _Dist(name, args, kwargs)


dist = _Dists()


def log_prob(d, value_):
    if not isinstance(d, _Dist):
        raise Unsupported("a distribution object")
    return _LOG_PROB[d.name](value_, *d.args, **d.kwargs)


# ---------------------------------------------------------------- functions


def to_real(x):
    return x if isinstance(x, Var) else np.asarray(x, dtype=np.float64)


exp, log, log1p, expm1 = npad.exp, npad.log, npad.log1p, npad.expm1
sqrt, square, sin, cos, tanh = npad.sqrt, npad.square, npad.sin, npad.cos, npad.tanh
sigmoid = inv_logit = npad.sigmoid
logit, softplus, log_sigmoid = npad.logit, npad.softplus, npad.log_sigmoid
lgamma, digamma, erf = npad.lgamma, npad.digamma, npad.erf
where, log_sum_exp = npad.where, npad.logaddexp


def abs(x):  # noqa: A001 - the spec's name
    return npad.abs_(x)


def pow(a, b):  # noqa: A001
    return npad.power(a, b)


def log_mix(theta, lp1, lp2):
    return npad.logaddexp(npad.log(theta) + lp1, npad.log1p(-theta) + lp2)


def _dims(ndims: int):
    return tuple(range(-ndims, 0))


def sum(x, ndims):  # noqa: A001
    return npad.reduce_sum(x, _dims(ndims)) if ndims else x


def mean(x, ndims):
    if not ndims:
        return x
    n = math.prod(np.shape(value(x))[-ndims:])
    return npad.reduce_sum(x, _dims(ndims)) / float(n)


def logsumexp(x, ndims):
    if not ndims:
        return x
    m = np.max(value(x), axis=_dims(ndims), keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return npad.log(npad.reduce_sum(npad.exp(x - m), _dims(ndims))) + np.squeeze(m, _dims(ndims))


def zeros(*shape):
    return np.zeros([int(s) for s in shape])


def ones(*shape):
    return np.ones([int(s) for s in shape])


def full(*args):
    *shape, v = args
    if isinstance(v, Var) and np.ndim(v.v):
        raise Unsupported("full of a batched Var")
    return v * np.ones([int(s) for s in shape]) if isinstance(v, Var) else np.full([int(s) for s in shape], float(v))


def eye(n):
    return np.eye(int(n))


def arange(n):
    return np.arange(int(n))


def concat(*xs):
    return npad.concat(list(xs), -1)


def stack(*xs):
    return npad.stack(list(xs), -1)


def one_hot(idx, k):
    return np.eye(int(k))[np.asarray(idx, dtype=np.int64)]


def dot(a, b):
    da, db = np.ndim(value(a)), np.ndim(value(b))
    if db == 1 and da in (1, 2):
        return npad.matmul(a, b)
    if da == 1 and db == 2:
        return npad.matmul(b, a)
    return npad.reduce_sum(a * b, -1)


def matvec(A, x):
    if np.ndim(value(A)) != 2 or np.ndim(value(x)) != 1:
        raise Unsupported("batched matvec")
    return npad.matmul(A, x)


def vecmat(x, A):
    if np.ndim(value(A)) != 2 or np.ndim(value(x)) != 1:
        raise Unsupported("batched vecmat")
    return npad.matmul(x, A)


def gather(x, r: int, pos: int, idx, q: int = 0):
    idx = np.asarray(value(idx), dtype=np.int64)
    if np.ndim(value(x)) != r or pos != 0:
        raise Unsupported("a gather with batch dims")
    return npad.take(x, idx)
