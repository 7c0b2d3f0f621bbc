"""The MCMC driver: initialisation, Stan-style warmup, draws, several chains with their own seeds.

``Chain`` is one chain as an object stepped in a loop (ZhuSuan's "HMC like an optimizer"); its
whole state (position, adaptation, RNG, draws so far) round-trips through ``state_dict`` so
that a chain checkpointed at any iteration and resumed gives the same draws as one that
never stopped. ``sample`` runs the chains, in parallel processes when there are cores for
them (results do not depend on how chains are spread over processes), with optional
checkpoints, and returns an ``MCMCResult`` with unconstrained draws and Stan's statistics.
With ``chain_method="vectorized"`` the chains run together instead, one batched gradient call per
leapfrog (``vectorized.py``; on ``device``, a GPU where there is one).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from zsdsl.errors import ModelError, OptionError
from zsdsl.runtime.mcmc.adapt import DualAveraging, MetricEstimator, init_step_size, slow_window_ends
from zsdsl.runtime.mcmc.inits import chain_inits, initial_point
from zsdsl.runtime.mcmc.nuts import Metric, State, hmc_transition, nuts_transition
from zsdsl.runtime.mcmc.output import STAT_NAMES, flat_columns, summarize, to_inference_data
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.results import ChainResult
from zsdsl.runtime.tuning import tune_allocator


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
    cores: int | None = None  # processes for the chains; None: min(chains, CPUs)
    compile: bool = False  # torch.compile the potential (fast per call, seconds to compile)
    save_warmup: bool = False  # keep the warmup draws (InferenceData's warmup_posterior, warmup_sample_stats)
    init: dict | list | None = None  # initial values by latent (constrained), for all chains or a list per chain
    chain_method: str = "processes"  # processes (one chain a process) | vectorized (all chains in one batch)
    device: str = "cpu"  # cpu | cuda | cuda:N | auto: where vectorized chains run (resolved by validate)

    def validate(self) -> None:
        if self.method not in ("nuts", "hmc"):
            raise OptionError(f"Unknown sampler '{self.method}'; use nuts or hmc.")
        if self.metric not in ("diag", "dense", "unit"):
            raise OptionError(f"Unknown metric '{self.metric}'; use diag, dense or unit.")
        if self.chains < 1 or self.draws < 1 or self.warmup < 0:
            raise OptionError("--chains and --draws must be at least 1 and --warmup at least 0.")
        if not 0 < self.target_accept < 1:
            raise OptionError("--target-accept must lie in (0, 1).")
        if self.cores is not None and self.cores < 1:
            raise OptionError("--cores must be at least 1.")
        if self.max_depth < 1:
            raise OptionError(f"--max-depth must be at least 1 (a tree of depth 0 never moves), not {self.max_depth}.")
        if self.hmc_steps < 1:
            raise OptionError(f"--steps (leapfrogs per HMC transition) must be at least 1, not {self.hmc_steps}.")
        if not self.init_radius > 0:
            raise OptionError(f"The initialisation radius must be positive, not {self.init_radius}.")
        chain_inits(self.init, self.chains)
        self._validate_chain_method()

    def _validate_chain_method(self) -> None:
        from zsdsl.runtime.devices import resolve_device

        if self.chain_method not in ("processes", "vectorized"):
            raise OptionError(f"Unknown chain method '{self.chain_method}'; use processes or vectorized.")
        self.device = resolve_device(self.device)
        if self.chain_method == "processes":
            if self.device != "cpu":
                raise OptionError(f"--device {self.device} needs --chain-method vectorized: process chains run on "
                                  "the CPU, one chain a process.")  # fmt: skip
            return
        if self.cores is not None:
            raise OptionError("--cores sets the processes of --chain-method processes; vectorized chains run in "
                              "one process (set its threads with OMP_NUM_THREADS); leave --cores out.")  # fmt: skip
        if self.compile:
            raise OptionError("--compile compiles the one-chain gradient of --chain-method processes; vectorized "
                              "chains use batched autograd; leave --compile out.")  # fmt: skip


@dataclass
class MCMCResult:
    potential: Potential
    chains: list = field(default_factory=list)
    config: SamplerConfig | None = None
    _derived: object = field(default=None, repr=False)

    @property
    def u(self) -> torch.Tensor:
        """The draws on the unconstrained scale, [chains, draws, dimension]."""
        return torch.stack([c.u for c in self.chains])  # [C, S, D]

    def stat(self, name: str) -> torch.Tensor:
        """A sampler statistic by its Stan name (``lp__``, ``divergent__``, ...), [chains, draws]."""
        return torch.stack([c.stats[name] for c in self.chains])

    def summary(self) -> dict:
        """Stan's summary per scalar quantity (``theta[0]``, ...; generated quantities included),
        computed with ArviZ."""
        return summarize(flat_columns(self.derived().reported()))

    def to_inference_data(self):
        """ArviZ ``InferenceData``: posterior (with deterministics and generated quantities),
        posterior_predictive, log_likelihood, sample_stats, observed_data and constant_data."""
        return to_inference_data(self)

    def derived(self, warmup: bool = False):
        """Deterministics, generated quantities, predictive draws and pointwise log-likelihoods of the
        draws (``zsdsl.runtime.posterior.Derived``), computed once; ``warmup``: the posterior group of
        the warmup draws kept with ``save_warmup`` (no predictive)."""
        if warmup or self._derived is None:
            from zsdsl.runtime.posterior import derive

            pot = self.potential
            enumerated = tuple(s.name for s, _ in pot.enum)
            seed = (self.config.seed if self.config is not None else 0) + 7919  # not the chains' own streams
            values = self.latents(warmup)  # (derive computes the deterministics itself)
            C, S = next(iter(values.values())).shape[:2]
            values.update({k: v.reshape(C, S, *v.shape[1:]) for k, v in pot.enum_placeholders((C * S,)).items()})
            found = derive(pot.model, pot.data, values, seed=seed, enumerated=enumerated, predictive=not warmup)
            if warmup:
                return found
            self._derived = found
        return self._derived

    def latents(self, warmup: bool = False) -> dict:
        """Constrained draws per site, [C, S, *shape] (``warmup``: of the warmup draws kept with
        ``save_warmup``)."""
        u = torch.stack([c.warmup_u for c in self.chains]) if warmup else self.u
        C, S, D = u.shape
        with torch.no_grad():
            vals, _ = self.potential.constrain(u.reshape(C * S, D))
        return {k: v.reshape(C, S, *v.shape[1:]) for k, v in vals.items()}

    def values(self, warmup: bool = False) -> dict:
        """Constrained draws per site, [C, S, *shape], and the deterministic nodes (``warmup``: of the
        warmup draws kept with ``save_warmup``)."""
        out = self.latents(warmup)
        C, S = next(iter(out.values())).shape[:2]
        pot = self.potential
        flat = {k: v.reshape(C * S, *v.shape[2:]) for k, v in out.items()}
        with torch.no_grad():
            dets = pot.model.deterministics({**flat, **pot.enum_placeholders((C * S,))}, pot.data)
        skip = set(pot.model.enum_dependent)
        out.update({k: v.reshape(C, S, *v.shape[1:]) for k, v in dets.items() if torch.is_tensor(v) and k not in skip})
        return out


class Chain:
    """One chain of NUTS/HMC with Stan's warmup, advanced by ``step()``.

    >>> chain = Chain(potential, SamplerConfig(warmup=500, draws=1000), seed=1)
    >>> while not chain.done:
    ...     z, stats = chain.step()
    """

    def __init__(self, potential: Potential, cfg: SamplerConfig, seed: int, chain: int = 0):
        self.potential, self.cfg, self.seed = potential, cfg, seed
        self.rng = np.random.default_rng(seed)
        self.it = 0
        self.wall_s = 0.0
        self.state = initial_point(potential, self.rng, cfg.init_radius, chain_inits(cfg.init, cfg.chains)[chain])
        D = potential.dim
        self.metric = Metric(np.ones(D))
        with np.errstate(all="ignore"):
            self.eps = init_step_size(potential, self.state, 1.0, self.metric, self.rng) if cfg.warmup else 1.0
        self.da = DualAveraging(self.eps, cfg.target_accept)
        self.ends = slow_window_ends(cfg.warmup) if cfg.metric != "unit" else []
        self.start_slow = 75 if cfg.warmup >= 150 else int(0.15 * cfg.warmup)
        self.est = MetricEstimator(D, cfg.metric == "dense")
        self.rows: list = []
        self.draws: list = []
        self.warmup_rows: list = []  # with save_warmup only
        self.warmup_draws: list = []

    @property
    def total(self) -> int:
        return self.cfg.warmup + self.cfg.draws

    @property
    def done(self) -> bool:
        return self.it >= self.total

    @property
    def warming_up(self) -> bool:
        return self.it < self.cfg.warmup

    def step(self) -> tuple[np.ndarray, dict]:
        """One transition (adapting during warmup); returns the position and its statistics."""
        cfg, t0 = self.cfg, time.perf_counter()
        eps_used = self.eps
        with np.errstate(all="ignore"):  # overflow in a diverging trajectory is expected and handled
            self._transition()
        st = self._stats
        it = self.it
        if it < cfg.warmup:
            self.eps = self.da.update(st["accept_stat__"])
            if self.ends and self.start_slow <= it < self.ends[-1]:
                self.est.add(self.state.z)
            if it + 1 in self.ends:
                self.metric = Metric(self.est.estimate())
                self.est.reset()
                with np.errstate(all="ignore"):
                    self.eps = init_step_size(self.potential, self.state, self.eps, self.metric, self.rng)
                self.da = DualAveraging(self.eps, cfg.target_accept)
            if it + 1 == cfg.warmup:
                self.eps = self.da.final
        row = {"lp__": -self.state.U, "stepsize__": eps_used, **st}
        if it >= cfg.warmup:
            self.draws.append(self.state.z)
            self.rows.append(row)
        elif cfg.save_warmup:
            self.warmup_draws.append(self.state.z)
            self.warmup_rows.append(row)
        self.it += 1
        self.wall_s += time.perf_counter() - t0
        return self.state.z, row

    def _transition(self) -> None:
        cfg = self.cfg
        step = self.potential.nuts_tree(self.metric.dense)[0] if cfg.method == "nuts" else None
        if step is not None:
            self._jit_transition(step)
        elif cfg.method == "nuts":
            self.state, self._stats = nuts_transition(self.potential, self.state, self.eps, self.metric, self.rng,
                                                      cfg.max_depth)  # fmt: skip
        else:
            self.state, self._stats = hmc_transition(self.potential, self.state, self.eps, self.metric, self.rng,
                                                     cfg.hmc_steps)  # fmt: skip

    def _jit_transition(self, step) -> None:
        """``nuts_transition`` as numba's ``nuts_jit.nuts_step``: the same random numbers and arithmetic."""
        s, m, args = self.state, self.metric, self.potential.kernel_args
        z, U, g, accept, depth, n, divergent, H0 = step(s.z, s.U, s.grad, self.eps, m.inv, m.chol, self.rng,
                                                        self.cfg.max_depth, 1000.0, args)  # fmt: skip
        self.state = State(z, float(U), g)
        self._stats = {"accept_stat__": float(accept), "treedepth__": int(depth), "n_leapfrog__": int(n),
                       "divergent__": int(divergent), "energy__": float(H0)}  # fmt: skip

    def result(self) -> ChainResult:
        stats, u = self._collect(self.rows, self.draws)
        out = ChainResult(u, stats, self.eps, torch.from_numpy(self.metric.inv), self.wall_s)
        if self.cfg.save_warmup:
            out.warmup_stats, out.warmup_u = self._collect(self.warmup_rows, self.warmup_draws)
        return out

    def _collect(self, rows: list, draws: list) -> tuple[dict, torch.Tensor]:
        stats = {k: torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in STAT_NAMES}
        u = torch.from_numpy(np.stack(draws)) if draws else torch.zeros(0, self.potential.dim)
        return stats, u

    def state_dict(self) -> dict:
        return {"seed": self.seed, "it": self.it, "wall_s": self.wall_s, "rng": self.rng.bit_generator.state,
                "z": self.state.z, "U": self.state.U, "grad": self.state.grad, "eps": self.eps,
                "inv_metric": self.metric.inv, "da": dict(vars(self.da)), "est": dict(vars(self.est)),
                "rows": self.rows, "draws": self.draws, "warmup_rows": self.warmup_rows,
                "warmup_draws": self.warmup_draws}  # fmt: skip

    def load_state_dict(self, sd: dict) -> None:
        self.seed, self.it, self.wall_s = sd["seed"], sd["it"], sd["wall_s"]
        self.rng.bit_generator.state = sd["rng"]
        self.state = State(sd["z"], sd["U"], sd["grad"])
        self.eps, self.metric = sd["eps"], Metric(sd["inv_metric"])
        self.da.__dict__.update(sd["da"])
        self.est.__dict__.update(sd["est"])
        self.rows, self.draws = list(sd["rows"]), list(sd["draws"])
        self.warmup_rows, self.warmup_draws = list(sd.get("warmup_rows", ())), list(sd.get("warmup_draws", ()))


def chain_seed(cfg, c: int) -> int:
    """The seed of chain ``c`` (independent streams per chain; the same for any number of cores)."""
    return cfg.seed * 1000 + c


def _checkpoint_path(run, c: int):
    return run / "checkpoints" / f"chain-{c + 1}.pt"


def _drive(potential, cfg, c: int, run=None, resume: bool = False, every_s: float = 10.0, report=None):
    """Run chain ``c`` to the end, checkpointing into ``run`` every ``every_s`` seconds."""
    from zsdsl.runtime.checkpoint import load_latest_or_previous, save_keeping_previous, to_numpy

    before = dict(potential.rejections)  # chains run one after another share the potential
    chain = Chain(potential, cfg, chain_seed(cfg, c), c)
    path = _checkpoint_path(run, c) if run is not None else None
    if resume and path is not None:
        found = load_latest_or_previous(path)  # (a truncated latest falls back to the previous one)
        if found is not None:
            chain.load_state_dict(to_numpy(found))
    last = time.perf_counter()
    while not chain.done:
        chain.step()
        now = time.perf_counter()
        if path is not None and (now - last > every_s or chain.done):
            save_keeping_previous(chain.state_dict(), path)
            last = now
        if report is not None and (chain.it % 10 == 0 or chain.done):
            # the step size and tree depth too: a chain crawling at depth 10 with a tiny step says so
            report(c, chain.it, float(chain.eps), chain._stats.get("treedepth__"))
    result = chain.result()
    result.rejections = {k: v - before.get(k, 0) for k, v in potential.rejections.items() if v > before.get(k, 0)}
    return result


_JOB: dict = {}


def _worker_init() -> None:
    torch.set_num_threads(1)
    try:  # Linux: a worker dies with the process that forked it (e.g. a killed `zsdsl sample`)
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(c: int):
    job = _JOB
    queue = job["queue"]
    report = (lambda *args: queue.put(args)) if queue is not None else None
    return _drive(job["potential"], job["cfg"], c, job["run"], job["resume"], job["every_s"], report)


def _cores(cfg: SamplerConfig) -> int:
    if cfg.cores is not None:
        return min(cfg.cores, cfg.chains)
    return max(1, min(cfg.chains, os.cpu_count() or 1))


def sample(model, data: dict, cfg: SamplerConfig, progress=None, run=None, resume: bool = False,
           checkpoint_every_s: float = 10.0) -> MCMCResult:  # fmt: skip
    """Run ``cfg.chains`` chains (seeds ``seed*1000 + k``) of NUTS or HMC on the model's posterior.

    ``progress(chain, iterations_done, step_size, tree_depth)`` is called as chains advance (the last
    transition's tree depth; None for HMC). With ``run`` (a directory)
    each chain's state is checkpointed there atomically; ``resume`` continues from those files.
    """
    cfg.validate()
    tune_allocator()
    potential = Potential(model, data)
    if potential.dim == 0:
        raise ModelError("The model has no continuous latents to sample.")
    result = MCMCResult(potential, config=cfg)
    if cfg.chain_method == "vectorized":
        result.chains.extend(_vectorized(model, data, potential, cfg, progress, run, resume, checkpoint_every_s))
        return result
    cores = _cores(cfg)
    if cfg.compile:
        # Compiled kernels keep the thread count they were built with: one per process when the
        # chains run in parallel processes, or they oversubscribe the cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1 if cores > 1 else threads)
        try:
            potential.compile()
        finally:
            torch.set_num_threads(threads)
    _ = potential.backend  # the NumPy gradient is checked once here, before chains fork
    if cfg.method == "nuts":
        potential.nuts_tree(cfg.metric == "dense")  # and NUTS compiled with numba's kernel, where it runs
    if cores > 1 and "fork" in mp.get_all_start_methods():
        result.chains.extend(_parallel(potential, cfg, cores, progress, run, resume, checkpoint_every_s))
    else:
        for c in range(cfg.chains):
            result.chains.append(_drive(potential, cfg, c, run, resume, checkpoint_every_s, progress))
    return result


def _vectorized(model, data, potential, cfg, progress, run, resume, every_s) -> list:
    """All chains in one batch (``vectorized.run_vectorized``), on ``cfg.device``: on a GPU the sampling
    uses a copy of the model and data moved there once; the initial points and outputs stay on the CPU."""
    from zsdsl.runtime.mcmc.vectorized import REASON, run_vectorized

    potential.batched_reason = REASON
    sampling = potential
    if cfg.device != "cpu":
        import copy

        device = torch.device(cfg.device)
        moved = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.items()}
        with device:
            sampling = Potential(copy.deepcopy(model).to(device), moved, sites=potential.sites)
    import contextlib

    # (on a GPU, tensors the model makes go there too; on the CPU the device mode would only cost time)
    with torch.device(cfg.device) if cfg.device != "cpu" else contextlib.nullcontext():
        return run_vectorized(potential, cfg, lambda c: chain_seed(cfg, c), run, resume, every_s, progress,
                              sampling=sampling)  # fmt: skip


def _parallel(potential, cfg, cores, progress, run, resume, every_s) -> list:
    """The chains over ``cores`` forked processes (the compiled model is inherited, not pickled)."""
    ctx = mp.get_context("fork")
    queue = ctx.SimpleQueue() if progress is not None else None
    _JOB.update(potential=potential, cfg=cfg, run=run, resume=resume, every_s=every_s, queue=queue)
    try:
        with ctx.Pool(cores, initializer=_worker_init) as pool:
            pending = [pool.apply_async(_worker, (c,)) for c in range(cfg.chains)]
            while not all(p.ready() for p in pending):
                while queue is not None and not queue.empty():
                    progress(*queue.get())
                time.sleep(0.05)
            while queue is not None and not queue.empty():
                progress(*queue.get())
            return [p.get() for p in pending]
    finally:
        _JOB.clear()
