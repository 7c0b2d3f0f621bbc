"""The GP covariance functions against their formulas, Stan's names for them, and their messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import ZsdslError
from zsdsl.runtime import lib as zl

X1, X2 = np.array([0.0, 0.3, 1.7, 2.0]), np.array([0.3, -1.0, 2.5])
ALPHA, RHO, PERIOD = 1.3, 0.7, 1.9
D = np.abs(X1[:, None] - X2[None, :])
FORMULAS = {
    "exp_quad_kernel": ALPHA**2 * np.exp(-(D**2) / (2 * RHO**2)),
    "matern32_kernel": ALPHA**2 * (1 + math.sqrt(3) * D / RHO) * np.exp(-math.sqrt(3) * D / RHO),
    "matern52_kernel": ALPHA**2
    * (1 + math.sqrt(5) * D / RHO + 5 * D**2 / (3 * RHO**2))
    * np.exp(-math.sqrt(5) * D / RHO),
    "exponential_kernel": ALPHA**2 * np.exp(-D / RHO),
    "periodic_kernel": ALPHA**2 * np.exp(-2 * np.sin(math.pi * D / PERIOD) ** 2 / RHO**2),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_each_kernel_is_its_formula(name):
    torch.set_default_dtype(torch.float64)
    extra = (PERIOD,) if name == "periodic_kernel" else ()
    K = getattr(zl, name)(torch.tensor(X1), torch.tensor(X2), ALPHA, RHO, *extra)
    np.testing.assert_allclose(K.numpy(), FORMULAS[name], rtol=1e-13)


def test_points_in_several_dims_use_the_euclidean_distance_and_coinciding_points_have_a_finite_gradient():
    torch.set_default_dtype(torch.float64)
    X = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    K = zl.matern32_kernel(X, X, 1.0, 5.0, points_rank=1)
    r = math.sqrt(3.0) * 5.0 / 5.0
    np.testing.assert_allclose(K.detach().numpy(), [[1, (1 + r) * math.exp(-r)], [(1 + r) * math.exp(-r), 1]])
    K.sum().backward()
    assert torch.isfinite(X.grad).all()


STAN = ("data:\n  x: real[4]\na: real in (0, inf) ~ HalfNormal(1)\nr: real in (0, inf) ~ HalfNormal(1)\n"
        "p: real in (0, inf) ~ HalfNormal(1)\nK = {stan}\nJ = {mine}\n")  # fmt: skip


@pytest.mark.parametrize(("stan", "mine"), [
    ("gp_exp_quad_cov(x, a, r)", "exp_quad_kernel(x, x, a, r)"),
    ("cov_exp_quad(x, x[:2], a, r)", "exp_quad_kernel(x, x[:2], a, r)"),
    ("gp_matern32_cov(x, a, r)", "matern32_kernel(x, x, a, r)"),
    ("gp_matern52_cov(x, x, a, r)", "matern52_kernel(x, x, a, r)"),
    ("gp_exponential_cov(x, a, r)", "exponential_kernel(x, x, a, r)"),
    ("gp_periodic_cov(x, a, r, p)", "periodic_kernel(x, x, a, r, p)"),
])  # fmt: skip
def test_stans_names_are_the_kernels(stan, mine):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(STAN.format(stan=stan, mine=mine), "gp.zs")
    data = cm.prepare_data({"x": X1.tolist()})
    values = {"a": torch.tensor(ALPHA), "r": torch.tensor(RHO), "p": torch.tensor(PERIOD)}
    det = cm.model(data).deterministics(values, data)
    torch.testing.assert_close(det["K"], det["J"], rtol=0, atol=0)


@pytest.mark.parametrize(("call", "message"), [
    ("gp_exp_quad_cov(x, a)", "gp_exp_quad_cov() takes 3 arguments (x, alpha, rho) or 4 (x1, x2, alpha, rho)."),
    ("gp_periodic_cov(x, a, r)", "gp_periodic_cov() takes 4 arguments (x, alpha, rho, period) or 5"),
    ("matern32_kernel(x, x, x, r)", "matern32_kernel() needs a scalar for alpha, got [4]."),
])  # fmt: skip
def test_wrong_calls_say_what_is_expected(call, message):
    with pytest.raises(ZsdslError) as err:
        zsdsl.loads(STAN.format(stan=call, mine="a"), "gp.zs")
    assert message in str(err.value)
