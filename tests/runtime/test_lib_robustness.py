"""Runtime-library edge cases: truncated tails, rejection with low acceptance, stable log-Jacobians, solves with
sample dims, gather against element loops, latent-weight nets with several plate and sample dims."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.distributions as D
from torch.autograd.functional import jacobian

from zsdsl.runtime import lib as zl
from zsdsl.runtime.lib import dist as zd

g = torch.Generator().manual_seed(11)


def _normal_truncated_mean(a, b):
    if a > 0:  # reflect so that the CDF differences below do not round to 0
        return -_normal_truncated_mean(-b, -a)
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda t: 0.5 * math.erfc(-t / math.sqrt(2))  # noqa: E731
    return (phi(a) - phi(b)) / (Phi(b) - Phi(a))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("a,b", [(10.0, 11.0), (-11.0, -10.0), (3.0, math.inf)])
def test_truncated_normal_in_far_tails(dtype, a, b):
    torch.manual_seed(0)
    n = 20_000
    d = zd.Normal(loc=torch.zeros((), dtype=dtype), scale=torch.ones((), dtype=dtype))
    x = zd.draw_truncated(d, (n,), a, None if b == math.inf else b)
    assert x.dtype == dtype and bool(torch.isfinite(x).all())
    assert x.min() >= a and x.max() <= b
    # The sd of a Normal truncated this far out is < 0.3, so the Monte Carlo s.e. of the mean is < 0.3/sqrt(n)
    # ≈ 2e-3; 0.02 is ~10 s.e. (fixed seed) yet far below the 0.1+ shift a wrong tail formula would give.
    assert abs(x.double().mean().item() - _normal_truncated_mean(a, b)) < 0.02


def test_one_sided_upper_bound_of_a_positive_distribution():
    torch.manual_seed(1)
    x = zd.draw_truncated(zd.HalfNormal(scale=1.0), (100_000,), None, 2.0).double()
    assert x.min() >= 0 and x.max() <= 2
    want = math.sqrt(2 / math.pi) * (1 - math.exp(-2)) / math.erf(math.sqrt(2))
    # sd < 0.6, so the s.e. is < 2e-3; allow ~5 s.e.
    assert abs(x.mean().item() - want) < 0.01


def test_rejection_with_low_acceptance_and_named_failure():
    torch.manual_seed(2)
    x = zd.draw_truncated(zd.Gamma(concentration=2.0, rate=1.0), (5000,), 5.0, None)  # acceptance ~4%
    assert x.min() >= 5.0
    with pytest.raises(RuntimeError, match="sigma"):
        zd.draw_truncated(zd.StudentT(df=3.0), (10,), 1e6, None, site="sigma", max_draws=64)


def test_truncated_bounds_broadcast_per_element():
    torch.manual_seed(3)
    low = torch.tensor([0.0, 1.0, 2.0])
    x = zd.draw_truncated(zd.Cauchy(loc=torch.zeros(3), scale=1.0), (4, 3), low, low + 0.5)
    assert x.shape == (4, 3) and bool(((x >= low) & (x <= low + 0.5)).all())


def test_more_factory_paths_against_torch():
    torch.set_default_dtype(torch.float64)
    k = torch.tensor([0.0, 1.0, 4.0])
    rate, logits = torch.tensor([0.5, 2.0, 3.0]), torch.tensor([-1.0, 0.0, 2.0])
    torch.testing.assert_close(zl.log_prob(zd.Poisson(rate=rate), k.long()), D.Poisson(rate).log_prob(k))
    torch.testing.assert_close(
        zl.log_prob(zd.Binomial(total_count=torch.tensor([3, 4, 5]), logits=logits), k),
        D.Binomial(torch.tensor([3.0, 4.0, 5.0]), logits=logits).log_prob(k),
    )
    torch.testing.assert_close(
        zl.log_prob(zd.NegativeBinomial(total_count=2.5, logits=logits), k),
        D.NegativeBinomial(2.5, logits=logits).log_prob(k),
    )
    cov = torch.eye(3) + 0.5
    v = torch.randn(4, 3, generator=g, dtype=torch.float64)
    want = D.MultivariateNormal(torch.zeros(3), covariance_matrix=cov).log_prob(v)
    torch.testing.assert_close(zd.MultivariateNormal(loc=torch.zeros(3), covariance_matrix=cov).log_prob(v), want)
    got = zd.MultivariateNormal(loc=torch.zeros(3), precision_matrix=torch.linalg.inv(cov)).log_prob(v)
    torch.testing.assert_close(got, want)
    mu, phi = torch.tensor(3.0), torch.tensor(2.0)  # NegativeBinomial2 is torch's NB with r = phi, logits = log(mu/phi)
    want = D.NegativeBinomial(phi, logits=torch.log(mu / phi)).log_prob(k)
    torch.testing.assert_close(zd.NegativeBinomial2(mu=mu, phi=phi).log_prob(k), want)


def test_simplex_log_jacobian_finite_at_extremes_and_exact():
    b = zl.bij.Simplex()
    u = torch.tensor([[200.0, -200.0, 50.0], [-30.0, 40.0, 0.5]], dtype=torch.float64)
    ladj = b.log_abs_det_jacobian(u)
    assert bool(torch.isfinite(ladj).all())
    v = torch.tensor([[-3.0, 2.0, 0.5]], dtype=torch.float64)
    J = jacobian(lambda w: b.forward(w)[..., :-1].reshape(-1), v[0])
    torch.testing.assert_close(b.log_abs_det_jacobian(v)[0], torch.linalg.slogdet(J).logabsdet)


def test_solve_and_tril_solve_with_sample_dims_against_loops():
    torch.set_default_dtype(torch.float64)
    A = torch.randn(3, 3, generator=g) + 3 * torch.eye(3)  # data: no sample dims
    b = torch.randn(3, 3, generator=g)  # a vector with a sample dim of 3: ambiguous by rank alone
    out = zl.solve(A, b, 1)
    L = torch.linalg.cholesky(A @ A.T)
    tri = zl.tril_solve(L, b, 1)
    B = torch.randn(2, 3, 4, generator=g)  # matrices with a sample dim
    outm = zl.solve(A, B, 2)
    for s in range(3):
        torch.testing.assert_close(out[s], torch.linalg.solve(A, b[s]))
        torch.testing.assert_close(tri[s], torch.linalg.solve(L, b[s]))
    for s in range(2):
        torch.testing.assert_close(outm[s], torch.linalg.solve(A, B[s]))
    torch.testing.assert_close(zl.tril_solve(L, B, 2)[1], torch.linalg.solve(L, B[1]))


def test_where_accepts_non_boolean_conditions():
    out = zl.where(torch.tensor([1.0, 0.0]), 1.0, torch.tensor([5.0, 6.0]))
    assert out.tolist() == [1.0, 6.0]


def _gather_loop(x, r, pos, idx, q):
    xb, ib = x.shape[: x.dim() - r], idx.shape[: idx.dim() - q]
    batch = torch.broadcast_shapes(xb, ib)
    xe, ie = x.shape[x.dim() - r :], idx.shape[idx.dim() - q :]
    xx, ii = x.expand(*batch, *xe), idx.expand(*batch, *ie)
    out = torch.empty(*batch, *xe[:pos], *ie, *xe[pos + 1 :], dtype=x.dtype)
    for bi in itertools.product(*map(range, batch)):
        for pre in itertools.product(*map(range, xe[:pos])):
            for k in itertools.product(*map(range, ie)):
                for post in itertools.product(*map(range, xe[pos + 1 :])):
                    out[(*bi, *pre, *k, *post)] = xx[(*bi, *pre, int(ii[(*bi, *k)]), *post)]
    return out


@pytest.mark.parametrize(
    "x_shape,r,pos,i_shape,q",
    [
        ((5,), 1, 0, (3, 2), 0),  # data vector indexed by a [S, N] index (fast path)
        ((2, 5, 4), 2, 0, (3, 2), 0),  # a batched matrix, a row index per element with an extra leading dim
        ((5, 4), 2, 1, (3,), 0),  # data matrix, column index per element
        ((2, 1, 3, 5, 4), 3, 1, (2, 6, 2), 1),  # two batch dims, a middle axis, an index vector per element
        ((3, 4, 5), 2, 1, (2,), 1),  # index vector without batch dims
        ((4, 6), 2, 0, (3, 2, 2), 2),  # index matrix per element
    ],
)
def test_gather_against_element_loops(x_shape, r, pos, i_shape, q):
    x = torch.randn(*x_shape, generator=g, dtype=torch.float32)
    n = x_shape[len(x_shape) - r + pos]
    idx = torch.randint(0, n, i_shape, generator=g)
    want = _gather_loop(x, r, pos, idx, q)
    torch.testing.assert_close(zl.gather(x, r, pos, idx, q), want)
    torch.testing.assert_close(zl.gather(x, r, pos, idx.float(), q), want)


def test_forward_with_weights_with_two_plates_and_sample_dims_on_x():
    torch.set_default_dtype(torch.float64)
    mlp = zl.nets.MLP([3, 5, 2], act="tanh", out="softplus")
    S = 3
    ws = {k: torch.randn(S, *v, generator=g) for k, v in zl.nets.weight_shapes(mlp).items()}
    x = torch.randn(S, 4, 2, 3, generator=g)  # [S, plate, plate, in]
    out = zl.nets.forward_with_weights(mlp, ws, x, 2)
    assert out.shape == (S, 4, 2, 2)
    for s in range(S):
        with torch.no_grad():
            for i, lin in enumerate(mlp.layers):
                lin.weight.copy_(ws[f"W{i}"][s])
                lin.bias.copy_(ws[f"b{i}"][s])
            torch.testing.assert_close(out[s], mlp(x[s]))
    lin = zl.nets.Linear(3, 2)
    own = {"W0": lin.weight.detach(), "b0": lin.bias.detach()}
    torch.testing.assert_close(zl.nets.forward_with_weights(lin, own, x, 2), lin(x).detach())


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError):
        zl.nets.Activation("swishy")


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    old = torch.get_default_dtype()
    yield
    torch.set_default_dtype(old)
