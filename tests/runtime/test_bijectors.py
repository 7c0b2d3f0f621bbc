"""Bijectors: round trips, supports, and log-Jacobians against autograd Jacobian determinants."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from zsdsl.runtime.lib import bij

torch.set_default_dtype(torch.float64)

_STRICT = torch.tril_indices(3, 3, -1)
_LOWER = torch.tril_indices(3, 3)

CASES = {
    "Identity": (bij.Identity(), 3, lambda x: x),
    "Positive": (bij.Positive(), 3, lambda x: x),
    "LowerBound": (bij.LowerBound(-2.0), 3, lambda x: x),
    "UpperBound": (bij.UpperBound(1.5), 3, lambda x: x),
    "Interval": (bij.Interval(-1.0, 3.0), 3, lambda x: x),
    "Ordered": (bij.Ordered(), 4, lambda x: x),
    "PositiveOrdered": (bij.PositiveOrdered(), 4, lambda x: x),
    "Simplex": (bij.Simplex(), 3, lambda x: x[..., :-1]),
    "CorrCholesky": (bij.CorrCholesky(), 3, lambda x: x[..., _STRICT[0], _STRICT[1]]),
    "LowerCholesky": (bij.LowerCholesky(), 6, lambda x: x[..., _LOWER[0], _LOWER[1]]),
}  # fmt: skip


def in_support(name, x):
    if name == "Positive":
        return bool((x > 0).all())
    if name == "LowerBound":
        return bool((x > -2).all())
    if name == "UpperBound":
        return bool((x < 1.5).all())
    if name == "Interval":
        return bool(((x > -1) & (x < 3)).all())
    if name == "Ordered":
        return bool((x[..., 1:] > x[..., :-1]).all())
    if name == "PositiveOrdered":
        return bool((x[..., 1:] > x[..., :-1]).all() and (x > 0).all())
    if name == "Simplex":
        return bool((x > 0).all() and torch.allclose(x.sum(-1), torch.ones(())))
    if name == "CorrCholesky":
        return bool(torch.allclose((x @ x.mT).diagonal(dim1=-2, dim2=-1), torch.ones(())))
    if name == "LowerCholesky":
        return bool((x.diagonal(dim1=-2, dim2=-1) > 0).all() and torch.allclose(x, x.tril()))
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_bijector(name):
    b, n, free = CASES[name]
    u = torch.randn(2, n, generator=torch.Generator().manual_seed(1))
    x = b.forward(u)
    assert in_support(name, x)
    torch.testing.assert_close(b.inverse(x), u, atol=1e-8, rtol=1e-6)
    ladj = b.log_abs_det_jacobian(u)
    if b.event_rank == 0:
        ladj = ladj.sum(-1)
    for i in range(2):
        J = jacobian(lambda v: free(b.forward(v)).reshape(-1), u[i])
        want = torch.linalg.slogdet(J).logabsdet
        torch.testing.assert_close(ladj[i], want, atol=1e-8, rtol=1e-6)


def test_shapes_of_vector_bijectors():
    assert bij.Simplex().unconstrained_shape((5, 4)) == (5, 3)
    assert bij.CorrCholesky().unconstrained_shape((3, 3)) == (3,)
    assert bij.CorrCholesky().constrained_shape((3,)) == (3, 3)
    assert bij.LowerCholesky().unconstrained_shape((3, 3)) == (6,)


def test_bijector_for_support_names():
    assert isinstance(bij.bijector_for("unit"), bij.Interval)
    assert isinstance(bij.bijector_for("simplex"), bij.Simplex)
    with pytest.raises(ValueError):
        bij.bijector_for("pos_def")
