"""The N/B scale of a minibatch enters each objective once, outside its nonlinear parts.

A minibatch of B of N elements must give (N/B) times the bound (and gradient) the same B
elements give as a whole data set, for the same draws: IWAE's log-mean-exp and RWS's softmax
are taken of each element's own weights, and score-function signals are per element.
"""

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.runtime.vi.guides import make_guide
from zsdsl.runtime.vi.objectives import make_objective

CONTINUOUS = """
model t
data:
  x: real[N, 3]
nets:
  dec = MLP(2 -> 8 -> 3, act=tanh)
plate n in N, subsample=4:
  z[n] ~ Normal(0, 1), event=[2]
  x[n] ~ Normal(dec(z[n]), 1), event=[3]
guide q:
  nets:
    enc = MLP(3 -> 8 -> 4, act=tanh)
  plate n in N:
    h = enc(x[n])
    z[n] ~ Normal(h[:2], softplus(h[2:])), event=[2]
"""

DISCRETE = """
model t
data:
  x: real[N, 3]
nets:
  dec = MLP(2 -> 8 -> 3, act=tanh)
plate n in N, subsample=4:
  z[n] ~ Bernoulli(0.5), event=[2]
  x[n] ~ Normal(dec(z[n]), 1), event=[3]
guide q:
  nets:
    enc = MLP(3 -> 8 -> 2, act=tanh)
  plate n in N:
    z[n] ~ Bernoulli(logits=enc(x[n])), event=[2]
"""


def _setup(text, x, infer):
    cm = zsdsl.loads(text, "t.zs")
    data = cm.load_data({"x": x})
    torch.manual_seed(0)
    model = cm.model(data)
    guide = make_guide(cm, model, data, "q")
    obj = make_objective(infer, 5)
    obj.bind(model.sites(data), guide)
    obj.prepare(model, data)
    return model, guide, obj, data


def _loss_and_grads(model, guide, obj, data, subsample):
    torch.manual_seed(1)
    loss, bound = obj.loss(model, guide, data, subsample)
    params = list(model.parameters()) + list(guide.parameters())
    grads = torch.autograd.grad(loss, params)
    return float(loss.detach()), float(bound), grads


@pytest.mark.parametrize(
    "text,infer",
    [
        (CONTINUOUS, "sgvb"),
        (CONTINUOUS, "iwae"),
        (CONTINUOUS, "rws"),
        (DISCRETE, "sgvb"),
        (DISCRETE, "iwae"),
        (DISCRETE, "vimco"),
        (DISCRETE, "rws"),
    ],  # fmt: skip
)
def test_minibatch_is_scaled_whole_batch(text, infer):
    torch.set_default_dtype(torch.float64)
    x = np.random.default_rng(3).normal(size=(8, 3))
    whole = _setup(text, x[:4], infer)
    part = _setup(text, x, infer)
    part[0].load_state_dict(whole[0].state_dict())
    part[1].load_state_dict(whole[1].state_dict())
    loss4, bound4, grads4 = _loss_and_grads(*whole, None)
    loss8, bound8, grads8 = _loss_and_grads(*part, {"n": torch.arange(4)})
    assert bound8 == pytest.approx(2 * bound4, rel=1e-12)
    assert loss8 == pytest.approx(2 * loss4, rel=1e-12)
    for g4, g8 in zip(grads4, grads8, strict=True):
        torch.testing.assert_close(g8, 2 * g4, rtol=1e-10, atol=1e-12)
