"""Initial points of NUTS/HMC chains: uniform on the unconstrained scale, or values the user gives.

``initial_point(potential, rng, radius, given)`` draws each coordinate of the unconstrained vector from
U(-radius, radius), as Stan does, and then puts the latents named in ``given`` (constrained values, as
Stan's ``init``: a mapping from latent name to a number or nested list of its shape) at those values,
mapped through their bijectors. ``chain_inits(init, chains)`` turns ``SamplerConfig.init`` (one mapping
for every chain, or a list of one per chain) into each chain's mapping. Bad values are refused with
the latent's name and what was expected; a point whose log density is not finite is refused.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from zsdsl.errors import NumericalError, OptionError


def chain_inits(init, chains: int) -> list[dict | None]:
    """Each chain's initial values (None: drawn at random)."""
    if init is None:
        return [None] * chains
    if isinstance(init, dict):
        return [init] * chains
    if isinstance(init, (list, tuple)):
        if len(init) != chains or not all(isinstance(x, dict) for x in init):
            raise OptionError(f"--init gives a list of {len(init)} entries; give one mapping of latent names to "
                              f"values for every chain ({chains}), or one mapping for all of them.")  # fmt: skip
        return list(init)
    raise OptionError(f"--init must map latent names to values (or be a list of such mappings, one per chain), "
                      f"not a {type(init).__name__}.")  # fmt: skip


def initial_point(potential, rng, radius: float, given: dict | None = None, tries: int = 100):
    """(z, U, grad) at the first point with a finite log density and gradient."""
    from zsdsl.runtime.mcmc.nuts import State

    for _ in range(tries):
        z = rng.uniform(-radius, radius, potential.dim)
        if given:
            _place(potential, z, given)
        U, grad = potential.value_and_grad_np(z)
        if math.isfinite(U) and np.isfinite(grad).all():
            return State(z, U, grad)
        if given and len(given) == len(potential.slots):
            raise NumericalError("The log density or its gradient is not finite at the initial values --init gives; "
                                 "choose other values.")  # fmt: skip
    raise NumericalError(
        f"Could not find an initial point with a finite log density in {tries} tries (uniform(-{radius}, {radius}) on "
        "the unconstrained scale); check the model and data."
    )


def _place(potential, z: np.ndarray, given: dict) -> None:
    slots = {s.name: (s, shape, offset, size) for s, shape, offset, size in potential.slots}
    for name, value in given.items():
        if name not in slots:
            raise OptionError(f"--init gives '{name}', which is not a continuous latent of the model; its latents: "
                              f"{', '.join(slots) or 'none'}.")  # fmt: skip
        site, shape, offset, size = slots[name]
        try:
            x = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError):
            raise OptionError(f"--init gives '{name}' = {value!r}; expected numbers.") from None
        if tuple(x.shape) != tuple(site.shape):
            raise OptionError(f"--init gives '{name}' of shape {list(x.shape)}; the latent has shape "
                              f"{list(site.shape)}.")  # fmt: skip
        u = site.bijector.inverse(x)
        if not torch.isfinite(u).all():
            raise OptionError(f"--init gives '{name}' = {value!r}, outside its support ({site.support}).")
        z[offset : offset + size] = u.reshape(-1).numpy()
