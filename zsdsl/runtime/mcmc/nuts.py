"""The No-U-Turn sampler's transition, functional: ``nuts_transition(state, ...) -> (state, stats)``.

Multinomial sampling over the trajectory with biased progressive sampling at the top level
(Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte Carlo", A.3.2), the
generalised no-U-turn criterion with the extra checks across subtrees (Stan ≥ 2.26), a
divergence when the energy error exceeds ``max_energy_error`` (1000, Stan's), tree depth ≤
``max_depth``. Also ``hmc_transition``, static-path HMC with a Metropolis correction.

Positions, momenta and gradients are float64 NumPy vectors and the random numbers come from a
``numpy.random.Generator``: the sampler's own arithmetic on small vectors then costs about a
microsecond per operation, and the potential (PyTorch) is the only heavy call per leapfrog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class State:
    z: np.ndarray  # unconstrained position
    U: float  # potential energy
    grad: np.ndarray  # dU/dz


class Metric:
    """Inverse metric M⁻¹: a vector (diagonal) or a matrix (dense)."""

    def __init__(self, inv):
        self.inv = np.asarray(inv, dtype=np.float64)
        self.dense = self.inv.ndim == 2
        self.chol = np.linalg.cholesky(np.linalg.inv(self.inv)) if self.dense else 1.0 / np.sqrt(self.inv)

    def momentum(self, rng: np.random.Generator) -> np.ndarray:
        eps = rng.standard_normal(self.inv.shape[0])
        return self.chol @ eps if self.dense else self.chol * eps

    def velocity(self, r: np.ndarray) -> np.ndarray:
        return self.inv @ r if self.dense else self.inv * r

    def kinetic(self, r: np.ndarray) -> float:
        return 0.5 * float(r @ self.velocity(r))


def logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = a if a > b else b
    return m + math.log1p(math.exp(-abs(a - b)))


def leapfrog(potential, state: State, r: np.ndarray, eps: float, metric: Metric):
    r = r - (0.5 * eps) * state.grad
    z = state.z + eps * metric.velocity(r)
    U, grad = potential.value_and_grad_np(z)
    r = r - (0.5 * eps) * grad
    return State(z, U, grad), r


@dataclass(slots=True)
class _Tree:
    beg: State  # first point in build order
    end: State  # last point in build order
    r_beg: np.ndarray
    r_end: np.ndarray
    v_beg: np.ndarray  # M⁻¹ r at both ends (the "sharp" momenta)
    v_end: np.ndarray
    proposal: State
    log_w: float
    rho: np.ndarray
    n: int = 0
    accept_sum: float = 0.0
    divergent: bool = False
    turning: bool = False


_dot = np.dot  # a module-level name: one lookup per call, and faster than ``@`` on short vectors


def _turning(v_minus, v_plus, rho) -> bool:
    return not (_dot(v_plus, rho) > 0 and _dot(v_minus, rho) > 0)


class _Builder:
    def __init__(self, potential, metric: Metric, eps: float, H0: float, rng, max_energy_error: float):
        self.potential, self.metric, self.eps, self.H0 = potential, metric, eps, H0
        self.rng, self.max_err = rng, max_energy_error

    def leaf(self, state: State, r, direction: int) -> _Tree:
        # the leapfrog inline: this runs once per gradient, and its Python is most of NUTS's own cost
        eps, metric = direction * self.eps, self.metric
        r = r - (0.5 * eps) * state.grad
        z = state.z + eps * metric.velocity(r)
        U, grad = self.potential.value_and_grad_np(z)
        r_new = r - (0.5 * eps) * grad
        new = State(z, U, grad)
        v = metric.velocity(r_new)
        H = U + 0.5 * _dot(r_new, v)
        if not math.isfinite(H):
            H = math.inf
        err = H - self.H0
        accept = math.exp(-err) if err > 0 else 1.0
        return _Tree(new, new, r_new, r_new, v, v, new, -err, r_new, 1, accept, err > self.max_err)

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
        log_w = logaddexp(init.log_w, final.log_w)
        proposal = init.proposal
        if final.log_w > log_w or self.rng.random() < math.exp(final.log_w - log_w):
            proposal = final.proposal
        rho = init.rho + final.rho
        # the criterion over the merged tree, then Stan's two extra checks across the subtrees; the sums
        # ρ_init + r_final_beg and ρ_final + r_init_end are taken as sums of dot products (no temporaries)
        vb, ve = init.v_beg, final.v_end
        turning = (
            not (_dot(ve, rho) > 0 and _dot(vb, rho) > 0)
            or not (_dot(final.v_beg, init.rho) + _dot(final.v_beg, final.r_beg) > 0
                    and _dot(vb, init.rho) + _dot(vb, final.r_beg) > 0)
            or not (_dot(ve, final.rho) + _dot(ve, init.r_end) > 0
                    and _dot(init.v_end, final.rho) + _dot(init.v_end, init.r_end) > 0)
        )  # fmt: skip
        return _Tree(init.beg, final.end, init.r_beg, final.r_end, init.v_beg, final.v_end, proposal, log_w, rho, n,
                     acc, False, turning)  # fmt: skip


def nuts_transition(potential, state: State, eps: float, metric: Metric, rng, max_depth: int = 10,
                    max_energy_error: float = 1000.0):  # fmt: skip
    """One NUTS transition; returns the new state and Stan's sampler statistics."""
    r0 = metric.momentum(rng)
    v0 = metric.velocity(r0)
    H0 = state.U + 0.5 * float(r0 @ v0)
    b = _Builder(potential, metric, eps, H0, rng, max_energy_error)
    left, right = state, state  # time order
    r_left, r_right, v_left, v_right = r0, r0, v0, v0
    rho = r0
    sample, log_w = state, 0.0
    depth, n, acc, divergent = 0, 0, 0.0, False
    while depth < max_depth:
        forward = rng.random() > 0.5
        sub = b.build(right, r_right, depth, 1) if forward else b.build(left, r_left, depth, -1)
        n, acc = n + sub.n, acc + sub.accept_sum
        depth += 1
        if sub.divergent:
            divergent = True
            break
        if sub.turning:
            break
        if sub.log_w > log_w or rng.random() < math.exp(sub.log_w - log_w):
            sample = sub.proposal
        log_w = logaddexp(log_w, sub.log_w)
        # The old tree and the new subtree in time order: (first r, last r, first v, last v, rho) of each.
        if forward:
            L = (r_left, r_right, v_left, v_right, rho)
            R = (sub.r_beg, sub.r_end, sub.v_beg, sub.v_end, sub.rho)
            right, r_right, v_right = sub.end, sub.r_end, sub.v_end
        else:
            L = (sub.r_end, sub.r_beg, sub.v_end, sub.v_beg, sub.rho)
            R = (r_left, r_right, v_left, v_right, rho)
            left, r_left, v_left = sub.end, sub.r_end, sub.v_end
        rho = L[4] + R[4]
        if _turning(L[2], R[3], rho) or _turning(L[2], R[2], L[4] + R[0]) or _turning(L[3], R[3], R[4] + L[1]):
            break
    stats = {
        "accept_stat__": acc / max(n, 1),
        "treedepth__": depth,
        "n_leapfrog__": n,
        "divergent__": int(divergent),
        "energy__": H0,
    }
    return sample, stats


def hmc_transition(potential, state: State, eps: float, metric: Metric, rng, n_steps: int):
    """Static HMC: ``n_steps`` leapfrogs and a Metropolis correction."""
    r0 = metric.momentum(rng)
    H0 = state.U + metric.kinetic(r0)
    new, r = state, r0
    for _ in range(n_steps):
        new, r = leapfrog(potential, new, r, eps, metric)
    H = new.U + metric.kinetic(r)
    err = H - H0 if math.isfinite(H) else math.inf
    accept = min(1.0, math.exp(min(0.0, -err)))
    stats = {"accept_stat__": accept, "treedepth__": 0, "n_leapfrog__": n_steps, "divergent__": int(err > 1000),
             "energy__": H0}  # fmt: skip
    if rng.random() < accept:
        return new, stats
    return state, stats
