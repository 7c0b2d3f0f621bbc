"""Every distribution factory's log-density against torch.distributions or a closed form."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as D

from zsdsl.compiler.signatures import DISTRIBUTIONS
from zsdsl.errors import ModelError
from zsdsl.runtime.lib import dist as zd
from zsdsl.runtime.lib.distributions import draw, draw_truncated, site_log_prob

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(0)


def pos(*shape):
    return torch.rand(*shape, generator=g) * 2 + 0.2


def real(*shape):
    return torch.randn(*shape, generator=g)


def _cases():
    loc, scale = real(5), pos(5)
    x, xp = real(5), pos(5)
    p = torch.rand(5, generator=g) * 0.8 + 0.1
    logits = real(5)
    k = torch.randint(0, 6, (5,), generator=g).double()
    simplex = torch.softmax(real(4, 3), -1)
    counts = torch.randint(0, 5, (4, 3), generator=g).double()
    L = torch.linalg.cholesky(torch.eye(3) + 0.3 * torch.ones(3, 3))
    a, b = pos(5), pos(5)
    lgamma = torch.lgamma
    return {
        "Normal": (dict(loc=loc, scale=scale), x, D.Normal(loc, scale).log_prob(x)),
        "Flat": (dict(), x, torch.zeros(5)),
        "Implicit": (dict(value=x), x, None),  # no density: tested below
        "HalfNormal": (dict(scale=scale), xp, D.HalfNormal(scale).log_prob(xp)),
        "FoldNormal": (
            dict(loc=loc, scale=scale), xp,
            torch.logaddexp(D.Normal(loc, scale).log_prob(xp), D.Normal(loc, scale).log_prob(-xp)),
        ),
        "HalfCauchy": (dict(scale=scale), xp, D.HalfCauchy(scale).log_prob(xp)),
        "StudentT": (dict(df=a, loc=loc, scale=scale), x, D.StudentT(a, loc, scale).log_prob(x)),
        "Cauchy": (dict(loc=loc, scale=scale), x, D.Cauchy(loc, scale).log_prob(x)),
        "Laplace": (dict(loc=loc, scale=scale), x, D.Laplace(loc, scale).log_prob(x)),
        "Logistic": (
            dict(loc=loc, scale=scale), x,
            -(x - loc) / scale - 2 * torch.log1p(torch.exp(-(x - loc) / scale)) - torch.log(scale),
        ),
        "LogNormal": (dict(loc=loc, scale=scale), xp, D.LogNormal(loc, scale).log_prob(xp)),
        "Exponential": (dict(rate=a), xp, D.Exponential(a).log_prob(xp)),
        "Gamma": (dict(concentration=a, rate=b), xp, D.Gamma(a, b).log_prob(xp)),
        "InverseGamma": (
            dict(concentration=a, scale=b), xp,
            a * torch.log(b) - lgamma(a) - (a + 1) * torch.log(xp) - b / xp,
        ),
        "Weibull": (dict(concentration=a, scale=b), xp, D.Weibull(b, a).log_prob(xp)),
        "Beta": (dict(concentration1=a, concentration0=b), p, D.Beta(a, b).log_prob(p)),
        "Uniform": (dict(low=loc - 3, high=loc + 3), loc, torch.full((5,), -math.log(6.0))),
        "Bernoulli": (dict(logits=logits), (k > 2).double(), D.Bernoulli(logits=logits).log_prob((k > 2).double())),
        "Binomial": (dict(total_count=6, probs=p), k, D.Binomial(6, p).log_prob(k)),
        "Poisson": (dict(log_rate=logits), k, k * logits - torch.exp(logits) - lgamma(k + 1)),
        "NegativeBinomial": (dict(total_count=a, probs=p), k, D.NegativeBinomial(a, p).log_prob(k)),
        "NegativeBinomial2": (
            dict(mu=a, phi=b), k,
            lgamma(k + b) - lgamma(b) - lgamma(k + 1) + b * torch.log(b / (a + b)) + k * torch.log(a / (a + b)),
        ),
        "Categorical": (dict(probs=simplex), k[:4] % 3, D.Categorical(probs=simplex).log_prob(k[:4] % 3)),
        "OneHotCategorical": (
            dict(logits=simplex.log()), torch.eye(3)[[0, 2, 1, 0]],
            D.OneHotCategorical(probs=simplex).log_prob(torch.eye(3)[[0, 2, 1, 0]]),
        ),
        "Multinomial": (
            dict(total_count=counts.sum(-1), probs=simplex), counts,
            lgamma(counts.sum(-1) + 1) - lgamma(counts + 1).sum(-1) + (counts * simplex.log()).sum(-1),
        ),
        "Dirichlet": (dict(concentration=pos(4, 3)), simplex, None),
        "MultivariateNormal": (
            dict(loc=real(3), scale_tril=L), real(4, 3), None,
        ),
        "LKJCholesky": (dict(dim=3, concentration=2.0), None, None),
        "RelaxedBernoulli": (
            dict(temperature=0.5, logits=logits), p, D.RelaxedBernoulli(torch.tensor(0.5), logits=logits).log_prob(p),
        ),
        "Concrete": (
            dict(temperature=0.5, probs=simplex), simplex,
            D.RelaxedOneHotCategorical(torch.tensor(0.5), probs=simplex).log_prob(simplex),
        ),
    }  # fmt: skip


CASES = _cases()


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_factory_matches_reference(name):
    assert name in CASES, f"no test case for {name}"
    kwargs, value, want = CASES[name]
    d = getattr(zd, name)(**kwargs)
    if name == "Implicit":  # its draw is its value, pathwise; its density is refused with the way out
        assert torch.equal(zd.draw(d, (5,), True), value)
        with pytest.raises(ModelError, match="An implicit site .* has no density.*--infer gan or --infer wgan-gp"):
            zd.log_prob(d, value)
        return
    if name == "Dirichlet":
        want = D.Dirichlet(kwargs["concentration"]).log_prob(value)
    elif name == "MultivariateNormal":
        want = D.MultivariateNormal(kwargs["loc"], scale_tril=kwargs["scale_tril"]).log_prob(value)
    elif name == "LKJCholesky":
        value = D.LKJCholesky(3, 2.0).sample((4,))
        want = D.LKJCholesky(3, 2.0).log_prob(value)
    torch.testing.assert_close(zd.log_prob(d, value), want, atol=1e-6, rtol=1e-6)


def test_factories_accept_python_numbers_and_keyword_only_calls():
    d = zd.Normal(loc=0, scale=1)
    assert d.log_prob(torch.tensor(0.0)).item() == pytest.approx(-0.5 * math.log(2 * math.pi))


def test_site_log_prob_sums_trailing_dims():
    d = zd.Normal(loc=torch.zeros(2, 3), scale=1.0)
    v = torch.randn(2, 3, generator=g)
    torch.testing.assert_close(site_log_prob(d, v, 2), D.Normal(0.0, 1.0).log_prob(v).sum())
    assert site_log_prob(d, v, 1).shape == (2,)


@pytest.mark.parametrize("form", ["logits", "probs"])
def test_site_log_prob_of_a_bernoulli_matches_torch(form):
    """A Bernoulli guide site: torch's value with the draws broadcast against the parameters
    (particles in front), integer values cast, either parameterisation."""
    logits = torch.randn(4, 5, generator=g) * 3
    d = zd.Bernoulli(logits=logits) if form == "logits" else zd.Bernoulli(probs=torch.sigmoid(logits))
    v = torch.bernoulli(torch.full((3, 4, 5), 0.5), generator=g)
    expected = D.Bernoulli(logits=logits).log_prob(v).sum(-1)
    torch.testing.assert_close(site_log_prob(d, v, 1), expected)
    torch.testing.assert_close(site_log_prob(d, v.long(), 1), expected)


def test_draw_shapes():
    assert draw(zd.Normal(loc=0.0, scale=1.0), (7, 3), True).shape == (7, 3)
    assert draw(zd.Dirichlet(concentration=torch.ones(4)), (5,), True).shape == (5, 4)
    assert draw(zd.Categorical(logits=torch.zeros(3, 6)), (2, 3), False).shape == (2, 3)
    assert draw(zd.Poisson(log_rate=torch.zeros(3)), (4, 3), False).shape == (4, 3)
    assert draw(zd.Multinomial(total_count=torch.tensor([3.0, 5.0]), probs=torch.ones(2, 4) / 4), (2,), False).sum(
        -1
    ).tolist() == [3.0, 5.0]


def test_truncated_draws_stay_in_bounds_and_match_the_truncated_mean():
    torch.manual_seed(0)
    n = 200_000
    x = draw_truncated(zd.Normal(loc=0.0, scale=1.0), (n,), 0.5, 2.0)
    assert x.min() >= 0.5 and x.max() <= 2.0
    a, b = 0.5, 2.0
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    mean = (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    sd = x.std().item()
    # Monte Carlo error of the mean is sd/sqrt(n) ≈ 8e-4; allow 5 standard errors.
    assert abs(x.mean().item() - mean) < 5 * sd / math.sqrt(n)
    y = draw_truncated(zd.HalfCauchy(scale=2.0), (1000,), None, 3.0)
    assert y.min() >= 0 and y.max() <= 3.0
    z = draw_truncated(zd.Gamma(concentration=2.0, rate=1.0), (1000,), 1.0, None)
    assert z.min() >= 1.0
