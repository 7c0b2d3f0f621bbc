"""``zsdsl fit --infer gan|wgan-gp``: the adversarial branch of ``zsdsl fit`` (a run of kind "gan")."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zsdsl.errors import OptionError

# the fit command's options that only the adversarial objectives take (refused for the others)
ADVERSARIAL_ONLY = ("critic", "critic_lr", "critic_steps", "gp_weight", "image_shape", "grid_every")


def adversarial_options(f):
    """The click options of ``zsdsl fit`` that configure --infer gan / wgan-gp."""
    opts = [
        click.option("--critic", default=None, help="gan/wgan-gp: the critic block (default: the spec's first)."),
        click.option("--critic-lr", type=float, default=None, help="gan/wgan-gp: the critic's learning rate "
                     "(default: --lr; 2e-4 for both unless given)."),
        click.option("--critic-steps", type=int, default=None,
                     help="gan/wgan-gp: critic steps per generator step (default 1 for gan, 5 for wgan-gp)."),
        click.option("--gp-weight", type=float, default=None, help="wgan-gp: the gradient penalty's weight (10)."),
        click.option("--image-shape", default=None, metavar="HxW",
                     help="gan/wgan-gp: one draw's image shape for the sample grids (default: a square event)."),
        click.option("--grid-every", type=int, default=None, help="gan/wgan-gp: steps between sample grids "
                     "(default: one epoch)."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def is_adversarial_run(resume) -> bool:
    from zsdsl.runtime.rundir import _kind_of

    return resume is not None and _kind_of(Path(resume)) == "gan"


def fit_adversarial_cli(spec, data_path, infer, out, resume, overwrite, options: dict, quiet: bool) -> None:
    from zsdsl.cli.common import interrupt_hint, load_spec
    from zsdsl.runtime.rundir import default_run_path

    if "image_shape" in options:
        options["image_shape"] = _image_shape(options["image_shape"])
    if "gp_weight" in options and infer == "gan":
        raise OptionError("--gp-weight is the gradient penalty of --infer wgan-gp; --infer gan has none.")
    if resume:
        if out:
            raise OptionError("Give --resume RUN or --out RUN, not both.")
        saved = json.loads((Path(resume) / "config.json").read_text())
        spec, infer, run = spec or saved["spec"], saved["infer"], Path(resume)
    elif spec is None:
        raise OptionError("Give a model file to fit, or --resume RUN.")
    else:
        run = Path(out) if out else default_run_path(spec, infer)
    cm = load_spec(spec)
    interrupt_hint(run, "fit", resumable=True)
    result = cm.fit(data_path, infer=infer, out=run, resume=bool(resume), overwrite=overwrite, **options)
    step, epoch, loss_d, loss_g, real, fake = result.history[-1] if result.history else (0, 0, 0, 0, 0, 0)
    click.echo(f"{infer} with critic {result.config.critic}: after {step} steps (epoch {epoch + 1}) the critic's "
               f"loss is {loss_d:.4g} and the generator's {loss_g:.4g}; mean scores real {real:.3g}, generated "
               f"{fake:.3g}; run directory {run}")  # fmt: skip
    if result.grids:
        click.echo(f"samples: {result.grids[-1]} (a grid per epoch in {run / 'samples'})")
    elif not quiet:
        click.echo("samples: no grids (one draw is not a square image; give --image-shape HxW)")
    click.echo(f"next: zsdsl fit --resume {run} --steps N to train on")


def _image_shape(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise OptionError(f"--image-shape takes HxW, e.g. 28x28, not '{text}'.") from None
    return h, w
