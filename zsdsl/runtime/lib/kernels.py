"""Stationary covariance functions of Gaussian processes (Stan's ``gp_*_cov``), for generated code.

Each takes two sets of points, ``x1`` [..., N] and ``x2`` [..., M] (1-D points; ``points_rank=1`` for
points in D dims, [..., N, D]), and scalar hyperparameters with leading sample dims, and returns the
[..., N, M] matrix of k(|x1_i - x2_j|) for the Euclidean distance d:

    matern32_kernel     alpha² (1 + √3 d/rho) exp(-√3 d/rho)            (Stan's gp_matern32_cov)
    matern52_kernel     alpha² (1 + √5 d/rho + 5d²/(3rho²)) exp(-√5 d/rho)   (gp_matern52_cov)
    exponential_kernel  alpha² exp(-d/rho)                              (gp_exponential_cov)
    periodic_kernel     alpha² exp(-2 sin²(π d/period) / rho²)          (gp_periodic_cov)

``exp_quad_kernel`` (Stan's gp_exp_quad_cov) is in ``functions``. The distance's gradient at d = 0
(the diagonal, where points coincide) is taken as 0, the limit of these kernels, rather than NaN.
"""

from __future__ import annotations

import math

import torch

from zsdsl.runtime.lib.functions import _t

__all__ = ["exponential_kernel", "matern32_kernel", "matern52_kernel", "periodic_kernel"]


def _distance(x1, x2, points_rank: int):
    x1, x2 = _t(x1), _t(x2)
    if points_rank == 0:
        x1, x2 = x1.unsqueeze(-1), x2.unsqueeze(-1)
    sq = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).pow(2).sum(-1)
    positive = sq > 0
    return torch.where(positive, torch.where(positive, sq, 1.0).sqrt(), 0.0)  # no NaN gradient at d = 0


def _hyper(x):
    return _t(x)[..., None, None]


def matern32_kernel(x1, x2, alpha, rho, points_rank: int = 0):
    r = math.sqrt(3.0) * _distance(x1, x2, points_rank) / _hyper(rho)
    return _hyper(alpha).pow(2) * (1 + r) * torch.exp(-r)


def matern52_kernel(x1, x2, alpha, rho, points_rank: int = 0):
    r = math.sqrt(5.0) * _distance(x1, x2, points_rank) / _hyper(rho)
    return _hyper(alpha).pow(2) * (1 + r + r * r / 3) * torch.exp(-r)


def exponential_kernel(x1, x2, alpha, rho, points_rank: int = 0):
    return _hyper(alpha).pow(2) * torch.exp(-_distance(x1, x2, points_rank) / _hyper(rho))


def periodic_kernel(x1, x2, alpha, rho, period, points_rank: int = 0):
    s = torch.sin(math.pi * _distance(x1, x2, points_rank) / _hyper(period))
    return _hyper(alpha).pow(2) * torch.exp(-2 * s * s / _hyper(rho).pow(2))
