"""Conformance: every engine runs on a model written by hand against the compiled-model protocol
(``zsdsl.runtime.protocol``), without the compiler, and recovers the exact conjugate posterior.

The model: mu ~ Normal(0, 2), y_n ~ Normal(mu, 1) for n < N = 40, with a positive site s ~
HalfNormal(1) that no term involves but its prior (so the bijector path is exercised and its
marginal is known: sd sqrt(1 - 2/pi)). Posterior of mu: precision 1/4 + N, mean sum(y) / precision.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as td

from zsdsl.runtime.lib import ModelBase, Site
from zsdsl.runtime.lib.bijectors import Identity, Positive
from zsdsl.runtime.mcmc.output import flat_columns, summarize
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample
from zsdsl.runtime.mcmc.sgmcmc import SGMCMCConfig, sample_sgmcmc
from zsdsl.runtime.protocol import ModelProtocol
from zsdsl.runtime.vi.train import FitConfig, fit

N, BATCH = 40, 10


class HandModel(ModelBase):
    """Written by hand: the hooks ``_model``, ``_sample``, ``sites``, ``plate_sizes`` and class records."""

    name = "hand"
    observed = ("y",)
    plate_subsample = {"n": BATCH}
    plate_dims = {"n": "N"}
    term_plates = {"mu": (), "s": (), "y": ("n",)}
    term_latents = {"mu": ("mu",), "s": ("s",), "y": ("mu",)}

    def sites(self, data):
        return [Site("mu", (), bijector=Identity()), Site("s", (), support="positive", bijector=Positive())]

    def plate_sizes(self):
        return {"n": self.dims["N"]}

    def _model(self, values, data, subsample, dists=None):
        mu, s, y = values["mu"], values["s"], data["y"]
        idx = None if subsample is None else subsample.get("n")
        scale = 1.0 if idx is None else self.dims["N"] / len(idx)
        if idx is not None:
            y = y[idx]
        if dists is not None:
            dists["mu"], dists["s"] = td.Normal(0.0, 2.0), td.HalfNormal(1.0)
        terms = {
            "mu": td.Normal(0.0, 2.0).log_prob(mu),
            "s": td.HalfNormal(1.0).log_prob(s),
            "y": scale * td.Normal(mu.unsqueeze(-1), 1.0).log_prob(y),
        }
        return terms, {"two_mu": 2 * mu}

    def _sample(self, data, sample_shape, values):
        values = values or {}
        mu = values.get("mu", td.Normal(0.0, 2.0).sample(sample_shape))
        s = values.get("s", td.HalfNormal(1.0).sample(sample_shape))
        return {"mu": mu, "s": s, "y": td.Normal(mu.unsqueeze(-1), 1.0).sample((self.dims["N"],)).movedim(0, -1)}


class HandSource:
    """What ``fit`` builds from (``zsdsl.runtime.protocol.ModelSource``): no guide blocks."""

    guide_names = ()

    def model(self, data):
        return HandModel({"N": int(data["y"].shape[0])})

    def guide(self, name, data):
        raise KeyError(name)


@pytest.fixture(scope="module")
def problem():
    torch.set_default_dtype(torch.float64)
    y = torch.linspace(-1.0, 2.4, N)
    precision = 0.25 + N
    return {"y": y}, float(y.sum()) / precision, 1 / math.sqrt(precision)


def test_the_hand_written_model_satisfies_the_protocol(problem):
    data, _, _ = problem
    model = HandSource().model(data)
    assert isinstance(model, ModelProtocol)
    assert not isinstance(torch.nn.Linear(1, 1), ModelProtocol)
    terms, dets = model.log_terms({"mu": torch.tensor(0.5), "s": torch.tensor(1.0)}, data)
    want = td.Normal(0.5, 1.0).log_prob(data["y"]).sum() + td.Normal(0.0, 2.0).log_prob(torch.tensor(0.5))
    want = want + td.HalfNormal(1.0).log_prob(torch.tensor(1.0))
    assert torch.allclose(model.log_joint({"mu": torch.tensor(0.5), "s": torch.tensor(1.0)}, data), want)
    assert set(terms) == {"mu", "s", "y"} and float(dets["two_mu"]) == 1.0


@pytest.mark.parametrize("method", ["nuts", "hmc"])
def test_nuts_and_hmc_on_the_protocol(problem, method):
    data, mean, sd = problem
    result = sample(HandSource().model(data), data, SamplerConfig(method=method, chains=2, warmup=300, draws=600,
                                                                  cores=1, hmc_steps=8))  # fmt: skip
    assert result.potential.backend == "torch"  # hand-written: no generated code for the NumPy path
    table = summarize(flat_columns(result.values()))
    mu, s = table["mu"], table["s"]
    # the posterior mean within 4 Monte Carlo standard errors; the sd within 15 % (ESS in the hundreds)
    assert abs(mu["mean"] - mean) < 4 * mu["mcse_mean"], (mu, mean)
    assert abs(mu["sd"] / sd - 1) < 0.15, (mu["sd"], sd)
    assert abs(s["mean"] - math.sqrt(2 / math.pi)) < 4 * s["mcse_mean"] + 0.02, s
    assert torch.allclose(result.values()["two_mu"], 2 * result.values()["mu"])


def test_sgld_on_the_protocol(problem):
    data, mean, sd = problem
    cfg = SGMCMCConfig(method="sgld", burnin=1000, draws=3000, thin=2, lr=2e-4, seed=3)
    result = sample_sgmcmc(HandSource().model(data), data, cfg)
    x = result.values()["mu"].numpy()
    s = summarize({"mu": x})["mu"]
    # SG-MCMC is biased by the step size and the minibatch noise: the mean within 4 mcse + 0.2 sd
    assert abs(s["mean"] - mean) < 4 * s["mcse_mean"] + 0.2 * sd, (s, mean)
    assert 0.6 < s["sd"] / sd < 1.6, (s["sd"], sd)


@pytest.mark.parametrize("infer", ["sgvb", "iwae", "vimco", "nvil", "rws", "map"])
def test_each_vi_objective_on_the_protocol(problem, infer):
    data, mean, sd = problem
    guide = "auto-delta" if infer == "map" else "auto-normal"
    particles = None if infer == "map" else 4
    config = FitConfig(infer=infer, guide=guide, particles=particles, steps=1500, lr=0.02, schedule="cosine", seed=1)
    result = fit(HandSource(), data, config, progress=False)
    with torch.no_grad():
        draws, _, _ = result.guide.sample_and_log_prob(data, (4000,))
    got = float(draws["mu"].mean())
    # minibatches of 10 of 40: the fitted mean moves with the last steps' noise; 0.3 posterior sd
    # is well above the Adam noise at the end of a cosine schedule and well below a wrong answer
    assert abs(got - mean) < 0.3 * sd + 0.01, (infer, got, mean)
    if infer == "sgvb":  # (iwae's and vimco's q is a proposal: wider than the posterior for k > 1)
        assert abs(float(draws["mu"].std()) / sd - 1) < 0.3, (infer, float(draws["mu"].std()), sd)
