"""The closed-form log-densities (``zl.lpdf``) equal torch's, and the emitter uses them."""

from __future__ import annotations

import pytest
import torch

import zsdsl
from zsdsl.runtime.lib import distributions as dist
from zsdsl.runtime.lib import functions as fn
from zsdsl.runtime.lib import lpdf

g = torch.Generator().manual_seed(0)


def _pos(*shape):
    return torch.rand(*shape, generator=g, dtype=torch.float64) * 3 + 0.1


def _real(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64) * 2


CASES = [
    ("Normal", _real(4, 3), {"loc": _real(3), "scale": _pos(4, 1)}),
    ("Normal", _real(5), {"loc": 0, "scale": 5}),
    ("HalfNormal", _pos(6), {"scale": 2.5}),
    ("Cauchy", _real(2, 5), {"loc": _real(5), "scale": _pos(5)}),
    ("HalfCauchy", _pos(7), {"scale": _pos(7)}),
    ("StudentT", _real(6), {"df": 3, "loc": _real(6), "scale": 2}),
    ("StudentT", _real(6), {"df": _pos(6)}),
    ("LogNormal", _pos(3, 2), {"loc": _real(2), "scale": _pos(2)}),
    ("Exponential", _pos(5), {"rate": _pos(5)}),
    ("Gamma", _pos(5), {"concentration": _pos(5), "rate": 2}),
    ("Gamma", _pos(5), {"concentration": 2, "rate": _pos(5)}),
    ("Bernoulli", torch.tensor([0, 1, 1, 0]), {"logits": _real(3, 4)}),
    ("Poisson", torch.tensor([0, 3, 7]), {"rate": _pos(3)}),
    ("Poisson", torch.tensor([0, 3, 7]), {"log_rate": _real(2, 3)}),
]


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # constants become float64 tensors in zl.dist, as in `zsdsl sample`
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize(("name", "value", "args"), CASES, ids=[c[0] for c in CASES])
def test_closed_form_matches_torch(name, value, args, float64):
    fast = getattr(lpdf, name)(value, **args)
    ref = dist.log_prob(getattr(dist, name)(**args), value)
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)


def test_half_distributions_are_minus_infinity_below_zero():
    assert lpdf.HalfNormal(torch.tensor([-1.0]), 1.0).item() == float("-inf")
    assert lpdf.HalfCauchy(torch.tensor([-1.0]), 1.0).item() == float("-inf")


@pytest.mark.parametrize(("a", "b"), [((5, 3), (1, 3)), ((5, 3), (4, 1, 3)), ((4, 5, 3), (4, 1, 3)), ((1, 3), (5, 3)),
                                      ((3,), (3,)), ((2, 5, 3), (3,)), ((3,), (4, 3))])  # fmt: skip
def test_dot_broadcasts_like_a_product_sum(a, b):
    x, y = _real(*a), _real(*b)
    torch.testing.assert_close(fn.dot(x, y), (x * y).sum(-1))


def test_emitted_model_uses_closed_forms_and_keeps_others():
    text = "data:\n  y: int[N] in {0, 1}\nw ~ Normal(0, 1)\nplate n in N:\n  y[n] ~ Bernoulli(probs=sigmoid(w))\n"
    cm = zsdsl.loads(text)
    assert "zl.lpdf.Normal(w, loc=0, scale=1)" in cm.source
    assert "zl.log_prob(zl.dist.Bernoulli(probs=" in cm.source


@pytest.mark.parametrize("a", [0.3, -0.7, 0.95])
def test_recurrence_matches_its_loop_with_gradients(a, float64):
    a = torch.tensor(a, requires_grad=True)
    b = _real(7).requires_grad_(True)
    init = torch.tensor(1.3, requires_grad=True)
    s = fn.recurrence(a, b, init)
    loop = [init]
    for t in range(1, 7):
        loop.append(a * loop[-1] + b[t - 1])
    ref = torch.stack(loop)
    torch.testing.assert_close(s, ref)
    for x, y in zip(torch.autograd.grad(s.sum(), [a, b, init]), torch.autograd.grad(ref.sum(), [a, b, init])):
        torch.testing.assert_close(x, y)
    bs = _real(2, 5)
    batched = fn.recurrence(torch.tensor([0.2, 0.5]), bs, torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(batched[1], fn.recurrence(torch.tensor(0.5), bs[1], torch.tensor(2.0)))
    torch.testing.assert_close(batched[0], fn.recurrence(torch.tensor(0.2), bs[0], torch.tensor(1.0)))


def test_recurrence_arguments_are_checked():
    from zsdsl.errors import ZsdslError

    with pytest.raises(ZsdslError, match=r"recurrence\(\) needs a vector for b"):
        zsdsl.loads("data:\n  y: real\nx ~ Normal(0, 1)\nz = recurrence(0.5, x, 1.0)\ny ~ Normal(z, 1)\n")
