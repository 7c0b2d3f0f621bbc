"""``--chain-method vectorized``: every chain advanced together, one batched gradient call per leapfrog.

``VectorizedChains`` is ``sampler.Chain`` for C chains at once: the positions are the rows of a
``[C, D]`` tensor, the transitions are ``batched.nuts_batch`` / ``batched.hmc_batch``, and Stan's
warmup runs per chain on tensors (each chain its own dual-averaging step size, its own windowed
metric, re-initialised step size at each window's end). The initial points are the process path's
(each chain's ``np.random`` stream seeded ``seed*1000 + c``); the momenta and the trees' coin flips
come from one ``torch.Generator`` seeded ``seed`` on the sampling device, so the draws are
reproducible for a given seed, number of chains and device, but differ from the process path's
(the same distribution, not the same numbers).

The whole state (positions, adaptation, generator, draws so far) is checkpointed into
``checkpoints/chains.pt`` (the previous one kept beside it) and resumes to the same draws.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from zsdsl.runtime.mcmc.adapt import slow_window_ends
from zsdsl.runtime.mcmc.batched import BatchedPotential, BatchMetric, hmc_batch, init_step_sizes, nuts_batch
from zsdsl.runtime.mcmc.inits import chain_inits, initial_point
from zsdsl.runtime.mcmc.output import STAT_NAMES
from zsdsl.runtime.mcmc.results import ChainResult

REASON = "batched autograd over the chains (--chain-method vectorized)"
TREE = "vectorized: one iterative NUTS tree per chain, built in lockstep with one gradient call per leapfrog"


class BatchDualAveraging:
    """``adapt.DualAveraging`` for each chain (the tensors ``mu``, ``h_bar``, ``x_bar``; one shared count)."""

    def __init__(self, eps0: torch.Tensor, target: float, gamma: float = 0.05, t0: float = 10.0, kappa: float = 0.75):
        self.mu, self.target, self.gamma, self.t0, self.kappa = torch.log(10 * eps0), target, gamma, t0, kappa
        self.t, self.h_bar, self.x_bar = 0, torch.zeros_like(eps0), torch.zeros_like(eps0)

    def update(self, accept: torch.Tensor) -> torch.Tensor:
        self.t += 1
        eta = 1.0 / (self.t + self.t0)
        self.h_bar = (1 - eta) * self.h_bar + eta * (self.target - accept.clamp(max=1.0))
        x = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        w = self.t ** (-self.kappa)
        self.x_bar = w * x + (1 - w) * self.x_bar
        return torch.exp(x)

    @property
    def final(self) -> torch.Tensor:
        return torch.exp(self.x_bar)

    def state(self) -> dict:
        return {"mu": self.mu, "t": self.t, "h_bar": self.h_bar, "x_bar": self.x_bar}

    def load(self, sd: dict) -> None:
        self.mu, self.t, self.h_bar, self.x_bar = sd["mu"], int(sd["t"]), sd["h_bar"], sd["x_bar"]


class BatchWelford:
    """``adapt.MetricEstimator`` for each chain: the window's mean and (co)variance sums, [C, D] or [C, D, D]."""

    def __init__(self, like: torch.Tensor, dense: bool):
        self.like, self.dense = like, dense
        self.reset()

    def reset(self) -> None:
        C, D = self.like.shape
        self.n = 0
        self.mean = torch.zeros_like(self.like)
        self.m2 = self.like.new_zeros((C, D, D) if self.dense else (C, D))

    def add(self, z: torch.Tensor) -> None:
        self.n += 1
        delta = z - self.mean
        self.mean = self.mean + delta / self.n
        after = z - self.mean
        self.m2 = self.m2 + (delta[:, :, None] * after[:, None, :] if self.dense else delta * after)

    def estimate(self) -> torch.Tensor:
        n = self.n
        shrunk = (n / (n + 5.0)) * self.m2 / max(n - 1, 1)
        reg = 1e-3 * (5.0 / (n + 5.0))
        if self.dense:
            return shrunk + reg * torch.eye(self.like.shape[1], dtype=self.like.dtype, device=self.like.device)
        return shrunk + reg

    def state(self) -> dict:
        return {"n": self.n, "mean": self.mean, "m2": self.m2}

    def load(self, sd: dict) -> None:
        self.n, self.mean, self.m2 = int(sd["n"]), sd["mean"], sd["m2"]


class VectorizedChains:
    """All ``cfg.chains`` chains of NUTS/HMC with Stan's warmup, advanced together by ``step()``."""

    def __init__(self, potential, cfg, seed_of, sampling=None):
        """``potential`` gives the initial points (on the CPU); ``sampling`` (default: the same) the gradients,
        on ``cfg.device``."""
        self.potential, self.cfg, self.device = potential, cfg, torch.device(cfg.device)
        self.pot = BatchedPotential(sampling if sampling is not None else potential)
        C, D = cfg.chains, potential.dim
        self.gen = torch.Generator(self.device)
        self.gen.manual_seed(cfg.seed)
        inits = chain_inits(cfg.init, C)
        points = [initial_point(potential, np.random.default_rng(seed_of(c)), cfg.init_radius, inits[c]).z
                  for c in range(C)]  # fmt: skip
        self.z = torch.as_tensor(np.stack(points), dtype=torch.float64, device=self.device)
        self.U, self.g = self.pot(self.z)
        self.metric = BatchMetric(torch.ones_like(self.z))
        ones = torch.ones(C, dtype=torch.float64, device=self.device)
        self.eps = ones
        if cfg.warmup:
            self.eps = init_step_sizes(self.pot, self.z, self.U, self.g, ones, self.metric, self.gen)
        self.da = BatchDualAveraging(self.eps, cfg.target_accept)
        self.ends = slow_window_ends(cfg.warmup) if cfg.metric != "unit" else []
        self.start_slow = 75 if cfg.warmup >= 150 else int(0.15 * cfg.warmup)
        self.est = BatchWelford(self.z, cfg.metric == "dense")
        self.it, self.wall_s = 0, 0.0
        self.last: dict = {}
        kept = cfg.draws + (cfg.warmup if cfg.save_warmup else 0)
        self.draws = torch.zeros(C, kept, D, dtype=torch.float64)  # on the CPU: read by the outputs
        self.stats = {k: torch.zeros(C, kept, dtype=torch.float64) for k in STAT_NAMES}

    @property
    def done(self) -> bool:
        return self.it >= self.cfg.warmup + self.cfg.draws

    def step(self) -> None:
        """One transition of every chain (adapting during warmup)."""
        cfg, t0, it = self.cfg, time.perf_counter(), self.it
        eps_used = self.eps
        state = (self.z, self.U, self.g)
        if cfg.method == "nuts":
            (self.z, self.U, self.g), st = nuts_batch(self.pot, *state, self.eps, self.metric, self.gen, cfg.max_depth)
        else:
            (self.z, self.U, self.g), st = hmc_batch(self.pot, *state, self.eps, self.metric, self.gen, cfg.hmc_steps)
        if it < cfg.warmup:
            self._adapt(it, st["accept_stat__"])
        row = it - cfg.warmup + (cfg.warmup if cfg.save_warmup else 0)
        if row >= 0:
            self.draws[:, row] = self.z.cpu()
            for k, v in {"lp__": -self.U, "stepsize__": eps_used, **st}.items():
                self.stats[k][:, row] = v.to("cpu", torch.float64)
        self.last = st
        self.it += 1
        self.wall_s += time.perf_counter() - t0

    def _adapt(self, it: int, accept: torch.Tensor) -> None:
        cfg = self.cfg
        self.eps = self.da.update(accept)
        if self.ends and self.start_slow <= it < self.ends[-1]:
            self.est.add(self.z)
        if it + 1 in self.ends:
            self.metric = BatchMetric(self.est.estimate())
            self.est.reset()
            self.eps = init_step_sizes(self.pot, self.z, self.U, self.g, self.eps, self.metric, self.gen)
            self.da = BatchDualAveraging(self.eps, cfg.target_accept)
        if it + 1 == cfg.warmup:
            self.eps = self.da.final

    def results(self) -> list:
        """One ``ChainResult`` per chain (CPU tensors; the wall time is the batch's, shared by every chain)."""
        cfg = self.cfg
        w = cfg.warmup if cfg.save_warmup else 0
        out = []
        for c in range(cfg.chains):
            stats = {k: v[c, w:] for k, v in self.stats.items()}
            res = ChainResult(self.draws[c, w:], stats, float(self.eps[c]), self.metric.inv[c].cpu(), self.wall_s)
            if cfg.save_warmup:
                res.warmup_u, res.warmup_stats = self.draws[c, :w], {k: v[c, :w] for k, v in self.stats.items()}
            res.rejections = dict(self.pot.rejections.get(c, {}))
            out.append(res)
        return out

    def state_dict(self) -> dict:
        cpu = self._cpu
        return {"it": self.it, "wall_s": self.wall_s, "gen": self.gen.get_state(), "z": cpu(self.z),
                "U": cpu(self.U), "g": cpu(self.g), "eps": cpu(self.eps), "inv_metric": cpu(self.metric.inv),
                "da": {k: cpu(v) for k, v in self.da.state().items()},
                "est": {k: cpu(v) for k, v in self.est.state().items()}, "draws": self.draws,
                "stats": self.stats}  # fmt: skip

    def load_state_dict(self, sd: dict) -> None:
        dev = self._dev
        self.it, self.wall_s = int(sd["it"]), float(sd["wall_s"])
        self.gen.set_state(sd["gen"])
        self.z, self.U, self.g, self.eps = dev(sd["z"]), dev(sd["U"]), dev(sd["g"]), dev(sd["eps"])
        self.metric = BatchMetric(dev(sd["inv_metric"]))
        self.da.load({k: dev(v) for k, v in sd["da"].items()})
        self.est.load({k: dev(v) for k, v in sd["est"].items()})
        self.draws, self.stats = sd["draws"], dict(sd["stats"])

    @staticmethod
    def _cpu(x):
        return x.cpu() if torch.is_tensor(x) else x

    def _dev(self, x):
        return x.to(self.device) if torch.is_tensor(x) else x


def checkpoint_path(run):
    return run / "checkpoints" / "chains.pt"


def run_vectorized(potential, cfg, seed_of, run=None, resume=False, every_s=10.0, report=None,
                   sampling=None) -> list:  # fmt: skip
    """Run every chain to the end, checkpointing into ``run`` every ``every_s`` seconds; ``ChainResult``s."""
    from zsdsl.runtime.checkpoint import load_latest_or_previous, save_keeping_previous

    chains = VectorizedChains(potential, cfg, seed_of, sampling)
    path = checkpoint_path(run) if run is not None else None
    if resume and path is not None:
        found = load_latest_or_previous(path)  # (a truncated latest falls back to the previous one)
        if found is not None:
            chains.load_state_dict(found)
    last = time.perf_counter()
    while not chains.done:
        chains.step()
        now = time.perf_counter()
        if path is not None and (now - last > every_s or chains.done):
            save_keeping_previous(chains.state_dict(), path)
            last = now
        if report is not None and (chains.it % 10 == 0 or chains.done):
            depth = chains.last.get("treedepth__") if cfg.method == "nuts" else None
            for c in range(cfg.chains):
                report(c, chains.it, float(chains.eps[c]), None if depth is None else int(depth[c]))
    return chains.results()
