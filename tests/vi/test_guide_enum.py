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


SPEC_Z = """
data:
  x: real[3]

plate m in 3:
  y[m] ~ Bernoulli(0.3)
  z[m] ~ Normal(0, 1)
  x[m] ~ Normal(z[m] + 2 * y[m], 1)

guide q:
  params:
    a: real[3]
    b: real[3]
    c: real
    ls: real
  plate m in 3:
    y[m] ~ Bernoulli(logits=a[m]), enumerate
    z[m] ~ Normal(b[m] + c * y[m], exp(ls))
"""


def test_analytic_kl_with_an_enumerating_guide_keeps_the_expectation_and_cuts_the_variance():
    # E[bound] = sum_m sum_k q(k) [log p(k) - log q(k) - KL(N(mu_k, s) || N(0, 1))
    #                              - log(2 pi) / 2 - ((x - mu_k - 2k)^2 + s^2) / 2],  mu_k = b + c k
    from zsdsl.runtime.vi.guides import make_guide
    from zsdsl.runtime.vi.objectives import make_objective

    cm = zsdsl.loads(SPEC_Z, "enum_z.zs")
    data = cm.prepare_data({"x": X})
    model = cm.model(data)
    guide = make_guide(cm, model, data, "q")
    a, b, c, s = torch.tensor([0.3, -0.5, 1.0]), torch.tensor([0.2, -0.1, 0.5]), 1.5, 0.6
    with torch.no_grad():
        g = guide.guide
        g.param_a.copy_(a), g.param_b.copy_(b), g.param_c.fill_(c), g.param_ls.fill_(math.log(s))
    exact = 0.0
    for k, qk in ((0, 1 - torch.sigmoid(a)), (1, torch.sigmoid(a))):
        mu = b + c * k
        kl = math.log(1 / s) + (s**2 + mu**2) / 2 - 0.5
        log_pk = math.log(0.3 if k else 0.7)
        inner = log_pk - qk.log() - kl - 0.5 * math.log(2 * math.pi) - ((X - mu - 2 * k) ** 2 + s**2) / 2
        exact = exact + float((qk * inner).sum())
    torch.manual_seed(0)
    draws = {}
    for analytic in (False, True):
        objective = make_objective("sgvb", None, analytic, "moving")
        objective.bind(model.sites(data), guide)
        draws[analytic] = torch.stack([objective.loss(model, guide, data)[1] for _ in range(3000)])
    assert objective.kl_sites == {"z"}
    assert objective.estimators(model.sites(data)) == {
        "y": "enumerated in the guide (exact sum)",
        "z": "pathwise; analytic KL where the guide/prior pair has one",
    }
    for d in draws.values():  # both unbiased: within 4 standard errors of the exact ELBO
        assert abs(float(d.mean()) - exact) < 4 * float(d.std()) / math.sqrt(len(d))
    assert float(draws[True].std()) < 0.8 * float(draws[False].std())
