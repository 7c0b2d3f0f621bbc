"""Bijectors from unconstrained space to each support (``zl.bij``), with log-Jacobians.

Contract: ``forward(u) -> x``, ``inverse(x) -> u``, ``log_abs_det_jacobian(u)`` summed over
the bijector's own event dims (elementwise ones return a tensor shaped like ``u``),
``event_rank``, and ``unconstrained_shape``/``constrained_shape`` for event shapes.
Every method accepts arbitrary leading batch dims.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions.transforms import CorrCholeskyTransform


def _t(x, like=None):
    if torch.is_tensor(x):
        return x
    dtype = like.dtype if torch.is_tensor(like) else torch.get_default_dtype()
    return torch.as_tensor(x, dtype=dtype)


class Bijector:
    event_rank = 0

    def unconstrained_shape(self, shape):
        return tuple(shape)

    def constrained_shape(self, shape):
        return tuple(shape)

    def forward_and_log_det(self, u):
        return self.forward(u), self.log_abs_det_jacobian(u)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Bijector):
    def forward(self, u):
        return u

    def inverse(self, x):
        return x

    def log_abs_det_jacobian(self, u):
        return torch.zeros_like(u)


class Positive(Bijector):
    def forward(self, u):
        return torch.exp(u)

    def inverse(self, x):
        return torch.log(x)

    def log_abs_det_jacobian(self, u):
        return u


class LowerBound(Bijector):
    def __init__(self, low):
        self.low = low

    def forward(self, u):
        return self.low + torch.exp(u)

    def inverse(self, x):
        return torch.log(x - self.low)

    def log_abs_det_jacobian(self, u):
        return u


class UpperBound(Bijector):
    def __init__(self, high):
        self.high = high

    def forward(self, u):
        return self.high - torch.exp(u)

    def inverse(self, x):
        return torch.log(self.high - x)

    def log_abs_det_jacobian(self, u):
        return u


class Interval(Bijector):
    """low + (high - low) · sigmoid(u)."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, u):
        return self.low + (self.high - self.low) * torch.sigmoid(u)

    def inverse(self, x):
        p = (x - self.low) / (self.high - self.low)
        return torch.log(p) - torch.log1p(-p)

    def log_abs_det_jacobian(self, u):
        width = _t(self.high - self.low, u)
        return torch.log(width) - F.softplus(-u) - F.softplus(u)


class Ordered(Bijector):
    """x0 = u0, x_k = x_{k-1} + exp(u_k) (Stan's ordered transform)."""

    event_rank = 1

    def forward(self, u):
        head = u[..., :1]
        return torch.cat([head, head + torch.cumsum(torch.exp(u[..., 1:]), -1)], -1)

    def inverse(self, x):
        return torch.cat([x[..., :1], torch.log(x[..., 1:] - x[..., :-1])], -1)

    def log_abs_det_jacobian(self, u):
        return u[..., 1:].sum(-1)


class PositiveOrdered(Bijector):
    event_rank = 1

    def forward(self, u):
        return torch.cumsum(torch.exp(u), -1)

    def inverse(self, x):
        return torch.log(torch.cat([x[..., :1], x[..., 1:] - x[..., :-1]], -1))

    def log_abs_det_jacobian(self, u):
        return u.sum(-1)


class Simplex(Bijector):
    """Stick-breaking (Stan's): K-1 unconstrained values ↦ a K-simplex."""

    event_rank = 1

    def unconstrained_shape(self, shape):
        return (*shape[:-1], shape[-1] - 1)

    def constrained_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)

    def _offset(self, u):
        k = u.shape[-1]
        return torch.log(torch.arange(k, 0, -1, dtype=u.dtype))

    def forward(self, u):
        z = torch.sigmoid(u - self._offset(u))
        rest = torch.cumprod(1 - z, -1)
        lead = torch.cat([torch.ones_like(z[..., :1]), rest[..., :-1]], -1)
        return torch.cat([z * lead, rest[..., -1:]], -1)

    def inverse(self, x):
        k = x.shape[-1] - 1
        rest = 1 - torch.cumsum(x[..., :-1], -1)
        lead = torch.cat([torch.ones_like(x[..., :1]), rest[..., :-1]], -1)
        z = (x[..., :-1] / lead).clamp(1e-12, 1 - 1e-12)
        off = torch.log(torch.arange(k, 0, -1, dtype=x.dtype))
        return torch.log(z) - torch.log1p(-z) + off

    def log_abs_det_jacobian(self, u):
        v = u - self._offset(u)
        log_rest = torch.cumsum(-F.softplus(v), -1)  # log Π_{j≤k} (1 − z_j), finite where the product underflows
        log_lead = torch.cat([torch.zeros_like(v[..., :1]), log_rest[..., :-1]], -1)
        return (-F.softplus(-v) - F.softplus(v) + log_lead).sum(-1)


class CorrCholesky(Bijector):
    """Cholesky factor of a correlation matrix from D(D-1)/2 unconstrained values."""

    event_rank = 1  # over the unconstrained vector
    _t = CorrCholeskyTransform(cache_size=0)

    def unconstrained_shape(self, shape):
        d = shape[-1]
        return (*shape[:-2], d * (d - 1) // 2)

    def constrained_shape(self, shape):
        n = shape[-1]
        d = int(round((1 + math.sqrt(1 + 8 * n)) / 2))
        return (*shape[:-1], d, d)

    def forward(self, u):
        return self._t(u)

    def inverse(self, x):
        return self._t.inv(x)

    def log_abs_det_jacobian(self, u):
        return self._t.log_abs_det_jacobian(u, self._t(u))


class LowerCholesky(Bijector):
    """Lower-triangular with positive diagonal from D(D+1)/2 values (diagonal through exp)."""

    event_rank = 1

    def unconstrained_shape(self, shape):
        d = shape[-1]
        return (*shape[:-2], d * (d + 1) // 2)

    def constrained_shape(self, shape):
        n = shape[-1]
        d = int(round((math.sqrt(1 + 8 * n) - 1) / 2))
        return (*shape[:-1], d, d)

    def _dim(self, n):
        return int(round((math.sqrt(1 + 8 * n) - 1) / 2))

    def forward(self, u):
        d = self._dim(u.shape[-1])
        rows, cols = torch.tril_indices(d, d)
        x = u.new_zeros(*u.shape[:-1], d, d)
        x[..., rows, cols] = u
        diag = torch.diagonal(x, dim1=-2, dim2=-1)
        return x - torch.diag_embed(diag) + torch.diag_embed(torch.exp(diag))

    def inverse(self, x):
        d = x.shape[-1]
        rows, cols = torch.tril_indices(d, d)
        y = x - torch.diag_embed(torch.diagonal(x, dim1=-2, dim2=-1))
        y = y + torch.diag_embed(torch.log(torch.diagonal(x, dim1=-2, dim2=-1)))
        return y[..., rows, cols]

    def log_abs_det_jacobian(self, u):
        d = self._dim(u.shape[-1])
        rows, cols = torch.tril_indices(d, d)
        return u[..., rows == cols].sum(-1)


def bijector_for(support: str, low=None, high=None) -> Bijector:
    simple = {
        "real": Identity, "positive": Positive, "nonneg": Positive, "simplex": Simplex, "ordered": Ordered,
        "positive_ordered": PositiveOrdered, "corr_cholesky": CorrCholesky, "lower_cholesky": LowerCholesky,
    }  # fmt: skip
    if support in simple:
        return simple[support]()
    if support in ("unit", "unit_closed"):
        return Interval(0.0, 1.0)
    if support == "interval":
        return Interval(low, high)
    if support == "lower":
        return LowerBound(low)
    if support == "upper":
        return UpperBound(high)
    raise ValueError(f"no bijector for support {support!r}")
