"""The No-U-Turn sampler's transition, functional: ``nuts_transition(state, ...) -> (state, stats)``.

Multinomial sampling over the trajectory with biased progressive sampling at the top level
(Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte Carlo", A.3.2), the
generalised no-U-turn criterion with the extra checks across subtrees (Stan ≥ 2.26), a
divergence when the energy error exceeds ``max_energy_error`` (1000, Stan's), tree depth ≤
``max_depth``. Also ``hmc_transition``, static-path HMC with a Metropolis correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class State:
    z: torch.Tensor  # unconstrained position
    U: float  # potential energy
    grad: torch.Tensor  # dU/dz


@dataclass
class Metric:
    """Inverse metric M⁻¹: a vector (diagonal) or a matrix (dense)."""

    inv: torch.Tensor

    def __post_init__(self):
        self.dense = self.inv.dim() == 2
        self.chol = torch.linalg.cholesky(torch.linalg.inv(self.inv)) if self.dense else self.inv.rsqrt()

    def momentum(self, gen) -> torch.Tensor:
        eps = torch.randn(self.inv.shape[0], generator=gen, dtype=self.inv.dtype)
        return self.chol @ eps if self.dense else self.chol * eps

    def velocity(self, r):
        return self.inv @ r if self.dense else self.inv * r

    def kinetic(self, r) -> float:
        return 0.5 * float(r @ self.velocity(r))


def leapfrog(potential, state: State, r, eps: float, metric: Metric):
    r = r - 0.5 * eps * state.grad
    z = state.z + eps * metric.velocity(r)
    U, grad = potential.value_and_grad(z)
    r = r - 0.5 * eps * grad
    return State(z, U, grad), r


def _criterion(p_sharp_minus, p_sharp_plus, rho) -> bool:
    return float(p_sharp_plus @ rho) > 0 and float(p_sharp_minus @ rho) > 0


@dataclass
class _Tree:
    beg: State  # first point in build order
    end: State  # last point in build order
    r_beg: torch.Tensor
    r_end: torch.Tensor
    proposal: State
    log_w: float
    rho: torch.Tensor
    n: int = 0
    accept_sum: float = 0.0
    divergent: bool = False
    turning: bool = False


class _Builder:
    def __init__(self, potential, metric: Metric, eps: float, H0: float, gen, max_energy_error: float):
        self.potential, self.metric, self.eps, self.H0 = potential, metric, eps, H0
        self.gen, self.max_err = gen, max_energy_error

    def uniform(self) -> float:
        return float(torch.rand((), generator=self.gen, dtype=torch.float64))

    def leaf(self, state: State, r, direction: int) -> _Tree:
        new, r_new = leapfrog(self.potential, state, r, direction * self.eps, self.metric)
        H = new.U + self.metric.kinetic(r_new)
        if not math.isfinite(H):
            H = math.inf
        err = H - self.H0
        tree = _Tree(new, new, r_new, r_new, new, -err, r_new.clone(), 1, min(1.0, math.exp(min(0.0, -err))))
        tree.divergent = err > self.max_err
        return tree

    def build(self, state: State, r, depth: int, direction: int) -> _Tree:
        if depth == 0:
            return self.leaf(state, r, direction)
        init = self.build(state, r, depth - 1, direction)
        if init.divergent or init.turning:
            return init
        final = self.build(init.end, init.r_end, depth - 1, direction)
        n, acc = init.n + final.n, init.accept_sum + final.accept_sum
        if final.divergent or final.turning:
            final.n, final.accept_sum = n, acc
            return final
        log_w = float(torch.logaddexp(torch.tensor(init.log_w), torch.tensor(final.log_w)))
        proposal = init.proposal
        if final.log_w > log_w or self.uniform() < math.exp(final.log_w - log_w):
            proposal = final.proposal
        rho = init.rho + final.rho
        v = self.metric.velocity
        turning = not _criterion(v(init.r_beg), v(final.r_end), rho)
        turning |= not _criterion(v(init.r_beg), v(final.r_beg), init.rho + final.r_beg)
        turning |= not _criterion(v(init.r_end), v(final.r_end), final.rho + init.r_end)
        return _Tree(init.beg, final.end, init.r_beg, final.r_end, proposal, log_w, rho, n, acc, False, turning)


def nuts_transition(potential, state: State, eps: float, metric: Metric, gen, max_depth: int = 10,
                    max_energy_error: float = 1000.0):  # fmt: skip
    """One NUTS transition; returns the new state and Stan's sampler statistics."""
    r0 = metric.momentum(gen)
    H0 = state.U + metric.kinetic(r0)
    b = _Builder(potential, metric, eps, H0, gen, max_energy_error)
    left, right = state, state  # time order
    r_left, r_right = r0, r0
    rho = r0.clone()
    sample, log_w = state, 0.0
    depth, n, acc, divergent = 0, 0, 0.0, False
    v = metric.velocity
    while depth < max_depth:
        forward = b.uniform() > 0.5
        sub = b.build(right, r_right, depth, 1) if forward else b.build(left, r_left, depth, -1)
        n, acc = n + sub.n, acc + sub.accept_sum
        depth += 1
        if sub.divergent:
            divergent = True
            break
        if sub.turning:
            break
        if sub.log_w > log_w or b.uniform() < math.exp(sub.log_w - log_w):
            sample = sub.proposal
        log_w = float(torch.logaddexp(torch.tensor(log_w), torch.tensor(sub.log_w)))
        # The old tree and the new subtree in time order: (first r, last r, rho) of each.
        if forward:
            L, R = (r_left, r_right, rho), (sub.r_beg, sub.r_end, sub.rho)
            right, r_right = sub.end, sub.r_end
        else:
            L, R = (sub.r_end, sub.r_beg, sub.rho), (r_left, r_right, rho)
            left, r_left = sub.end, sub.r_end
        rho = L[2] + R[2]
        turning = not _criterion(v(L[0]), v(R[1]), rho)
        turning |= not _criterion(v(L[0]), v(R[0]), L[2] + R[0])
        turning |= not _criterion(v(L[1]), v(R[1]), R[2] + L[1])
        if turning:
            break
    stats = {
        "accept_stat__": acc / max(n, 1),
        "treedepth__": depth,
        "n_leapfrog__": n,
        "divergent__": int(divergent),
        "energy__": H0,
    }
    return sample, stats


def hmc_transition(potential, state: State, eps: float, metric: Metric, gen, n_steps: int):
    """Static HMC: ``n_steps`` leapfrogs and a Metropolis correction."""
    r0 = metric.momentum(gen)
    H0 = state.U + metric.kinetic(r0)
    new, r = state, r0
    for _ in range(n_steps):
        new, r = leapfrog(potential, new, r, eps, metric)
    H = new.U + metric.kinetic(r)
    err = H - H0 if math.isfinite(H) else math.inf
    accept = min(1.0, math.exp(min(0.0, -err)))
    stats = {"accept_stat__": accept, "treedepth__": 0, "n_leapfrog__": n_steps, "divergent__": int(err > 1000),
             "energy__": H0}  # fmt: skip
    if float(torch.rand((), generator=gen, dtype=torch.float64)) < accept:
        return new, stats
    return state, stats
