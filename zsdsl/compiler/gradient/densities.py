"""The log-density of every distribution the emitted gradient path knows, written once.

Each entry is a formula over a maths namespace ``m`` (``log``, ``log1p``, ``lgamma``, ``xlogy``,
``softplus``, ``abs``, ``nonneg``, ``within``; for the multivariate ones ``trisolve``, ``diag``,
``total`` (a sum of every element) and ``length``) and operands that support ``+ - * /``: the lowering pass runs it over
symbolic values (``Builder``), and ``tests/test_gradient_emit.py`` runs the same formula over
PyTorch tensors and checks it against ``zl.lpdf`` / ``torch.distributions`` at random points, so the
PyTorch emitter (which calls those for speed) and this table cannot drift apart.

Keys are (distribution, frozenset of argument names) as in ``zsdsl.compiler.signatures``;
``support_nonneg`` marks the half distributions, whose density is −∞ below 0.
"""

from __future__ import annotations

import math

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
LOG_PI = math.log(math.pi)
LOG_2 = math.log(2.0)


def normal(m, x, loc, scale):
    z = (x - loc) / scale
    return -0.5 * (z * z) - m.log(scale) - HALF_LOG_2PI


def half_normal(m, x, scale):
    return m.nonneg(x, normal(m, x, 0.0, scale) + LOG_2)


def cauchy(m, x, loc, scale):
    z = (x - loc) / scale
    return -LOG_PI - m.log(scale) - m.log1p(z * z)


def half_cauchy(m, x, scale):
    return m.nonneg(x, cauchy(m, x, 0.0, scale) + LOG_2)


def student_t(m, x, df, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    norm = m.log(scale) + 0.5 * m.log(df) + 0.5 * LOG_PI + m.lgamma(0.5 * df) - m.lgamma(0.5 * (df + 1.0))
    return -0.5 * (df + 1.0) * m.log1p(z * z / df) - norm


def log_normal(m, x, loc, scale):
    log_x = m.log(x)
    return normal(m, log_x, loc, scale) - log_x


def exponential(m, x, rate):
    return m.log(rate) - rate * x


def gamma(m, x, concentration, rate):
    a, b = concentration, rate
    return m.xlogy(a, b) + m.xlogy(a - 1.0, x) - b * x - m.lgamma(a)


def inverse_gamma(m, x, concentration, scale):
    a, b = concentration, scale
    return m.xlogy(a, b) - m.lgamma(a) - (a + 1.0) * m.log(x) - b / x


def beta(m, x, concentration1, concentration0):
    a, b = concentration1, concentration0
    lbeta = m.lgamma(a) + m.lgamma(b) - m.lgamma(a + b)
    return m.xlogy(a - 1.0, x) + m.xlogy(b - 1.0, 1.0 - x) - lbeta


def bernoulli_logits(m, x, logits):
    return x * logits - m.softplus(logits)


def poisson_log_rate(m, x, log_rate):
    return x * log_rate - m.exp(log_rate) - m.lgamma(x + 1.0)


def poisson_rate(m, x, rate):
    return m.xlogy(x, rate) - rate - m.lgamma(x + 1.0)


def bernoulli_probs(m, x, probs):
    return m.xlogy(x, probs) + m.xlogy(1.0 - x, 1.0 - probs)


def laplace(m, x, loc, scale):
    return -m.log(2.0 * scale) - m.abs(x - loc) / scale


def uniform(m, x, low, high):
    return m.within(x, low, high, -m.log(high - low))


def mvn_scale_tril(m, x, loc, scale_tril):
    """One vector ``x`` under N(loc, L Lᵀ): -|L⁻¹(x - loc)|²/2 - Σ log diag L - n log(2π)/2."""
    r = m.trisolve(scale_tril, x - loc)
    return -0.5 * m.total(r * r) - m.total(m.log(m.diag(scale_tril))) - HALF_LOG_2PI * m.length(x)


def dirichlet(m, x, concentration):
    """One simplex ``x`` under Dirichlet(α): lgamma(Σα) - Σ lgamma(α) + Σ (α - 1) log x."""
    a = concentration
    return m.lgamma(m.total(a)) - m.total(m.lgamma(a)) + m.total(m.xlogy(a - 1.0, x))


def flat(m, x):
    return 0.0


def _key(name, *args):
    return (name, frozenset(args))


DENSITIES = {
    _key("Normal", "loc", "scale"): normal,
    _key("HalfNormal", "scale"): half_normal,
    _key("Cauchy", "loc", "scale"): cauchy,
    _key("HalfCauchy", "scale"): half_cauchy,
    _key("StudentT", "df"): student_t,
    _key("StudentT", "df", "loc"): student_t,
    _key("StudentT", "df", "scale"): student_t,
    _key("StudentT", "df", "loc", "scale"): student_t,
    _key("LogNormal", "loc", "scale"): log_normal,
    _key("Exponential", "rate"): exponential,
    _key("Gamma", "concentration", "rate"): gamma,
    _key("InverseGamma", "concentration", "scale"): inverse_gamma,
    _key("Beta", "concentration1", "concentration0"): beta,
    _key("Bernoulli", "logits"): bernoulli_logits,
    _key("Bernoulli", "probs"): bernoulli_probs,
    _key("Laplace", "loc", "scale"): laplace,
    _key("Uniform", "low", "high"): uniform,
    _key("Poisson", "log_rate"): poisson_log_rate,
    _key("Poisson", "rate"): poisson_rate,
    _key("Flat"): flat,
    _key("MultivariateNormal", "loc", "scale_tril"): mvn_scale_tril,
    _key("Dirichlet", "concentration"): dirichlet,
}
MULTIVARIATE = {mvn_scale_tril, dirichlet}  # their value is one vector (event rank 1); the lowering passes it whole


def density(name: str, arg_names) -> object | None:
    """The formula for a distribution with these arguments, or None where the table has none."""
    return DENSITIES.get(_key(name, *arg_names))
