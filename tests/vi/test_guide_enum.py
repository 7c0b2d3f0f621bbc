"""A guide that sums over a discrete site ('enumerate' in a guide block, as M2 does)."""

import math

import pytest
import torch

import zsdsl

SPEC = """
data:
  x: real[3]

plate m in 3:
  y[m] ~ Bernoulli(0.3)
  x[m] ~ Normal(2 * y[m], 1)

guide q:
  params:
    a: real[3]
  plate m in 3:
    y[m] ~ Bernoulli(logits=a[m]), enumerate
"""
X = torch.tensor([-0.5, 1.0, 2.5])


def _exact_elbo(a: torch.Tensor) -> torch.Tensor:
    # sum_m sum_k q(k) [log p(k) + log N(x_m; 2k, 1) - log q(k)]: no Monte Carlo anywhere
    q1 = torch.sigmoid(a)
    total = 0.0
    for k, qk in ((0, 1 - q1), (1, q1)):
        log_p = math.log(0.3 if k else 0.7) - 0.5 * (X - 2 * k) ** 2 - 0.5 * math.log(2 * math.pi)
        total = total + (qk * (log_p - qk.log())).sum()
    return total


def test_the_bound_and_its_gradient_are_the_exact_sum():
    from zsdsl.runtime.vi.guides import make_guide
    from zsdsl.runtime.vi.objectives import make_objective

    cm = zsdsl.loads(SPEC, "enum_guide.zs")
    data = cm.prepare_data({"x": X})
    model = cm.model(data)
    guide = make_guide(cm, model, data, "q")
    with torch.no_grad():
        guide.guide.param_a.copy_(torch.tensor([0.3, -1.0, 2.0]))
    objective = make_objective("sgvb", None, False, "moving")
    objective.bind(model.sites(data), guide)
    assert objective.estimators(model.sites(data))["y"] == "enumerated in the guide (exact sum)"
    loss, bound = objective.loss(model, guide, data)
    a = torch.tensor([0.3, -1.0, 2.0], requires_grad=True)
    want = _exact_elbo(a)
    (want_grad,) = torch.autograd.grad(want, a)
    (grad,) = torch.autograd.grad(loss, guide.guide.param_a)
    assert abs(float(bound) - float(want.detach())) < 1e-5
    assert torch.allclose(-grad, want_grad, atol=1e-5)


def test_fitting_reaches_the_exact_posterior():
    # q(y_m = 1) -> p(y_m = 1 | x_m) = 0.3 N(x; 2, 1) / (0.3 N(x; 2, 1) + 0.7 N(x; 0, 1)), and the
    # bound -> log p(x); the gradient is exact, so only the optimizer's tolerance remains.
    cm = zsdsl.loads(SPEC, "enum_guide.zs")
    r = cm.fit({"x": X}, guide="q", steps=1500, lr=0.05, schedule="cosine")
    post = 0.3 * torch.exp(-0.5 * (X - 2) ** 2) / (0.3 * torch.exp(-0.5 * (X - 2) ** 2) + 0.7 * torch.exp(-0.5 * X**2))
    q1 = torch.sigmoid(r.guide.guide.param_a.detach())
    assert torch.allclose(q1, post, atol=1e-3)
    with pytest.raises(Exception, match=r"The guide sums over y \('enumerate'\): use --infer sgvb"):
        cm.fit({"x": X}, guide="q", infer="iwae", particles=4, steps=1)


def test_analytic_kl_is_refused_for_an_enumerating_guide():
    # the analytic-KL path draws every guide site: it would neither sum over y nor give it a gradient
    from zsdsl.errors import UsageError

    cm = zsdsl.loads(SPEC, "enum.zs")
    with pytest.raises(UsageError, match="--analytic-kl is for models whose latents are all continuous"):
        cm.fit({"x": X}, infer="sgvb", guide="q", steps=2, analytic_kl=True)
