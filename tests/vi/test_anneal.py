"""KL annealing (``--anneal STEPS``): the latent terms weighted by β = min(1, step/STEPS) in sgvb's loss."""

from __future__ import annotations

import math

import pytest
import torch

import zsdsl
from zsdsl.errors import UsageError

NORMAL_NORMAL = "data:\n  N: int\n  y: real[N]\nmu ~ Normal(0, 1)\nplate n in N:\n  y[n] ~ Normal(mu, 1)\n"
Y = torch.tensor([1.0, 1.5, 2.0], dtype=torch.float64)  # mean 1.5; posterior N(1.125, 0.5^2)


def _fit(**kw):
    cm = zsdsl.loads(NORMAL_NORMAL, "nn.zs")
    return cm.fit({"N": 3, "y": Y}, lr=0.05, particles=8, seed=1, **kw)


def test_beta_zero_fits_the_likelihood_alone():
    # With β ~ 0 throughout, the loss is -E_q log p(y | mu): its optimum is a point mass at the
    # maximum-likelihood estimate mean(y) = 1.5, not the posterior mean 1.125.
    r = _fit(steps=1500, anneal=10**9, schedule="cosine")
    loc, sd = r.guide.posterior_summary()["mu"]
    assert abs(float(loc) - 1.5) < 0.03 and float(sd) < 0.1


def test_annealed_fit_ends_at_the_posterior_and_reports_the_true_elbo():
    exact_mean, exact_sd = 1.125, 0.5
    r = _fit(steps=2000, anneal=300, schedule="cosine", log_every=1)
    loc, sd = r.guide.posterior_summary()["mu"]
    # as the unannealed test in test_vi.py: optimisation noise only, bounds ~5x the seeds' spread
    assert abs(float(loc) - exact_mean) < 0.1 * exact_sd
    assert abs(float(sd) / exact_sd - 1) < 0.1
    # the reported objective is the unweighted ELBO: at step 1 (same draws, same start) it equals
    # the plain fit's, although the losses (and so the parameters after it) differ
    plain = _fit(steps=2, log_every=1)
    assert r.history[0][2] == pytest.approx(plain.history[0][2], rel=1e-12)
    assert r.history[1][2] != pytest.approx(plain.history[1][2], rel=1e-6)


def test_annealing_with_analytic_kl_weights_the_kl():
    cm = zsdsl.loads(NORMAL_NORMAL + "guide q:\n  params:\n    m: real\n  mu ~ Normal(m, 0.5)\n", "nnq.zs")
    r = cm.fit({"N": 3, "y": Y}, lr=0.05, steps=1500, schedule="cosine", analytic_kl=True, anneal=10**9)
    assert abs(float(r.guide.state_dict()["guide.param_m"]) - 1.5) < 0.05  # the likelihood's optimum (β ~ 0)
    full = cm.fit({"N": 3, "y": Y}, lr=0.05, steps=1500, schedule="cosine", analytic_kl=True, anneal=100)
    assert abs(float(full.guide.state_dict()["guide.param_m"]) - 1.125) < 0.05  # the posterior mean


def test_anneal_is_refused_where_it_does_not_apply():
    with pytest.raises(UsageError, match=r"--anneal applies to sgvb, not iwae; leave it out\."):
        _fit(steps=5, infer="iwae", anneal=10)
    spec = "data:\n  y: int\nz ~ Bernoulli(0.5)\ny ~ Bernoulli(0.2 + 0.6 * z)\n"
    cm = zsdsl.loads(spec + "guide q:\n  params:\n    a: real\n  z ~ Bernoulli(logits=a)\n", "bern.zs")
    with pytest.raises(UsageError, match="--anneal is for models whose latents are all continuous"):
        cm.fit({"y": 1}, steps=5, anneal=10)
    assert not math.isnan(_fit(steps=5, anneal=10).final_objective)
