"""Stochastic-gradient MCMC for models with subsampled plates (ZhuSuan's set).

Each iteration draws minibatches over the plates declared with ``subsample=`` (the log-likelihood
scaled by N/B, as in variational fits) and moves the flat unconstrained vector with

- ``sgld``: Langevin dynamics, z ← z − ε/2 ∇Ũ + N(0, ε) (Welling & Teh 2011, "Bayesian learning
  via stochastic gradient Langevin dynamics");
- ``psgld``: SGLD preconditioned by an RMSprop estimate G = 1/(λ + √V) of the gradient scale
  (Li, Chen, Carlson & Carin 2016, "Preconditioned SGLD for deep neural networks"; the Γ term is
  dropped, as in the paper's experiments);
- ``sghmc``: Hamiltonian dynamics with friction α, v ← (1 − α) v − η ∇Ũ + N(0, 2αη), z ← z + v
  (Chen, Fox & Guestrin 2014, "Stochastic gradient HMC", eq. 15 with β̂ = 0);
- ``sgnht``: the Nosé–Hoover thermostat ξ that adapts the friction to the gradient noise,
  ξ ← ξ + (vᵀv / D − η) (Ding et al. 2014, "Bayesian sampling using stochastic gradient
  thermostats"), started at ξ = α.

The step size follows ``constant`` or ``poly``: ε_t = ε₀ (1 + t / decay_steps)^(−γ) (Welling & Teh's
decreasing schedule, γ = 0.55 by default). Draws after ``burnin`` iterations, every ``thin``-th,
are kept; the results have the same shape as NUTS results (``MCMCResult``), so outputs,
summaries and diagnostics are shared. The recorded ``lp__`` is the minibatch estimate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from zsdsl.errors import ModelError, NumericalError, OptionError
from zsdsl.runtime.mcmc.inits import chain_inits, initial_point
from zsdsl.runtime.mcmc.output import STAT_NAMES
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import ChainResult, MCMCResult, chain_seed
from zsdsl.runtime.options import SG_METHODS
from zsdsl.runtime.tuning import tune_allocator
from zsdsl.runtime.vi.train import MinibatchSampler

METHODS = SG_METHODS


@dataclass
class SGMCMCConfig:
    method: str = "sgld"
    chains: int = 1
    burnin: int = 1000
    draws: int = 1000
    thin: int = 1
    lr: float = 1e-4
    schedule: str = "constant"  # constant | poly
    gamma: float = 0.55
    decay_steps: int = 1000
    friction: float = 0.1  # sghmc's α; sgnht's initial ξ
    decay: float = 0.99  # psgld's RMSprop average
    eps: float = 1e-5  # psgld's λ
    seed: int = 1
    init_radius: float = 2.0
    init: dict | list | None = None  # initial values by latent (constrained), as for NUTS

    def validate(self) -> None:
        if self.method not in METHODS:
            raise OptionError(f"Unknown SG-MCMC method '{self.method}'; use one of {', '.join(METHODS)}.")
        if self.schedule not in ("constant", "poly"):
            raise OptionError(f"Unknown step-size schedule '{self.schedule}'; use constant or poly.")
        if self.chains < 1 or self.draws < 1 or self.burnin < 0 or self.thin < 1:
            raise OptionError("--chains, --draws and --thin must be at least 1 and the burn-in at least 0.")
        if self.lr <= 0:
            raise OptionError("--lr must be positive.")
        if not 0 < self.friction < 1:
            raise OptionError("--friction must lie in (0, 1).")
        if not self.init_radius > 0:
            raise OptionError(f"The initialisation radius must be positive, not {self.init_radius}.")
        chain_inits(self.init, self.chains)

    def step_size(self, t: int) -> float:
        if self.schedule == "poly":
            return self.lr * (1.0 + t / self.decay_steps) ** (-self.gamma)
        return self.lr


def _move(cfg: SGMCMCConfig, z, v, aux, g, lr: float, rng):
    """One update of position ``z``, velocity ``v`` and the method's auxiliary state."""
    D = z.shape[0]
    noise = rng.standard_normal(D)
    if cfg.method == "sgld":
        return z - 0.5 * lr * g + math.sqrt(lr) * noise, v, aux
    if cfg.method == "psgld":
        aux = cfg.decay * aux + (1 - cfg.decay) * g * g
        G = 1.0 / (cfg.eps + np.sqrt(aux))
        return z - 0.5 * lr * G * g + np.sqrt(lr * G) * noise, v, aux
    if cfg.method == "sghmc":
        a = cfg.friction
        v = (1 - a) * v - lr * g + math.sqrt(2 * a * lr) * noise
        return z + v, v, aux
    # sgnht: aux is the thermostat ξ
    v = v - aux * v - lr * g + math.sqrt(2 * cfg.friction * lr) * noise
    aux = aux + (float(v @ v) / D - lr)
    return z + v, v, aux


def run_sgmcmc_chain(
    potential: Potential, batches: MinibatchSampler, cfg: SGMCMCConfig, seed: int, given: dict | None = None
) -> ChainResult:
    """One chain from U(-init_radius, init_radius) with the latents in ``given`` placed at their values."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    z = initial_point(potential, rng, cfg.init_radius, given).z
    v = np.zeros(potential.dim)
    aux = np.zeros(potential.dim) if cfg.method == "psgld" else cfg.friction
    draws, rows = [], []
    total = cfg.burnin + cfg.draws * cfg.thin
    for t in range(total):
        U, g = potential.value_and_grad_np(z, batches.next())
        if not (math.isfinite(U) and np.isfinite(g).all()):
            raise NumericalError(f"{cfg.method}: the log density became {-U} at iteration {t}; try a smaller --lr.")
        lr = cfg.step_size(t)
        if t >= cfg.burnin and (t - cfg.burnin) % cfg.thin == 0:
            draws.append(z)
            rows.append((-U, lr))
        z, v, aux = _move(cfg, z, v, aux, g, lr, rng)
    n = len(rows)
    stats = {name: torch.full((n,), math.nan, dtype=torch.float64) for name in STAT_NAMES}
    stats["lp__"] = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    stats["stepsize__"] = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    stats["treedepth__"] = torch.zeros(n, dtype=torch.float64)
    stats["n_leapfrog__"] = torch.ones(n, dtype=torch.float64)
    stats["divergent__"] = torch.zeros(n, dtype=torch.float64)
    u = torch.from_numpy(np.stack(draws))
    return ChainResult(u, stats, cfg.step_size(total), torch.ones(potential.dim, dtype=torch.float64),
                       time.perf_counter() - t0)  # fmt: skip


def sample_sgmcmc(model, data: dict, cfg: SGMCMCConfig) -> MCMCResult:
    """``cfg.chains`` SG-MCMC chains (seeds ``seed*1000 + k``) with minibatches over subsampled plates."""
    cfg.validate()
    tune_allocator()
    potential = Potential(model, data)
    if potential.dim == 0:
        raise ModelError("The model has no continuous latents to sample.")
    if model.plate_subsample:  # say which maths the minibatch gradients take (the emitted code is whole-data)
        potential.minibatch_reason = ("minibatch gradients by PyTorch autograd (the emitted NumPy code evaluates "
                                      "the whole data)")  # fmt: skip
    result = MCMCResult(potential, config=cfg)
    inits = chain_inits(cfg.init, cfg.chains)
    for c in range(cfg.chains):
        seed = chain_seed(cfg, c)
        batches = MinibatchSampler(model.plate_sizes(), model.plate_subsample, seed)
        result.chains.append(run_sgmcmc_chain(potential, batches, cfg, seed, inits[c]))
    return result
