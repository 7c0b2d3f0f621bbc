"""The variational training loop: minibatches over subsampled plates, optimizer steps,
metrics, atomic checkpoints and exact resume.

``fit(compiled, data, FitConfig, run=...)`` is deterministic for a given seed: a run
interrupted after any checkpoint and resumed ends with the same parameters as an
uninterrupted one (all RNG states and the minibatch order are checkpointed).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from zsdsl.errors import ModelError, NumericalError, OptionError, RunDirError
from zsdsl.runtime.checkpoint import (
    MetricsLog,
    checkpoints,
    load_newest,
    read_config,
    save_checkpoint,
    write_config,
)
from zsdsl.runtime.devices import autocast, check_precision, grad_scaler, resolve_device
from zsdsl.runtime.distributed import LossModule, check_shardable, current, ddp
from zsdsl.runtime.lib.plates import subsampled_plates
from zsdsl.runtime.mapped import settle_mapped
from zsdsl.runtime.progress import FitProgress
from zsdsl.runtime.tuning import tune_allocator
from zsdsl.runtime.vi.guides import INITS, make_guide
from zsdsl.runtime.vi.objectives import OBJECTIVES, SIGNALS, make_objective
from zsdsl.runtime.vi.validation import Validator, validation_due

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
              "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}  # fmt: skip


SCHEDULES = {
    "constant": lambda frac: 1.0,
    "cosine": lambda frac: 0.5 * (1 + math.cos(math.pi * frac)),
    "exponential": lambda frac: 0.01**frac,
}


@dataclass
class FitConfig:
    infer: str = "sgvb"
    guide: str = "auto-normal"
    particles: int | None = None
    steps: int | None = None
    epochs: int | None = None
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"  # constant | cosine | exponential (to 1% of lr)
    seed: int = 0
    clip: float | None = None
    checkpoint_every: int = 500
    keep: int = 3
    log_every: int = 10
    device: str = "cpu"  # cpu, cuda, cuda:N or auto (resolved by validate: the device the run used)
    precision: str = "fp32"  # fp32, or bf16/fp16 for the nets (autocast; fp16 with loss scaling)
    analytic_kl: bool = False  # sgvb: closed-form KL(q || p) where the guide/prior pair has one
    baseline: str = "moving"  # nvil: moving | learned (an MLP of the element's observed data)
    signals: str = "downstream"  # nvil, sgvb: each discrete site's learning signal, its downstream terms or all
    init: str = "zero"  # automatic guides' starting locations: zero | uniform | sample (see guides.INITS)
    init_scale: float = 0.1  # automatic Gaussian guides' starting standard deviation (unconstrained scale)
    valid: str = ""  # validation data (path or PATH:SPLIT) when the fit is validated
    valid_every: int | None = None  # steps between validations (default: one epoch)
    valid_particles: int = 1  # importance samples (local latents; 1 = the ELBO) or predictive draws
    early_stop: int | None = None  # stop after this many validations without a new best
    anneal: int | None = None  # sgvb: weight the latent terms by min(1, step / anneal) (KL annealing)
    draws: int = 1000  # draws from the fitted guide written to the run (posterior.nc, summary.json); 0: none
    nprocs: int = 1  # data-parallel processes (zsdsl.runtime.distributed); the trajectory does not depend on it
    spec: str = ""
    data: str = ""
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.infer not in OBJECTIVES:
            raise OptionError(f"Unknown inference '{self.infer}'; choose one of {', '.join(OBJECTIVES)}.")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"Unknown schedule '{self.schedule}'; choose one of {', '.join(SCHEDULES)}.")
        if self.infer == "map" and self.guide != "auto-delta":
            raise OptionError("--infer map fits point estimates: use --guide auto-delta (the default for map).")
        if self.init not in INITS:
            raise OptionError(f"Unknown init '{self.init}'; choose one of {', '.join(INITS)}.")
        if not self.init_scale > 0:
            raise OptionError(f"--init-scale must be positive, not {self.init_scale}.")
        if self.baseline not in ("moving", "learned"):
            raise OptionError(f"Unknown baseline '{self.baseline}'; use moving or learned.")
        if self.signals not in SIGNALS:
            raise OptionError(f"Unknown learning signals '{self.signals}'; use {' or '.join(SIGNALS)}.")
        if self.draws < 0:
            raise OptionError(f"--draws (from the fitted guide) must be at least 0, not {self.draws}.")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"Unknown optimizer '{self.optimizer}'; choose one of {', '.join(OPTIMIZERS)}.")
        if self.nprocs < 1:
            raise OptionError(f"--nprocs must be at least 1, not {self.nprocs}.")
        if self.steps is not None and self.epochs is not None:
            raise OptionError("Give either --steps or --epochs, not both.")
        for name in ("steps", "epochs", "particles", "valid_every", "valid_particles", "early_stop", "anneal", "keep"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise OptionError(f"--{name.replace('_', '-')} must be at least 1.")
        if self.lr <= 0:
            raise OptionError("--lr must be positive.")
        if self.infer == "vimco" and self.particles is not None and self.particles < 2:
            raise OptionError(f"--infer vimco needs --particles of at least 2 (its baselines leave one out), "
                              f"not {self.particles}.")  # fmt: skip
        if self.clip is not None and not self.clip > 0:
            raise OptionError(f"--clip must be positive, not {self.clip}.")
        if self.checkpoint_every < 1:
            raise OptionError("--checkpoint-every must be at least 1.")
        self.device = resolve_device(self.device)
        check_precision(self.precision)


class MinibatchSampler:
    """Shuffled minibatch indices for each subsampled plate; an epoch is one pass of the largest."""

    def __init__(self, sizes: dict, batch: dict, seed: int):
        self.plates = {p: (int(sizes[p]), b) for p, b in subsampled_plates(sizes, batch).items()}
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.perm: dict = {}
        self.pos: dict = {}
        self.last = None  # the latest minibatch (for diagnosing a non-finite step)
        largest = max((n / b for n, b in self.plates.values()), default=1.0)
        self.steps_per_epoch = max(1, math.ceil(largest))

    def next(self):
        if not self.plates:
            return None
        out = {}
        for p, (n, b) in self.plates.items():
            if p not in self.perm or self.pos[p] + b > n:  # (drawn on the CPU, where the generator is)
                self.perm[p], self.pos[p] = torch.randperm(n, generator=self.gen, device="cpu"), 0
            out[p] = self.perm[p][self.pos[p] : self.pos[p] + b].to(torch.get_default_device())
            self.pos[p] += b
        self.last = out
        return out

    def state(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": dict(self.perm), "pos": dict(self.pos)}

    def load(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm, self.pos = dict(state["perm"]), dict(state["pos"])


@dataclass
class FitResult:
    model: torch.nn.Module
    guide: torch.nn.Module
    history: list
    run: Path | None
    config: FitConfig
    validation: list = field(default_factory=list)  # (step, epoch, score) when validated
    best_step: int | None = None  # the step whose parameters the result holds, when validated
    stopped_step: int | None = None  # where early stopping ended the fit
    data: dict | None = None  # the prepared data the fit used
    points: int = 1  # data points the per-point bound divides by (``data_points``)
    rank: int = 0  # this process's rank in a data-parallel run (only rank 0's result is written)

    _posterior: tuple | None = field(default=None, repr=False)

    @property
    def final_objective(self) -> float:
        """The last logged value of the bound (``bound_name``: the ELBO for sgvb), over all the data."""
        return self.history[-1][2] if self.history else float("nan")

    @property
    def bound_name(self) -> str:
        """What ``final_objective`` is: ``elbo``, ``iwae_bound`` or ``log_joint`` (map)."""
        return bound_name(self.config.infer)

    def posterior(self, draws: int | None = None, seed: int | None = None):
        """(``Derived``, diagnostic): ``draws`` from the fitted guide (default: the config's) with the
        deterministics, generated quantities, predictive and log-likelihood, and the Pareto k̂ of the
        importance weights (``zsdsl.runtime.vi.draws``); computed once for the config's draws."""
        from zsdsl.runtime.vi.draws import guide_posterior

        default = draws is None and seed is None
        if default and self._posterior is not None:
            return self._posterior
        n = self.config.draws if draws is None else draws
        if n < 1:
            raise OptionError(f"Draws from the guide must be at least 1, not {n}.")
        found = guide_posterior(self.model, self.guide, self.data, n, self.config.seed + 1 if seed is None else seed)
        if default:
            self._posterior = found
        return found

    def summary(self) -> dict:
        """Mean, sd, 5 %, 50 %, 95 % per scalar of the guide's draws (deterministics and generated
        quantities included), 0-based labels."""
        from zsdsl.runtime.posterior import flat_columns, summarize_draws

        return summarize_draws(flat_columns(self.posterior()[0].reported()))

    def to_inference_data(self):
        """ArviZ ``InferenceData`` of the guide's draws (one chain), with the same groups as MCMC's."""
        from zsdsl.runtime.posterior import inference_data

        return inference_data(self.model, self.data, self.posterior()[0])


def fit(compiled, data: dict, config: FitConfig, run: Path | None = None, resume: bool = False, progress=None,
        valid: dict | None = None):  # fmt: skip
    """Fit a guide (and the model's params and nets) by stochastic optimisation of the objective.

    Everything is created on ``config.device`` (the default device while fitting); the data
    tensors are moved there once. With ``valid`` (prepared held-out data) the fit is scored on
    it every ``config.valid_every`` steps (see ``validation``), stops early after
    ``config.early_stop`` validations without improvement, and returns the best parameters.
    """
    config.validate()
    if config.early_stop is not None and valid is None:
        raise OptionError("--early-stop needs validation data (--valid).")
    tune_allocator()
    device = torch.device(config.device)
    if current() is not None and device.type == "cuda":  # one GPU a process: the launcher's local rank
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    data = _on(device, data)
    valid = _on(device, valid) if valid is not None else None
    with device:
        return _fit(compiled, data, config, run, resume, progress, valid)


def _on(device, data: dict) -> dict:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.items()}


# What each objective's reported value is (the metrics column and the printed line name it).
BOUND_NAMES = {"sgvb": "elbo", "nvil": "elbo", "iwae": "iwae_bound", "vimco": "iwae_bound", "rws": "iwae_bound",
               "map": "log_joint"}  # fmt: skip


def bound_name(infer: str) -> str:
    return BOUND_NAMES.get(infer, "objective")


def data_points(model) -> int:
    """The number of data points a bound is divided by for its per-point value: the elements of the
    largest plate an observed site is in (images, rows, ratings); 1 for a model without plates."""
    sizes = model.plate_sizes()
    counts = [math.prod(int(sizes[p]) for p in model.term_plates.get(o, ())) for o in model.observed]
    return max(counts, default=1) or 1


def _fit(compiled, data, config, run, resume, progress, valid):
    if resume and run is not None and (run / "config.json").exists():
        # the objective's saved state has the shape of the signals the run started with
        config = dataclasses.replace(config, signals=read_config(run).get("signals", "joint"))
    torch.manual_seed(config.seed)
    model = compiled.model(data)
    data = settle_mapped(model, data)
    guide = make_guide(compiled, model, data, config.guide, config.init, config.init_scale)
    objective = make_objective(config.infer, config.particles, config.analytic_kl, config.baseline, config.anneal,
                               config.signals)  # fmt: skip
    objective.bind(model.sites(data), guide)
    objective.prepare(model, data)
    params = unique_params(model, guide) + objective.parameters()
    if not params:
        raise ModelError("Nothing to fit: the model has no latents, params or nets.")
    group = current()
    if group is not None:
        check_shardable(model, group.world)
        if config.infer in ("iwae", "vimco", "rws") and objective.local_plate is None:
            raise OptionError(f"--infer {config.infer} over several processes needs every latent local to one "
                              "subsampled plate: with global latents its bound couples the whole minibatch "
                              "(use sgvb or nvil, or one process).")  # fmt: skip
        objective.average = group.mean  # statistics over the minibatch (nvil's) average over the shards
    opt = OPTIMIZERS[config.optimizer](params, lr=config.lr)
    sampler = MinibatchSampler(model.plate_sizes(), model.plate_subsample, config.seed)
    total = config.steps if config.steps is not None else (config.epochs or 1) * sampler.steps_per_epoch
    if config.steps is None and config.epochs is None:
        total = 1000
    factor = SCHEDULES[config.schedule]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: factor(min(s / total, 1.0)))
    start, history, valid_state = 0, [], None
    if run is not None:
        run.mkdir(parents=True, exist_ok=True)
    if resume:  # rank 0 reads the checkpoint; every process continues from it
        state = _load_state(run) if run is not None else None
        state = group.broadcast(state) if group is not None else state
        if state is not None:
            start, history, valid_state = _apply_state(state, model, guide, opt, sampler, sched, objective)
    validator = None
    every = (config.valid_every or sampler.steps_per_epoch) if valid is not None else None
    if valid is not None and (group is None or group.main):
        validator = Validator(compiled, valid, config, every, run, resume_step=start if resume else None)
        if resume and valid_state:
            validator.load_state_dict(valid_state)
    if run is not None:
        sites = model.sites(data)
        write_config(run, {**dataclasses.asdict(config), "total_steps": total,
                           "estimators": objective.estimators(sites)})  # fmt: skip
        name = bound_name(config.infer)
        log = MetricsLog(run / "metrics.csv", resume_step=start if resume else None,
                         fields=("step", "epoch", name, f"{name}_per_point", "wall_s"))  # fmt: skip
    points = data_points(model)
    show = sys.stderr.isatty() if progress is None else progress  # True/False, or a factory (the CLI's)
    if group is not None and not group.main:
        show = False
    t0 = time.perf_counter()
    label = bound_name(config.infer).replace("_", " ")
    if not callable(show):  # the Python API: a bar (on a terminal by default), no plain progress lines
        show = FitProgress(label, live=bool(show), log=False)
    bar = show(total, start, points)
    stopped = validator is not None and validator.stopped  # a resumed run that had stopped early
    validated = group is not None and valid is not None  # rank 0 validates; every process stops with it
    stopped = group.broadcast(stopped) if validated else stopped
    last = start if stopped else total
    loss_fn = ddp(LossModule(objective, model, guide, data)) if group is not None else None
    scaler = grad_scaler(config.precision, config.device)
    try:
        for step in range(start + 1, last + 1):
            if config.anneal:
                objective.set_step(step)
            batch = sampler.next()
            with autocast(config.precision, config.device):
                bound = training_step(objective, model, guide, data, group.shard(batch) if group else batch, opt,
                                      params, config.clip, loss_fn, scaler)  # fmt: skip
            bound = group.mean(bound) if group is not None else bound
            _schedule(sched, scaler)
            epoch = (step - 1) // sampler.steps_per_epoch
            value = float(bound)
            if not math.isfinite(value):
                raise _nonfinite(value, step, model, guide, data, sampler)
            if validator is not None and validator.due(step, total):
                stopped = validator.update(step, epoch, model, guide, time.perf_counter() - t0)
            if validated and validation_due(step, total, every):  # rank 0's decision, where it can change
                stopped = group.broadcast(stopped)
            if step % config.log_every == 0 or step == total or stopped:
                history.append((step, epoch, value, time.perf_counter() - t0))
                if run is not None:
                    log.append(step, epoch, f"{value:.6g}", f"{value / points:.6g}", f"{time.perf_counter() - t0:.3f}")
            bar.update(step, value)
            if run is not None and (step % config.checkpoint_every == 0 or step == total or stopped):
                _save(run, step, model, guide, opt, sampler, sched, objective, history, config.keep, validator)
            if stopped:
                break
    finally:
        bar.close()
    result = FitResult(model, guide, history, run, config, data=data, points=points,
                       rank=group.rank if group is not None else 0)  # fmt: skip
    if validator is not None:
        validator.save_best()  # (again: a resumed run may not have re-reached its best)
        validator.restore_best(model, guide)
        result.validation, result.best_step = list(validator.records), validator.best_step
        result.stopped_step = validator.records[-1][0] if validator.stopped else None
    return result


def _schedule(sched, scaler) -> None:
    if scaler is None:
        sched.step()
        return
    with warnings.catch_warnings():  # fp16's scaler skips the steps whose gradients overflowed (by design)
        warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()` before"))
        sched.step()


def _nonfinite(value, step, model, guide, data, sampler) -> Exception:
    """The error for a non-finite objective: a density argument out of its support where one is found;
    the step size only when the parameters themselves diverged or nothing else explains it."""
    from zsdsl.runtime.diagnose import explain_fit, nonfinite_parameters

    bad = nonfinite_parameters(model, guide)
    if bad:
        return NumericalError(f"The parameters became non-finite at step {step} ({', '.join(bad[:3])}); the steps "
                              "diverged: try a smaller --lr or --clip.")  # fmt: skip
    found = explain_fit(model, guide, data, sampler.last, step)
    if found is not None:
        return found
    return NumericalError(
        f"The objective became {value} at step {step} with finite parameters and no density argument out of "
        "its support on fresh draws; try a smaller --lr or more --particles."
    )


def training_step(objective, model, guide, data, subsample, opt, params, clip=None, loss_fn=None,
                  scaler=None) -> torch.Tensor:  # fmt: skip
    """One optimizer step on the objective's surrogate loss; returns the (detached) bound. ``loss_fn``
    (a DDP-wrapped ``LossModule``) computes the loss in a data-parallel run; ``scaler`` scales an fp16 loss."""
    if loss_fn is not None:
        loss, bound = loss_fn(subsample)
    else:
        loss, bound = objective.loss(model, guide, data, subsample)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return bound
    scaler.scale(loss).backward()
    if clip:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, clip)
    scaler.step(opt)
    scaler.update()
    return bound


def unique_params(*modules):
    seen, out = set(), []
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def _save(run, step, model, guide, opt, sampler, sched, objective, history, keep, validator=None) -> None:
    state = {
        "objective": objective.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "model": model.state_dict(),
        "guide": guide.state_dict(),
        "optimizer": opt.state_dict(),
        "sampler": sampler.state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if torch.get_default_device().type == "cuda" else None,
        "history": history,
        "valid": validator.state_dict() if validator is not None else None,
    }
    save_checkpoint(run, step, state, keep)


def _load_state(run):
    found = load_newest(checkpoints(run), map_location=torch.get_default_device())
    return None if found is None else found[1]


def _apply_state(state, model, guide, opt, sampler, sched, objective):
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    objective.load_state_dict(state["objective"])
    sampler.load(state["sampler"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.get_default_device().type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"].cpu())
    return int(state["step"]), list(state["history"]), state.get("valid")


def resume_config(run: Path) -> FitConfig:
    """The configuration a run was started with."""
    if not (run / "config.json").exists():
        raise RunDirError(f"{run} is not a run directory (no config.json).")
    cfg = read_config(run)
    fields = {f.name for f in dataclasses.fields(FitConfig)}
    return FitConfig(**{k: v for k, v in cfg.items() if k in fields})
