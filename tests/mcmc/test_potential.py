"""The one-point fast path of the potential equals the batched path, gradients included."""

from __future__ import annotations

import pytest
import torch

import zsdsl
from zsdsl.runtime.mcmc.potential import Potential

SPEC = """
data:
  y: real[N]
mu ~ Normal(0, 5)
tau ~ HalfCauchy(2)
p ~ Dirichlet([1.0, 2.0, 3.0])
W ~ Normal(0, 1), event=[2, 3]
plate n in N:
  y[n] ~ Normal(mu + W[0, 0] * p[1], tau)
"""


def test_flat_path_equals_batched_path():
    torch.set_default_dtype(torch.float64)
    try:
        cm = zsdsl.loads(SPEC)
        data = cm.prepare_data({"y": [0.5, -1.0, 2.0, 0.1]})
        pot = Potential(cm.model(data), data)
        assert pot.dim == 1 + 1 + 2 + 6
        u = torch.randn(3, pot.dim, generator=torch.Generator().manual_seed(0))
        batched = pot.log_density(u)
        for i in range(3):
            U, grad = pot.value_and_grad(u[i])
            assert abs(U + batched[i].item()) < 1e-10
            ui = u[i].clone().requires_grad_(True)
            (g_ref,) = torch.autograd.grad(-pot.log_density(ui[None])[0], ui)
            torch.testing.assert_close(grad, g_ref)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.slow  # about 14 s of compilation
def test_compiled_potential_matches_eager():
    import numpy as np
    import pytest

    torch.set_default_dtype(torch.float64)
    try:
        cm = zsdsl.loads(SPEC)
        data = cm.prepare_data({"y": [0.5, -1.0, 2.0, 0.1]})
        pot = Potential(cm.model(data), data)
        z = np.random.default_rng(0).normal(size=pot.dim)
        U_eager, g_eager = pot.value_and_grad_np(z)
        if not pot.compile():
            pytest.skip("torch.compile is not available on this machine (no C++ compiler?)")
        U, g = pot.value_and_grad_np(z)
        assert abs(U - U_eager) < 1e-9 * max(1.0, abs(U_eager))
        np.testing.assert_allclose(g, g_eager, rtol=1e-9, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


def test_transformed_data_is_computed_once_per_data_dict():
    cm = zsdsl.loads("data:\n  x: real[N]\n  y: real[N]\nxc = x - mean(x)\nb ~ Normal(0, 1)\n"
                     "plate n in N:\n  y[n] ~ Normal(b * xc[n], 1)\n")  # fmt: skip
    assert "self.transformed(data, 'xc'" in cm.source
    data = cm.prepare_data({"x": [1.0, 2.0, 6.0], "y": [0.5, -0.2, 1.0]})
    model = cm.model(data)
    values = {"b": torch.tensor(0.7)}
    first = model.log_joint(values, data)
    cached = model._transformed[1]["xc"]
    torch.testing.assert_close(cached, torch.tensor([-2.0, -1.0, 3.0]))
    assert model.log_joint(values, data) == first and model._transformed[1]["xc"] is cached
    other = cm.prepare_data({"x": [0.0, 0.0, 3.0], "y": [0.5, -0.2, 1.0]})  # a new dict: recomputed
    model.log_joint(values, other)
    torch.testing.assert_close(model._transformed[1]["xc"], torch.tensor([-1.0, -1.0, 2.0]))
