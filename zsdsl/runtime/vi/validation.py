"""Held-out validation during a variational fit: scores, the best parameters and early stopping.

Every ``every`` steps the current model and guide are scored on the validation data with
``evaluate``: for models whose latents are local to plates (VAE, SBN) the mean per-element
importance-sampled log-likelihood with K particles (K=1: the ELBO); for models with global
latents (BNN) the mean predictive log-likelihood per observed element, summed over observed
sites. The draws come from a fixed seed, the same at every validation (common random
numbers, so successive scores differ by the fit, not by Monte Carlo noise), inside
``fork_rng`` so the training random stream is untouched: a fit with validation follows the
same trajectory as one without.

The parameters with the best score are kept (in memory, in the checkpoints for exact resume
and in ``checkpoints/best.pt`` for ``zsdsl evaluate``). With ``patience`` the fit stops once
that many validations in a row have not improved on the best (early stopping).
"""

from __future__ import annotations

import copy
import math

import torch

from zsdsl.runtime.checkpoint import MetricsLog, atomic_save
from zsdsl.runtime.vi.evaluate import evaluate
from zsdsl.runtime.vi.guides import make_guide

VALID_FIELDS = ("step", "epoch", "valid", "best", "best_step", "wall_s")


def validation_due(step: int, total: int, every: int) -> bool:
    """Whether a fit validated every ``every`` steps scores at ``step`` (and always at the last)."""
    return step % every == 0 or step == total


class Validator:
    def __init__(self, compiled, data: dict, config, every: int, run=None, resume_step: int | None = None):
        self.data = data
        # copies to load the fit's states into; their initial draws stay out of the fit's random stream
        with torch.random.fork_rng(devices=[]):
            self.model = compiled.model(data, init_params=False)
            self.guide = make_guide(
                compiled, self.model, data, config.guide, config.init, config.init_scale, init_params=False
            )
        self.every = every
        self.patience = config.early_stop
        self.particles = config.valid_particles
        self.seed = config.seed + 104729
        self.run = run
        self.best, self.best_step, self.bad = -math.inf, 0, 0
        self.best_state = None
        self.records: list = []
        self.log = None
        if run is not None:
            self.log = MetricsLog(run / "valid.csv", resume_step=resume_step, fields=VALID_FIELDS)

    def due(self, step: int, total: int) -> bool:
        return validation_due(step, total, self.every)

    @torch.no_grad()
    def score(self, model, guide) -> float:
        """The validation score of ``model`` and ``guide`` (higher is better)."""
        self.model.load_state_dict(model.state_dict())
        self.guide.load_state_dict(guide.state_dict())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            result = evaluate(self.model.eval(), self.guide.eval(), self.data, particles=self.particles, batch=500)
        if result["kind"] == "marginal_likelihood":
            return result["log_likelihood"]
        return sum(v["log_likelihood"] for v in result.values() if isinstance(v, dict))

    def update(self, step: int, epoch: int, model, guide, wall: float) -> bool:
        """Score the fit at ``step``; keep it if best; True when the fit should stop."""
        value = self.score(model, guide)
        if value > self.best:
            self.best, self.best_step, self.bad = value, step, 0
            self.best_state = {"model": copy.deepcopy(model.state_dict()), "guide": copy.deepcopy(guide.state_dict())}
            self.save_best()
        else:
            self.bad += 1
        self.records.append((step, epoch, value))
        if self.log is not None:
            self.log.append(step, epoch, f"{value:.6g}", f"{self.best:.6g}", self.best_step, f"{wall:.3f}")
        return self.stopped

    @property
    def stopped(self) -> bool:
        """Whether the last ``patience`` validations all failed to improve on the best."""
        return self.patience is not None and self.bad >= self.patience

    def save_best(self) -> None:
        """Write the best parameters to ``checkpoints/best.pt`` (atomically)."""
        if self.run is not None and self.best_state is not None:
            record = {"step": self.best_step, "valid": self.best, **self.best_state}
            atomic_save(record, self.run / "checkpoints" / "best.pt")

    def restore_best(self, model, guide) -> None:
        """Load the best-scoring parameters into ``model`` and ``guide`` (if any validation ran)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state["model"])
            guide.load_state_dict(self.best_state["guide"])

    def state_dict(self) -> dict:
        keys = ("best", "best_step", "bad", "best_state", "records")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict) -> None:
        for key in ("best", "best_step", "bad", "best_state"):
            setattr(self, key, state[key])
        self.records = list(state["records"])
