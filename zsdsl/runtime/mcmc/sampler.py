"""The MCMC driver: initialisation, Stan-style warmup, draws, several chains with their own seeds.

``run_chain`` is one chain (a sampler "stepped in a loop"); ``sample`` runs the chains and
returns an ``MCMCResult`` with unconstrained draws and Stan's sampler statistics.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from zsdsl.errors import UsageError
from zsdsl.runtime.mcmc.adapt import DualAveraging, MetricEstimator, init_step_size, slow_window_ends
from zsdsl.runtime.mcmc.nuts import Metric, State, hmc_transition, nuts_transition
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.tuning import tune_allocator

STAT_NAMES = ("lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__")


@dataclass
class SamplerConfig:
    method: str = "nuts"  # nuts | hmc
    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    seed: int = 1
    metric: str = "diag"  # diag | dense | unit
    target_accept: float = 0.8
    max_depth: int = 10
    hmc_steps: int = 20
    init_radius: float = 2.0

    def validate(self) -> None:
        if self.method not in ("nuts", "hmc"):
            raise UsageError(f"Unknown sampler '{self.method}'; use nuts or hmc.")
        if self.metric not in ("diag", "dense", "unit"):
            raise UsageError(f"Unknown metric '{self.metric}'; use diag, dense or unit.")
        if self.chains < 1 or self.draws < 1 or self.warmup < 0:
            raise UsageError("--chains and --draws must be at least 1 and --warmup at least 0.")
        if not 0 < self.target_accept < 1:
            raise UsageError("--target-accept must lie in (0, 1).")


@dataclass
class ChainResult:
    u: torch.Tensor  # [draws, D]
    stats: dict  # name -> tensor [draws]
    step_size: float
    inv_metric: torch.Tensor
    wall_s: float


@dataclass
class MCMCResult:
    potential: Potential
    chains: list = field(default_factory=list)
    config: SamplerConfig | None = None

    @property
    def u(self) -> torch.Tensor:
        return torch.stack([c.u for c in self.chains])  # [C, S, D]

    def stat(self, name: str) -> torch.Tensor:
        return torch.stack([c.stats[name] for c in self.chains])

    def values(self) -> dict:
        """Constrained draws per site, [C, S, *shape], and the deterministic nodes."""
        u = self.u
        C, S, D = u.shape
        with torch.no_grad():
            vals, _ = self.potential.constrain(u.reshape(C * S, D))
            dets = self.potential.model.deterministics(vals, self.potential.data)
        out = {k: v.reshape(C, S, *v.shape[1:]) for k, v in vals.items()}
        out.update({k: v.reshape(C, S, *v.shape[1:]) for k, v in dets.items() if torch.is_tensor(v)})
        return out


def _init(potential, gen, radius: float, tries: int = 100) -> State:
    for _ in range(tries):
        z = (torch.rand(potential.dim, generator=gen, dtype=torch.float64) * 2 - 1) * radius
        U, grad = potential.value_and_grad(z)
        if math.isfinite(U) and torch.isfinite(grad).all():
            return State(z, U, grad)
    raise UsageError(
        f"Could not find an initial point with a finite log density in {tries} tries (uniform(-{radius}, {radius}) on "
        "the unconstrained scale); check the model and data."
    )


def run_chain(potential: Potential, cfg: SamplerConfig, seed: int, on_step=None) -> ChainResult:
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    state = _init(potential, gen, cfg.init_radius)
    D = potential.dim
    metric = Metric(torch.ones(D, dtype=torch.float64))
    eps = init_step_size(potential, state, 1.0, metric, gen) if cfg.warmup else 1.0
    da = DualAveraging(eps, cfg.target_accept)
    ends = slow_window_ends(cfg.warmup) if cfg.metric != "unit" else []
    start_slow = 75 if cfg.warmup >= 150 else int(0.15 * cfg.warmup)
    est = MetricEstimator(D, cfg.metric == "dense")
    rows, us = [], []

    def step(state, eps):
        if cfg.method == "nuts":
            return nuts_transition(potential, state, eps, metric, gen, cfg.max_depth)
        return hmc_transition(potential, state, eps, metric, gen, cfg.hmc_steps)

    for it in range(cfg.warmup + cfg.draws):
        state, st = step(state, eps)
        warm = it < cfg.warmup
        if warm:
            eps_used = eps
            eps = da.update(st["accept_stat__"])
            if ends and start_slow <= it < ends[-1]:
                est.add(state.z)
            if it + 1 in ends:
                metric = Metric(est.estimate())
                est.reset()
                eps = init_step_size(potential, state, eps, metric, gen)
                da = DualAveraging(eps, cfg.target_accept)
            if it + 1 == cfg.warmup:
                eps = da.final
        else:
            eps_used = eps
            us.append(state.z)
            rows.append({"lp__": -state.U, "stepsize__": eps_used, **st})
        if on_step is not None:
            on_step(it, warm)
    stats = {k: torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in STAT_NAMES}
    return ChainResult(torch.stack(us), stats, eps, metric.inv, time.perf_counter() - t0)


def sample(model, data: dict, cfg: SamplerConfig, progress=None) -> MCMCResult:
    """Run ``cfg.chains`` chains (seeds ``seed + k``) of NUTS or HMC on the model's posterior."""
    cfg.validate()
    tune_allocator()
    potential = Potential(model, data)
    if potential.dim == 0:
        raise UsageError("The model has no continuous latents to sample.")
    result = MCMCResult(potential, config=cfg)
    for c in range(cfg.chains):
        result.chains.append(run_chain(potential, cfg, cfg.seed * 1000 + c, progress))
    return result
