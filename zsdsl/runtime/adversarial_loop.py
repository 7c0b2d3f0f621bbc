"""The training loop of ``zsdsl.runtime.adversarial``: alternating critic and generator steps,
metrics, checkpoints (resumable exactly) and sample grids. See that module for the objectives."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from zsdsl.errors import NumericalError, OptionError
from zsdsl.runtime.checkpoint import MetricsLog, checkpoints, load_newest, save_checkpoint, write_config

FIELDS = ("step", "epoch", "loss_critic", "loss_generator", "score_real", "score_fake", "wall_s")


class _Batches:
    """Minibatch indices of one plate: a new permutation every epoch, from its own generator."""

    def __init__(self, n: int, batch: int, seed: int):
        self.n, self.batch = n, min(batch, n)
        self.per_epoch = math.ceil(n / self.batch)
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch, self.pos, self.perm = 0, 0, torch.randperm(n, generator=self.gen)

    def next(self) -> torch.Tensor:
        if self.pos >= self.per_epoch:
            self.epoch, self.pos, self.perm = self.epoch + 1, 0, torch.randperm(self.n, generator=self.gen)
        idx = self.perm[self.pos * self.batch : (self.pos + 1) * self.batch]
        self.pos += 1
        return idx

    def state(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "perm": self.perm, "gen": self.gen.get_state()}

    def load(self, s: dict) -> None:
        self.epoch, self.pos, self.perm = int(s["epoch"]), int(s["pos"]), s["perm"]
        self.gen.set_state(s["gen"])


@dataclasses.dataclass
class AdversarialResult:
    model: torch.nn.Module
    critic: torch.nn.Module
    config: object  # the AdversarialConfig
    history: list  # (step, epoch, loss_critic, loss_generator, score_real, score_fake)
    run: Path | None
    data: dict
    grids: list  # the sample grids written (paths)

    def draw(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` draws of the implicit site from the fitted generator (no gradients)."""
        site, plate = site_and_plate(self.model, self.critic)
        torch.manual_seed(seed)
        with torch.no_grad():  # in chunks: a convolutional generator's activations are large
            return torch.cat(
                [self.model.draw(self.data, {plate: chunk})[site] for chunk in torch.arange(n).split(1000)]
            )


def site_and_plate(model, critic) -> tuple[str, str]:
    """(the implicit site the critic judges, its plate)."""
    site = critic.implicit[0]
    plates = model.term_plates.get(site, ())
    if len(plates) != 1:
        raise OptionError(f"--infer gan/wgan-gp train an implicit site inside one plate; '{site}' is in "
                          f"{len(plates)}.")  # fmt: skip
    return site, plates[0]


def train(compiled, data: dict, config, run: Path | None, resume: bool, progress=None):
    torch.manual_seed(config.seed)
    model = compiled.model(data)
    critic = compiled.critic(config.critic, data)
    site, plate = site_and_plate(model, critic)
    n = int(model.plate_sizes()[plate])
    batch = model.plate_subsample.get(plate) or n
    batches = _Batches(n, batch, config.seed)
    steps = config.steps if config.steps is not None else config.epochs * batches.per_epoch
    opt_g = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.critic_lr, betas=config.betas)
    image = _image_shape(config, data[site])
    fixed = _fixed_noise(model, data, plate, config.seed)
    start, history, grids = 0, [], []
    if resume:
        found = load_newest(checkpoints(run))  # a truncated latest one falls back to the one before, as in VI
        if found is None:
            raise OptionError(f"{run} has no checkpoint to resume from.")
        state = found[1]
        model.load_state_dict(state["model"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_generator"])
        opt_d.load_state_dict(state["opt_critic"])
        batches.load(state["batches"])
        torch.set_rng_state(state["rng"])
        start = int(state["step"])
    if run is not None:
        write_config(run, {**dataclasses.asdict(config), "betas": list(config.betas),
                           "image_shape": list(config.image_shape) if config.image_shape else None})  # fmt: skip
        log = MetricsLog(run / "metrics.csv", start if resume else None, fields=FIELDS)
    grid_every = config.grid_every or batches.per_epoch
    t0 = time.perf_counter()
    real = data[site]
    for step in range(start + 1, steps + 1):
        for _ in range(config.critic_steps):
            idx = batches.next()
            loss_d, s_real, s_fake = _critic_step(config, model, critic, data, site, plate, real, idx)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        fake = model.draw(data, {plate: idx})[site]
        s = critic.score({**data, site: fake}, {plate: torch.arange(len(idx))})
        loss_g = F.softplus(-s).mean() if config.infer == "gan" else -s.mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        row = (step, batches.epoch, loss_d.item(), loss_g.item(), s_real.item(), s_fake.item())
        if not all(math.isfinite(v) for v in row[2:]):
            raise NumericalError(f"The adversarial losses became non-finite at step {step} ({row[2]}, {row[3]}): "
                                 "try a smaller --lr / --critic-lr.")  # fmt: skip
        history.append(row)
        if run is not None:
            if step % config.log_every == 0 or step == steps:
                log.append(*row, round(time.perf_counter() - t0, 3))
            if step % config.checkpoint_every == 0 or step == steps:
                save_checkpoint(run, step, _state(step, model, critic, opt_g, opt_d, batches), config.keep)
            if image is not None and (step % grid_every == 0 or step == steps):
                grids.append(_grid(run, step, model, data, site, plate, fixed, image))
        if progress is not None and progress is not False and hasattr(progress, "update"):
            progress.update(step, steps, row[3])
    return AdversarialResult(model.eval(), critic.eval(), config, history, run, data, grids)


def _critic_step(config, model, critic, data, site, plate, real, idx):
    """(loss, mean real score, mean generated score) of one critic step on minibatch ``idx``."""
    with torch.no_grad():
        fake = model.draw(data, {plate: idx})[site]
    local = {plate: torch.arange(len(idx))}
    x = real[idx].to(fake.dtype)
    s_real = critic.score({**data, site: x}, local)
    s_fake = critic.score({**data, site: fake}, local)
    if config.infer == "gan":
        loss = F.softplus(-s_real).mean() + F.softplus(s_fake).mean()
    else:
        loss = s_fake.mean() - s_real.mean() + config.gp_weight * _gradient_penalty(critic, data, site, x, fake, local)
    return loss, s_real.detach().mean(), s_fake.detach().mean()


def _gradient_penalty(critic, data, site, real, fake, local):
    """E[(‖∇D(x̂)‖ - 1)²] at x̂ = εx + (1-ε)G(z), one ε ~ U(0, 1) per element (Gulrajani et al. 2017)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic.score({**data, site: mixed}, local).sum(), mixed, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(dim=1) - 1) ** 2).mean()  # a scalar site: |∇|


def _state(step, model, critic, opt_g, opt_d, batches) -> dict:
    return {"step": step, "model": model.state_dict(), "critic": critic.state_dict(),
            "opt_generator": opt_g.state_dict(), "opt_critic": opt_d.state_dict(), "batches": batches.state(),
            "rng": torch.get_rng_state()}  # fmt: skip


def _image_shape(config, real) -> tuple | None:
    """(H, W) of one draw for the sample grids: given, or a square event; None: no grids."""
    event = int(math.prod(real.shape[1:]))
    if config.image_shape:
        h, w = config.image_shape
        if h * w != event:
            raise OptionError(f"--image-shape {h}x{w} has {h * w} values; one draw has {event}.")
        return int(h), int(w)
    side = math.isqrt(event)
    return (side, side) if side * side == event and side > 1 else None


def _fixed_noise(model, data, plate, seed: int) -> torch.Tensor:
    """The latents of 64 grid draws, the same at every grid (their progress is comparable)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 12345)
        with torch.no_grad():
            latents = {site.name for site in model.sites(data)}
            return {k: v for k, v in model.draw(data, {plate: torch.arange(64)}).items() if k in latents}


def _grid(run: Path, step, model, data, site, plate, fixed, image) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        x = model._sample(data, (), fixed, {plate: torch.arange(64)})[site]
    h, w = image
    tiles = x.reshape(8, 8, h, w).permute(0, 2, 1, 3).reshape(8 * h, 8 * w).clamp(0, 1).numpy()
    path = run / "samples" / f"step-{step:09d}.png"
    path.parent.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(tiles, cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"64 draws from fixed noise, step {step}", fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
