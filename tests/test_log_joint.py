"""Compiled log-joints equal hand-written PyTorch log-densities on random inputs (to 1e-5)."""

from __future__ import annotations

import pytest
import torch
import torch.distributions as D
from golden_util import ROOT

import zsdsl

torch.set_default_dtype(torch.float64)


def load(name):
    return zsdsl.load(ROOT / "specs" / f"{name}.zs")


def close(a, b):
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_eight_schools_noncentered():
    cm = load("eight_schools_noncentered")
    g = torch.Generator().manual_seed(0)
    data = cm.prepare_data(
        {"J": 8, "y": torch.randn(8, generator=g) * 10, "sigma": torch.rand(8, generator=g) * 10 + 5}
    )
    model = cm.model(data)
    S = 5
    values = {
        "mu": torch.randn(S, generator=g),
        "tau": torch.rand(S, generator=g) * 3,
        "theta_trans": torch.randn(S, 8, generator=g),
    }
    got = model.log_joint(values, data)
    mu, tau, tt = values["mu"], values["tau"], values["theta_trans"]
    theta = mu[:, None] + tau[:, None] * tt
    want = (
        D.Normal(0, 5).log_prob(mu)
        + D.HalfCauchy(5).log_prob(tau)
        + D.Normal(0, 1).log_prob(tt).sum(-1)
        + D.Normal(theta, data["sigma"]).log_prob(data["y"]).sum(-1)
    )
    close(got, want)
    close(model.deterministics(values, data)["theta"], theta)


def test_logistic_regression_with_minibatch_scaling():
    cm = load("logistic_regression")
    g = torch.Generator().manual_seed(1)
    N, Dm = 50, 4
    X = torch.randn(N, Dm, generator=g)
    y = (torch.rand(N, generator=g) < 0.5).long()
    data = cm.prepare_data({"N": N, "D": Dm, "X": X, "y": y})
    model = cm.model(data)
    values = {"w": torch.randn(3, Dm, generator=g), "b": torch.randn(3, generator=g)}
    logits = values["w"] @ X.T + values["b"][:, None]
    prior = D.Normal(0, 1).log_prob(values["w"]).sum(-1) + D.Normal(0, 1).log_prob(values["b"])
    lik = D.Bernoulli(logits=logits).log_prob(y.double())
    close(model.log_joint(values, data), prior + lik.sum(-1))
    plate = next(iter(model.plate_subsample))
    idx = torch.tensor([3, 7, 11, 20, 41])
    scaled = prior + N / len(idx) * lik[:, idx].sum(-1)
    close(model.log_joint(values, data, subsample={plate: idx}), scaled)


def test_gmm_with_discrete_assignments():
    cm = load("gmm_enum")
    g = torch.Generator().manual_seed(2)
    N = 30
    data = cm.prepare_data({"N": N, "y": torch.randn(N, generator=g) * 3})
    model = cm.model(data)
    S = 4
    mu = torch.sort(torch.randn(S, 2, generator=g), dim=-1).values
    sigma = torch.rand(S, 2, generator=g) + 0.5
    theta = torch.rand(S, generator=g)
    z = torch.randint(0, 2, (S, N), generator=g)
    values = {"mu": mu, "sigma": sigma, "theta": theta, "z": z}
    probs = torch.stack([theta, 1 - theta], -1)
    want = (
        D.Normal(0, 2).log_prob(mu).sum(-1)
        + D.Normal(0, 2).log_prob(sigma).sum(-1)
        + D.Beta(5.0, 5.0).log_prob(theta)
        + D.Categorical(probs=probs[:, None, :]).log_prob(z).sum(-1)
        + D.Normal(torch.gather(mu, 1, z), torch.gather(sigma, 1, z)).log_prob(data["y"]).sum(-1)
    )
    close(model.log_joint(values, data), want)


def test_gmm_factor_form():
    cm = load("gmm")
    g = torch.Generator().manual_seed(3)
    N = 20
    data = cm.prepare_data({"N": N, "y": torch.randn(N, generator=g) * 3})
    model = cm.model(data)
    mu = torch.tensor([-1.0, 2.0])
    sigma = torch.tensor([0.7, 1.3])
    theta = torch.tensor(0.3)
    y = data["y"]
    lp1 = D.Normal(mu[0], sigma[0]).log_prob(y)
    lp2 = D.Normal(mu[1], sigma[1]).log_prob(y)
    mix = torch.logaddexp(torch.log(theta) + lp1, torch.log1p(-theta) + lp2).sum()
    want = (
        D.Normal(0, 2).log_prob(mu).sum()
        + D.Normal(0, 2).log_prob(sigma).sum()
        + D.Beta(5.0, 5.0).log_prob(theta)
        + mix
    )
    close(model.log_joint({"mu": mu, "sigma": sigma, "theta": theta}, data), want)


def test_pmf():
    cm = load("pmf")
    g = torch.Generator().manual_seed(4)
    U, I, R, K = 6, 7, 40, 10
    user = torch.randint(0, U, (R,), generator=g)
    item = torch.randint(0, I, (R,), generator=g)
    rating = torch.randn(R, generator=g)
    data = cm.prepare_data({"U": U, "I": I, "R": R, "user": user, "item": item, "rating": rating})
    model = cm.model(data)
    values = {
        "sigma": torch.tensor([0.5, 1.5]),
        "sigma_P": torch.tensor([0.3, 2.0]),
        "sigma_Q": torch.tensor([1.2, 0.7]),
        "P": torch.randn(2, U, K, generator=g),
        "Q": torch.randn(2, I, K, generator=g),
    }
    P, Q, s = values["P"], values["Q"], values["sigma"]
    sP, sQ = values["sigma_P"], values["sigma_Q"]
    pred = (P[:, user] * Q[:, item]).sum(-1)
    want = (
        D.HalfNormal(1.0).log_prob(s)
        + D.HalfNormal(1.0).log_prob(sP)
        + D.HalfNormal(1.0).log_prob(sQ)
        + D.Normal(0, sP[:, None, None]).log_prob(P).sum((-1, -2))
        + D.Normal(0, sQ[:, None, None]).log_prob(Q).sum((-1, -2))
        + D.Normal(pred, s[:, None]).log_prob(rating).sum(-1)
    )
    close(model.log_joint(values, data), want)


def test_vae_with_fixed_weights_and_guide():
    cm = load("vae")
    g = torch.Generator().manual_seed(5)
    N = 16
    x = (torch.rand(N, 784, generator=g) < 0.3).double()
    data = cm.prepare_data({"x": x})
    model = cm.model(data)
    torch.manual_seed(0)
    z = torch.randn(3, N, 40, generator=g)
    got = model.log_joint({"z": z}, data)
    dec = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    h = z
    for i, lin in enumerate(dec):
        h = torch.nn.functional.linear(h, lin.weight, lin.bias)
        if i < len(dec) - 1:
            h = torch.relu(h)
    want = D.Normal(0, 1).log_prob(z).sum((-1, -2)) + D.Bernoulli(logits=h).log_prob(x).sum((-1, -2))
    close(got, want)
    guide = cm.guide("q", data)
    values, log_q, _ = guide.sample_and_log_prob(data, (2,))
    assert values["z"].shape == (2, N, 40) and log_q.shape == (2,)


@pytest.mark.parametrize("name", [p.stem for p in sorted(ROOT.glob("specs/*.zs"))])
def test_every_spec_loads_and_prior_samples(name):
    cm = load(name)
    assert cm.model_class.__name__.endswith("Model")


def test_solve_with_sample_dims_treats_b_as_a_vector():
    # b has per-element shape [3] and a sample dim of 3: without the rank, [3, 3] would read as a matrix.
    cm = zsdsl.loads("data:\n  A: real[3, 3]\nb ~ Normal(0, 1), event=[3]\nx = solve(A, b)\n", "s.zs")
    A = torch.tensor([[2.0, 0.3, 0.0], [0.1, 3.0, 0.2], [0.0, 0.4, 1.5]])
    data = cm.prepare_data({"A": A})
    b = torch.randn(3, 3, generator=torch.Generator().manual_seed(7))
    x = cm.model(data).deterministics({"b": b}, data)["x"]
    close(x, torch.linalg.solve(A, b.unsqueeze(-1)).squeeze(-1))


def test_a_list_of_vectors_has_the_new_dim_first():
    # [a, b] of [3]-vectors is [2, 3] for the checker, as NumPy's array([a, b]); it ran as [3, 2] before
    cm = zsdsl.loads("z ~ Normal(0, 1)\na = [z + arange(3), 10 + arange(3)]\nb = sum(a, dim=1)\n", "l.zs")
    out = cm.model(cm.prepare_data({})).deterministics({"z": torch.tensor([0.0, 1.0])}, {})
    close(out["a"][1], torch.tensor([[1.0, 2.0, 3.0], [10.0, 11.0, 12.0]]))
    close(out["b"], torch.tensor([[3.0, 33.0], [6.0, 33.0]]))


def test_quadratic_forms_are_stans():
    cm = zsdsl.loads("data:\n  A: real[3, 3]\n  B: real[3, 2]\nx ~ Normal(0, 1), event=[3]\n"
                     "q = quad_form(A, x)\nQ = quad_form(A, B) * x[0]\nD = quad_form_diag(A, x)\nd = dot_self(x)\n",
                     "q.zs")  # fmt: skip
    g = torch.Generator().manual_seed(11)
    A, B, x = torch.randn(3, 3, generator=g), torch.randn(3, 2, generator=g), torch.randn(2, 3, generator=g)
    data = cm.prepare_data({"A": A, "B": B})
    out = cm.model(data).deterministics({"x": x}, data)
    close(out["q"], torch.einsum("si,ij,sj->s", x, A, x))
    close(out["Q"], (B.T @ A @ B) * x[:, 0, None, None])
    close(out["D"], torch.diag_embed(x) @ A @ torch.diag_embed(x))
    close(out["d"], (x * x).sum(-1))
