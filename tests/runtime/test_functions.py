"""Builtin functions and nets against explicit loops and direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zsdsl.runtime import lib as zl

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(3)


def test_gather_against_loops():
    x = torch.randn(2, 1, 5, 4, generator=g)  # batch [2, 1], elem [5, 4]
    idx = torch.randint(0, 5, (2, 3), generator=g)  # batch [2, 3], elem []
    out = zl.gather(x, 2, 0, idx, 0)
    assert out.shape == (2, 3, 4)
    for a in range(2):
        for b in range(3):
            torch.testing.assert_close(out[a, b], x[a, 0, idx[a, b]])
    idx2 = torch.randint(0, 4, (3, 2), generator=g)  # batch [3], elem [2]
    out2 = zl.gather(torch.randn(3, 5, 4, generator=g), 2, 1, idx2, 1)
    assert out2.shape == (3, 5, 2)
    x3 = torch.randn(6, 4, generator=g)
    torch.testing.assert_close(zl.gather(x3, 2, 0, torch.tensor([1, 5]), 0), x3[[1, 5]])


def test_gather_multi_index_position_one_against_loop():
    x = torch.randn(3, 5, 4, generator=g)
    idx = torch.randint(0, 4, (3, 2), generator=g)
    out = zl.gather(x, 2, 1, idx, 1)
    for a in range(3):
        torch.testing.assert_close(out[a], x[a][:, idx[a]])


def test_log_mix_and_reductions():
    theta, a, b = torch.tensor(0.3), torch.randn(4, generator=g), torch.randn(4, generator=g)
    naive = torch.log(0.3 * a.exp() + 0.7 * b.exp())
    torch.testing.assert_close(zl.log_mix(theta, a, b), naive)
    x = torch.randn(2, 3, 4, generator=g)
    torch.testing.assert_close(zl.sum(x, 2), x.sum((-1, -2)))
    torch.testing.assert_close(zl.logsumexp(x, 1), torch.logsumexp(x, -1))
    torch.testing.assert_close(zl.max(x, 2), x.reshape(2, -1).max(-1).values)


def test_kernels_against_loops():
    x1, x2 = torch.randn(4, generator=g), torch.randn(3, generator=g)
    alpha, rho = torch.tensor([1.5, 2.0]), torch.tensor([0.7, 1.1])  # a sample dim of 2
    K = zl.exp_quad_kernel(x1, x2, alpha, rho)
    assert K.shape == (2, 4, 3)
    for s in range(2):
        for i in range(4):
            for j in range(3):
                want = alpha[s] ** 2 * torch.exp(-((x1[i] - x2[j]) ** 2) / (2 * rho[s] ** 2))
                torch.testing.assert_close(K[s, i, j], want)
    X1, X2, ls = torch.randn(4, 2, generator=g), torch.randn(3, 2, generator=g), torch.tensor([0.5, 2.0])
    A = zl.ard_kernel(X1, X2, 1.3, ls)
    want = 1.3**2 * torch.exp(-0.5 * (((X1[:, None] - X2[None]) / ls) ** 2).sum(-1))
    torch.testing.assert_close(A, want)


def test_gp_conditionals_against_dense_algebra():
    Z, u = torch.randn(5, 2, generator=g), torch.randn(5, generator=g)
    x = torch.randn(7, 2, generator=g)  # 7 points, one per element
    amp, ls = torch.tensor(1.2), torch.tensor([0.8, 1.5])
    Kzz = zl.ard_kernel(Z, Z, amp, ls) + 1e-6 * torch.eye(5)
    Kxz = zl.ard_kernel(x, Z, amp, ls)
    mean = Kxz @ torch.linalg.solve(Kzz, u)
    var = amp**2 - (Kxz @ torch.linalg.solve(Kzz, Kxz.T)).diagonal()
    torch.testing.assert_close(zl.gp_conditional_mean(x, Z, u, amp, ls), mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(zl.gp_conditional_var(x, Z, amp, ls), var.clamp_min(0), atol=1e-6, rtol=1e-6)


def test_concat_stack_full_broadcast_leading_dims():
    a, b = torch.randn(2, 3, 4, generator=g), torch.randn(3, 5, generator=g)
    assert zl.concat(a, b).shape == (2, 3, 9)
    assert zl.stack(torch.randn(2, generator=g), 1.0).shape == (2, 2)
    assert zl.full(3, torch.tensor([1.0, 2.0])).shape == (2, 3)
    assert zl.one_hot(torch.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]


def test_linear_algebra_helpers():
    A, x = torch.randn(2, 3, 4, generator=g), torch.randn(2, 4, generator=g)
    torch.testing.assert_close(zl.matvec(A, x), torch.einsum("bij,bj->bi", A, x))
    torch.testing.assert_close(zl.vecmat(torch.randn(3, generator=g) * 0 + 1, A), A.sum(-2))
    torch.testing.assert_close(zl.dot(x, x), (x * x).sum(-1))


def test_nets_with_leading_dims():
    mlp = zl.nets.MLP([4, 8, 3], act="tanh")
    x = torch.randn(2, 5, 4, generator=g)
    assert mlp(x).shape == (2, 5, 3)
    conv = zl.nets.Conv2d(1, 4, kernel=4, stride=2, padding=1)
    assert conv(torch.randn(2, 3, 1, 28, 28, generator=g)).shape == (2, 3, 4, 14, 14)
    up = zl.nets.ConvTranspose2d(4, 1, kernel=4, stride=2, padding=1)
    assert up(torch.randn(2, 3, 4, 14, 14, generator=g)).shape == (2, 3, 1, 28, 28)
    seq = zl.nets.Sequential(zl.nets.Reshape((784,), (1, 28, 28)), conv, zl.nets.Flatten(3))
    assert seq(torch.randn(5, 784, generator=g)).shape == (5, 4 * 14 * 14)


@pytest.mark.parametrize("plate_rank", [0, 1])
def test_forward_with_weights_matches_module_and_sample_loop(plate_rank):
    mlp = zl.nets.MLP([4, 6, 2], act="relu")
    x = torch.randn(*([5] if plate_rank else []), 4, generator=g)
    own = {}
    for i, lin in enumerate(mlp.layers):
        own[f"W{i}"], own[f"b{i}"] = lin.weight.detach(), lin.bias.detach()
    torch.testing.assert_close(zl.nets.forward_with_weights(mlp, own, x, plate_rank), mlp(x).detach())
    S = 3
    ws = {k: torch.randn(S, *v.shape, generator=g) for k, v in own.items()}
    out = zl.nets.forward_with_weights(mlp, ws, x, plate_rank)
    for s in range(S):
        ref = zl.nets.forward_with_weights(mlp, {k: v[s] for k, v in ws.items()}, x, plate_rank)
        torch.testing.assert_close(out[s], ref)
    assert zl.nets.weight_shapes(mlp) == {"W0": (6, 4), "b0": (6,), "W1": (2, 6), "b1": (2,)}


AXIS_CASES = [  # (spec call, the NumPy it means on one draw of x [3, 4], the shape the checker infers)
    ("sum(x, dim=0)", lambda x: x.sum(0), (4,)),
    ("mean(x, dim=-1)", lambda x: x.mean(-1), (3,)),
    ("prod(x, dim=1)", lambda x: x.prod(1), (3,)),
    ("max(x, dim=0)", lambda x: x.max(0), (4,)),
    ("min(x, dim=-2)", lambda x: x.min(0), (4,)),
    ("log_sum_exp(x, dim=0)", lambda x: np.log(np.exp(x).sum(0)), (4,)),
    ("logsumexp(x, dim=1)", lambda x: np.log(np.exp(x).sum(1)), (3,)),
    ("log_sum_exp(x)", lambda x: np.log(np.exp(x).sum()), ()),
    ("sd(x, dim=0)", lambda x: x.std(0, ddof=1), (4,)),  # Stan's sd and variance: denominator n - 1
    ("variance(x, dim=1)", lambda x: x.var(1, ddof=1), (3,)),
    ("sd(x)", lambda x: x.std(ddof=1), ()),
    ("variance(x)", lambda x: x.var(ddof=1), ()),
    ("cumsum(x, dim=0)", lambda x: x.cumsum(0), (3, 4)),
    ("cumsum(x)", lambda x: x.cumsum(-1), (3, 4)),
    ("softmax(x)", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), (3, 4)),
    ("softmax(x, dim=0)", lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True), (3, 4)),
    ("log_softmax(x, dim=0)", lambda x: x - np.log(np.exp(x).sum(0, keepdims=True)), (3, 4)),
]


@pytest.mark.parametrize("call, numpy_of, shape", AXIS_CASES, ids=[c[0] for c in AXIS_CASES])
def test_functions_along_a_dim_against_numpy_with_sample_dims_leading(call, numpy_of, shape):
    from zsdsl.compiler.pipeline import compile_text

    ir = compile_text(f"x ~ Normal(0, 1), event=[3, 4]\ny = {call}\n").ir
    node = next(n for n in ir.nodes if n.name == "y")
    assert tuple(node.ty.shape) == shape
    x = torch.randn(2, 5, 3, 4, generator=g)  # two sample dims lead
    func = getattr(zl, node.expr.func)
    static = dict(node.expr.static)
    out = func(x, axis=static["axis"]) if "axis" in static else func(x, static["ndims"])
    assert out.shape == (2, 5, *shape)
    for i in range(2):
        for j in range(5):
            np.testing.assert_allclose(out[i, j].numpy(), numpy_of(x[i, j].numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_hmm_marginal_against_the_sum_over_every_path(n):
    import itertools

    K = 3
    lo = torch.randn(2, K, n, generator=g)  # a sample dim leads
    gamma = torch.softmax(torch.randn(2, K, K, generator=g), -1)
    rho = torch.softmax(torch.randn(2, K, generator=g), -1)
    out = zl.hmm_marginal(lo, gamma, rho)
    assert out.shape == (2,)
    for s in range(2):
        total = 0.0
        for path in itertools.product(range(K), repeat=n):  # p(y) = Σ_z ρ(z0) ω(z0, 0) Π Γ(z_t-1, z_t) ω(z_t, t)
            p = rho[s, path[0]] * lo[s, path[0], 0].exp()
            for t in range(1, n):
                p = p * gamma[s, path[t - 1], path[t]] * lo[s, path[t], t].exp()
            total += p
        torch.testing.assert_close(out[s], torch.log(total), rtol=1e-12, atol=1e-12)


def test_squared_distances_by_matmul_match_the_differences_and_stay_non_negative():
    from zsdsl.runtime.lib.functions import _sqdist

    X = torch.randn(40, 13, generator=g, dtype=torch.float64) * 3
    d = _sqdist(X, X)
    torch.testing.assert_close(d, (X[:, None] - X[None]).pow(2).sum(-1), atol=1e-11, rtol=1e-12)
    assert (d >= 0).all() and d.diagonal().abs().max() < 1e-11


def test_a_noise_variance_makes_the_gp_conditionals_the_exact_gp_predictive():
    X, y, x = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((9, 2), (9,), (4, 2)))
    amp, ls, noise = torch.tensor(0.9), torch.tensor([0.6, 1.4]), torch.tensor(0.3)
    A = zl.ard_kernel(X, X, amp, ls) + noise * torch.eye(9)
    Kxz = zl.ard_kernel(x, X, amp, ls)
    torch.testing.assert_close(zl.gp_conditional_mean(x, X, y, amp, ls, noise), Kxz @ torch.linalg.solve(A, y))
    torch.testing.assert_close(zl.gp_conditional_var(x, X, amp, ls, noise),
                               amp**2 - (Kxz @ torch.linalg.solve(A, Kxz.T)).diagonal())  # fmt: skip
