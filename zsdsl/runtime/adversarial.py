"""Adversarial training of an implicit model (``x[n] ~ Implicit(G(z[n]))``) against a ``critic`` block.

- ``gan``: Goodfellow et al. 2014 with the non-saturating generator loss: the critic's score is a logit,
  ``loss_D = softplus(-D(x)) + softplus(D(G(z)))`` and ``loss_G = softplus(-D(G(z)))``, averaged over
  the minibatch; Adam (0.5, 0.999) as in DCGAN (Radford et al. 2016), one critic step per step.
- ``wgan-gp``: Gulrajani et al. 2017: ``loss_D = D(G(z)) - D(x) + λ (‖∇D(x̂)‖ - 1)²`` at random points
  x̂ between real and generated values, ``loss_G = -D(G(z))``; Adam (0, 0.9), five critic steps per step.

Each critic step takes a new minibatch of the implicit site's plate (a new permutation each pass over
it); ``epochs`` E means E × N/B generator steps, so the critic passes over the data critic_steps × E
times; the generator step reuses the last one's indices for the other data
its plate reads. Model and critic have their own optimizers and learning rates. The run directory
holds ``config.json``, ``metrics.csv`` (losses and mean scores), checkpoints (both states, both
optimizers and the random streams: a resumed run gives the draws an uninterrupted one would) and,
for an image-like site (an event of H × W values, ``image_shape``), ``samples/step-N.png`` grids of
draws from fixed noise, one an epoch and one at the end.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from zsdsl.errors import OptionError
from zsdsl.runtime.adversarial_loop import train
from zsdsl.runtime.rundir import apply_resume_changes, check_resume, create_run, kept_if_used, open_run, spec_text

ADVERSARIAL = ("gan", "wgan-gp")
RESUME_CHANGEABLE = ("steps", "epochs", "checkpoint_every", "keep", "log_every", "grid_every")


@dataclasses.dataclass
class AdversarialConfig:
    infer: str
    critic: str
    spec: str = ""
    data: str = ""
    steps: int | None = None
    epochs: int | None = None
    lr: float = 2e-4
    critic_lr: float | None = None  # default: lr
    betas: tuple | None = None  # default: (0.5, 0.999) for gan, (0.0, 0.9) for wgan-gp
    critic_steps: int | None = None  # default: 1 for gan, 5 for wgan-gp
    gp_weight: float = 10.0
    seed: int = 0
    checkpoint_every: int = 500
    keep: int = 3
    log_every: int = 50
    grid_every: int | None = None  # steps between sample grids (default: one epoch)
    image_shape: tuple | None = None  # H, W of one draw (default: a square event)

    def validate(self) -> None:
        if self.infer not in ADVERSARIAL:
            raise OptionError(f"Unknown adversarial objective '{self.infer}'; choose gan or wgan-gp.")
        self.critic_lr = self.lr if self.critic_lr is None else self.critic_lr
        self.betas = tuple(self.betas or ((0.5, 0.999) if self.infer == "gan" else (0.0, 0.9)))
        self.critic_steps = self.critic_steps or (1 if self.infer == "gan" else 5)
        if self.steps is None and self.epochs is None:
            self.steps = 1000
        checks = {"lr": self.lr, "critic_lr": self.critic_lr, "critic_steps": self.critic_steps,
                  "checkpoint_every": self.checkpoint_every, "keep": self.keep,
                  "log_every": self.log_every}  # fmt: skip
        for name, value in checks.items():
            if not value > 0:
                raise OptionError(f"--{name.replace('_', '-')} must be positive, not {value}.")
        if self.gp_weight < 0:
            raise OptionError(f"--gp-weight must be non-negative, not {self.gp_weight}.")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise OptionError(f"--betas takes two numbers in [0, 1), not {self.betas}.")


def fit_adversarial(compiled, data, infer, critic, out, resume, overwrite, data_label, options: dict):
    """Run (or continue) an adversarial fit; returns the ``AdversarialResult``."""
    progress = options.pop("progress", None)
    known = {f.name for f in dataclasses.fields(AdversarialConfig)} - {"infer", "critic", "spec", "data"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"Option(s) {', '.join(unknown)} do not apply to --infer {infer} (it takes "
                          f"{', '.join(sorted(known))}).")  # fmt: skip
    if not compiled.critic_classes:
        raise OptionError(f"--infer {infer} trains against a critic; {compiled.file} has no `critic NAME:` block.")
    if resume:
        if out is None:
            raise OptionError("resume=True needs the run directory (out=RUN).")
        run = open_run(Path(out), ("gan",), "zsdsl fit --resume continues")
        saved = json.loads((Path(out) / "config.json").read_text())
        config = AdversarialConfig(
            **{
                **saved,
                "betas": tuple(saved["betas"]),
                "image_shape": tuple(saved["image_shape"]) if saved["image_shape"] else None,
            }
        )
        if data is None and not config.data:
            raise OptionError(f"{out} was fitted on data given as a dict; give it again (data=...) to resume.")
        prepared = compiled.load_data(data if data is not None else config.data, data_label)
        given = {k: v for k, v in options.items() if v is not None}
        for note in check_resume(run, spec_text(compiled), prepared, dataclasses.asdict(config), given,
                                 RESUME_CHANGEABLE):  # fmt: skip
            print(f"note: {note}", file=sys.stderr)
        run.lock()
        apply_resume_changes(config, given, RESUME_CHANGEABLE)
    else:
        label = data_label or (str(data) if isinstance(data, str | Path) else "")
        name = critic or next(iter(compiled.critic_classes))
        config = AdversarialConfig(infer=infer, critic=name, spec=compiled.file, data=label, **options)
        config.validate()
        prepared = compiled.load_data(data, data_label)
        run = create_run(Path(out), "gan", compiled.file, spec_text(compiled), label, prepared,
                         overwrite) if out is not None else None  # fmt: skip
    if config.critic not in compiled.critic_classes:
        raise OptionError(f"Unknown critic '{config.critic}'; the spec defines {', '.join(compiled.critic_classes)}.")
    with kept_if_used(run, resume):
        return train(compiled, prepared, config, run.path if run else None, resume, progress)


def refuse_implicit(compiled, what: str) -> None:
    """A model with an implicit site has no likelihood: ``what`` (an engine) cannot use it."""
    implicit = getattr(compiled.model_class, "implicit", ())
    if implicit:
        names = ", ".join(repr(n) for n in implicit)
        hint = " against its critic block" if compiled.critic_classes else " (add a critic block)"
        raise OptionError(f"{what} needs a likelihood, and {names} ~ Implicit(...) has none: fit it with --infer gan "
                          f"or --infer wgan-gp{hint}.")  # fmt: skip
