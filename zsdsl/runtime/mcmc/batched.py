"""NUTS and HMC transitions of many chains at once: one batched gradient call per leapfrog for all chains.

The chains' positions are the rows of a ``[C, D]`` tensor; the potential is evaluated on all rows in
one call (the emitted code puts sample dims first), so a GPU, or a CPU with a heavy likelihood,
does the work of C chains in one kernel. The algorithm is ``nuts.nuts_transition``'s (multinomial
sampling, biased progressive sampling at the top, the generalised U-turn criterion with Stan's two
extra checks, divergence at an energy error over 1000) in a form that runs in lockstep:

* The trajectory doubles at the same time in every chain (depth j builds 2**j leaves), so the chains
  share every gradient call; a chain whose tree stopped (a U-turn, a divergence) is masked out and
  its rows are not evaluated.
* A subtree is built leaf by leaf instead of by recursion ("iterative NUTS", as NumPyro's and TFP's):
  the U-turn checks of the recursion's inner nodes happen when their last leaf is built, from
  O(depth) saved checkpoints per level (each level's first momentum, velocity and momentum sum, and
  its completed left half). The sample within a subtree is drawn by progressive multinomial sampling
  leaf by leaf, which draws from the same distribution as the recursion's merges.

Each chain has its own step size and (diagonal or dense) metric; the random numbers come from one
``torch.Generator``, so a chain's draws depend on the seed and on the number of chains (the process
path's do not) but never on the device's scheduling. ``BatchedPotential`` turns failures of one row (a
matrix that is not positive definite, an ODE that does not solve) into an infinite energy for that
row only, as the process path does for its one chain.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch

from zsdsl.runtime.lib.ode import SolverFailure

LOG_08 = math.log(0.8)


class BatchedPotential:
    """U(z) and dU/dz of every row of ``z`` [C, D] (infinite energy and zero gradient where a row fails)."""

    def __init__(self, potential):
        self.potential = potential
        self.calls = 0
        self.rejections: dict = {}  # chain -> Counter of the proposals rejected for a failed ODE solve

    def __call__(self, z: torch.Tensor, rows=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``rows``: the chains the rows of ``z`` belong to (default: all, in order)."""
        self.calls += 1
        try:
            U, g = self._batch(z)
        except (torch.linalg.LinAlgError, SolverFailure):
            U, g = self._one_by_one(z, rows)  # one row failed the whole call: find which
        bad = ~torch.isfinite(U)
        if bad.any():
            U = torch.where(bad, math.inf, U)
            g = torch.where(bad[:, None], 0.0, g)
        return U, g

    def _batch(self, z):
        with torch.enable_grad():
            u = z.detach().requires_grad_(True)
            U = -self.potential.log_density(u)
            (g,) = torch.autograd.grad(U.sum(), u)
        return U.detach(), g

    def _one_by_one(self, z, rows):
        U, g = torch.empty(z.shape[0], dtype=z.dtype, device=z.device), torch.zeros_like(z)
        for i in range(z.shape[0]):
            try:
                Ui, gi = self._batch(z[i : i + 1])
                U[i], g[i] = Ui[0], gi[0]
            except torch.linalg.LinAlgError:
                U[i] = math.inf
            except SolverFailure as err:
                chain = i if rows is None else int(rows[i])
                self.rejections.setdefault(chain, Counter())[err.reason] += 1
                U[i] = math.inf
        return U, g


class BatchMetric:
    """Each chain's inverse metric: ``inv`` [C, D] (diagonal) or [C, D, D] (dense)."""

    def __init__(self, inv: torch.Tensor):
        self.inv = inv
        self.dense = inv.dim() == 3
        self.chol = torch.linalg.cholesky(torch.linalg.inv(inv)) if self.dense else torch.rsqrt(inv)

    def momentum(self, gen: torch.Generator) -> torch.Tensor:
        eps = torch.randn(self.inv.shape[:2], generator=gen, dtype=self.inv.dtype, device=self.inv.device)
        return (self.chol @ eps[..., None])[..., 0] if self.dense else self.chol * eps

    def velocity(self, r: torch.Tensor) -> torch.Tensor:
        return (self.inv @ r[..., None])[..., 0] if self.dense else self.inv * r


def _dot(a, b):
    return (a * b).sum(-1)


def _uniform(gen, like):
    return torch.rand(like.shape[0], generator=gen, dtype=like.dtype, device=like.device)


def _turning(v_minus, v_plus, rho):
    return ~((_dot(v_plus, rho) > 0) & (_dot(v_minus, rho) > 0))


def _where(mask, a, b):
    """``a`` where ``mask`` (one flag per chain) else ``b``."""
    return torch.where(mask.reshape(-1, *([1] * (a.dim() - 1))), a, b)


def _leapfrog(pot, z, g, r, e, metric, rows=None):
    """One leapfrog of signed step ``e`` [C]; the gradient only at ``rows`` (the rest: infinite energy)."""
    r = r - (0.5 * e)[:, None] * g
    z = z + e[:, None] * metric.velocity(r)
    if rows is None:
        U, g_new = pot(z)
    else:
        U = torch.full_like(e, math.inf)
        g_new = torch.zeros_like(z)
        U[rows], g_new[rows] = pot(z[rows], rows)
    return z, U, g_new, r - (0.5 * e)[:, None] * g_new


@dataclass
class Subtree:
    z: torch.Tensor  # the last leaf built (position, energy, gradient)
    U: torch.Tensor
    g: torch.Tensor
    r_beg: torch.Tensor  # first and last momenta and velocities in build order
    r_end: torch.Tensor
    v_beg: torch.Tensor
    v_end: torch.Tensor
    rho: torch.Tensor  # sum of the momenta
    prop_z: torch.Tensor  # the sample drawn from the subtree
    prop_U: torch.Tensor
    prop_g: torch.Tensor
    log_w: torch.Tensor
    n: torch.Tensor
    accept: torch.Tensor
    divergent: torch.Tensor
    turning: torch.Tensor


def build_subtree(pot, z, U, g, r, e, metric, H0, active, depth: int, gen, max_err: float) -> Subtree:
    """2**depth leapfrogs of signed step ``e`` from (z, g, r) in every active chain, as ``nuts._Builder.build``."""
    alive = active.clone()
    C = z.shape[0]
    n = torch.zeros(C, dtype=torch.long, device=z.device)
    accept = torch.zeros_like(H0)
    divergent = torch.zeros_like(active)
    turning = torch.zeros_like(active)
    log_w = torch.full_like(H0, -math.inf)
    prop_z, prop_U, prop_g = z, U, g
    cum = torch.zeros_like(z)  # the momenta summed over the leaves so far
    starts: list = [None] * (depth + 1)  # per level: (r, v, sum before) at its node's first leaf
    lefts: list = [None] * (depth + 1)  # per level: (rho, v_beg, v_end, r_end) of its last completed left half
    r_beg = v_beg = None
    for k in range(2**depth):
        rows = None if bool(alive.all()) else alive.nonzero()[:, 0]
        z, U, g, r = _leapfrog(pot, z, g, r, e, metric, rows)
        v = metric.velocity(r)
        H = U + 0.5 * _dot(r, v)
        H = torch.where(torch.isfinite(H), H, math.inf)
        err = H - H0
        n = n + alive
        accept = accept + torch.where(alive, torch.where(err > 0, torch.exp(-err), 1.0), 0.0)
        bad = alive & (err > max_err)
        divergent |= bad
        alive &= ~bad
        # progressive multinomial sampling over the subtree's leaves
        new_w = torch.logaddexp(log_w, -err)
        take = alive & (_uniform(gen, H0) < torch.exp(-err - new_w))
        prop_z, prop_U, prop_g = _where(take, z, prop_z), torch.where(take, U, prop_U), _where(take, g, prop_g)
        log_w = torch.where(alive, new_w, log_w)
        if k == 0:
            r_beg, v_beg = r, v
        before, cum = cum, cum + r
        for m in range(depth + 1):  # the levels whose node starts at this leaf
            if k % (1 << m):
                break
            starts[m] = (r, v, before)
        for m in range(depth + 1):  # the nodes that end at this leaf, innermost first
            if (k + 1) % (1 << m):
                break
            if m:  # its halves: the left one saved, the right one (level m - 1) ending here
                c_r, c_v, c_before = starts[m - 1]
                turn = _merge_turns(lefts[m - 1], (cum - c_before, c_r, c_v, v))
                turning |= alive & turn
                alive &= ~turn
            if ((k + 1) >> m) % 2:  # a left half: kept until its right half is done
                s_r, s_v, s_before = starts[m]
                lefts[m] = (cum - s_before, s_v, v, r)
        if not bool(alive.any()):
            break
    return Subtree(z, U, g, r_beg, r, v_beg, v, cum, prop_z, prop_U, prop_g, log_w, n, accept, divergent, turning)


def _merge_turns(left, right) -> torch.Tensor:
    """The U-turn criterion over two halves of a node, and Stan's two checks across them."""
    l_rho, l_vb, l_ve, l_re = left
    r_rho, r_rb, r_vb, r_ve = right
    rho = l_rho + r_rho
    return (_turning(l_vb, r_ve, rho) | _turning(l_vb, r_vb, l_rho + r_rb)
            | _turning(l_ve, r_ve, r_rho + l_re))  # fmt: skip


def nuts_batch(pot, z, U, g, eps, metric: BatchMetric, gen, max_depth: int = 10, max_err: float = 1000.0):
    """One NUTS transition of every chain; returns (z, U, g) and Stan's statistics, each [C]."""
    C = z.shape[0]
    r0 = metric.momentum(gen)
    v0 = metric.velocity(r0)
    H0 = U + 0.5 * _dot(r0, v0)
    left = [z, U, g, r0, v0]  # the trajectory's ends in time order: position, energy, gradient, r, v
    right = [z, U, g, r0, v0]
    rho = r0
    sample = [z, U, g]
    log_w = torch.zeros_like(U)
    active = torch.ones(C, dtype=torch.bool, device=z.device)
    depth = torch.zeros(C, dtype=torch.long, device=z.device)
    n, accept, divergent = torch.zeros_like(depth), torch.zeros_like(U), torch.zeros_like(active)
    for j in range(max_depth):
        forward = _uniform(gen, U) > 0.5
        start = [_where(forward, a, b) for a, b in zip(right, left)]
        sign = torch.where(forward, 1.0, -1.0).to(U.dtype)
        sub = build_subtree(pot, start[0], start[1], start[2], start[3], sign * eps, metric, H0, active, j, gen,
                            max_err)  # fmt: skip
        n, accept = n + sub.n, accept + sub.accept
        depth = depth + active
        divergent |= active & sub.divergent
        ok = active & ~sub.divergent & ~sub.turning
        take = ok & ((sub.log_w > log_w) | (_uniform(gen, U) < torch.exp(sub.log_w - log_w)))
        sample = [_where(take, a, b) for a, b in zip((sub.prop_z, sub.prop_U, sub.prop_g), sample)]
        log_w = torch.where(ok, torch.logaddexp(log_w, sub.log_w), log_w)
        # the old tree and the subtree in time order: (first r, last r, first v, last v, rho) of each
        old = (left[3], right[3], left[4], right[4], rho)
        new_f = (sub.r_beg, sub.r_end, sub.v_beg, sub.v_end, sub.rho)
        new_b = (sub.r_end, sub.r_beg, sub.v_end, sub.v_beg, sub.rho)
        L = [_where(forward, a, b) for a, b in zip(old, new_b)]
        R = [_where(forward, a, b) for a, b in zip(new_f, old)]
        end = [sub.z, sub.U, sub.g, sub.r_end, sub.v_end]
        right = [_where(ok & forward, a, b) for a, b in zip(end, right)]
        left = [_where(ok & ~forward, a, b) for a, b in zip(end, left)]
        merged = L[4] + R[4]
        turn = _turning(L[2], R[3], merged) | _turning(L[2], R[2], L[4] + R[0]) | _turning(L[3], R[3], R[4] + L[1])
        rho = _where(ok, merged, rho)
        active = ok & ~turn
        if not bool(active.any()):
            break
    stats = {"accept_stat__": accept / n.clamp(min=1), "treedepth__": depth, "n_leapfrog__": n,
             "divergent__": divergent.long(), "energy__": H0}  # fmt: skip
    return sample, stats


def hmc_batch(pot, z, U, g, eps, metric: BatchMetric, gen, n_steps: int):
    """Static HMC in every chain: ``n_steps`` leapfrogs and a Metropolis correction each."""
    r0 = metric.momentum(gen)
    H0 = U + 0.5 * _dot(r0, metric.velocity(r0))
    zn, Un, gn, r = z, U, g, r0
    for _ in range(n_steps):
        zn, Un, gn, r = _leapfrog(pot, zn, gn, r, eps, metric)
    H = Un + 0.5 * _dot(r, metric.velocity(r))
    err = torch.where(torch.isfinite(H), H - H0, math.inf)
    accept = torch.exp(torch.clamp(-err, max=0.0))
    take = _uniform(gen, U) < accept
    stats = {"accept_stat__": accept, "treedepth__": torch.zeros_like(take, dtype=torch.long),
             "n_leapfrog__": torch.full_like(take, n_steps, dtype=torch.long), "divergent__": (err > 1000).long(),
             "energy__": H0}  # fmt: skip
    return [_where(take, zn, z), torch.where(take, Un, U), _where(take, gn, g)], stats


def init_step_sizes(pot, z, U, g, eps, metric: BatchMetric, gen) -> torch.Tensor:
    """Stan's heuristic in every chain: double or halve ε until one leapfrog's acceptance crosses 0.8."""

    def delta_h(e):
        r = metric.momentum(gen)
        H0 = U + 0.5 * _dot(r, metric.velocity(r))
        _, U1, _, r1 = _leapfrog(pot, z, g, r, e, metric)
        H = U1 + 0.5 * _dot(r1, metric.velocity(r1))
        return torch.where(torch.isfinite(H), H0 - H, -math.inf)

    up = delta_h(eps) > LOG_08
    done = torch.zeros_like(up)
    for _ in range(100):
        d = delta_h(eps)
        done |= torch.where(up, ~(d > LOG_08), ~(d < LOG_08))
        if bool(done.all()):
            break
        eps = torch.where(done, eps, torch.where(up, eps * 2.0, eps / 2.0))
        done |= (eps > 1e7) | (eps < 1e-12)
    return eps
