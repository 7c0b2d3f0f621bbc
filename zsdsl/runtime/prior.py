"""Prior and prior-predictive draws, and ``generate``'s new data.

``prior_draws(model, data, draws, seed)`` draws the latents ancestrally from the prior and derives
from them what a posterior run derives (deterministics, generated quantities, a replicate of every
observed site: the prior predictive); ``zsdsl sample SPEC --prior`` writes them as ``prior.nc``
(ArviZ groups ``prior`` and ``prior_predictive``).

``new_data(model, data, count, latents)`` is ``zsdsl generate``: for a model whose observed data
point owns its latents in a subsampled plate (a VAE, an SBN) ``count`` new data points, their
latents from the prior and the nets as fitted; otherwise ``count`` draws of the observed data set
from the posterior predictive (``latents``: the run's draws), or from the prior predictive when
``latents`` is ``None``.
"""

from __future__ import annotations

import torch

from zsdsl.runtime.posterior import Derived, derive
from zsdsl.runtime.predict import spread


@torch.no_grad()
def prior_draws(model, data: dict, draws: int = 1000, seed: int = 0) -> Derived:
    sites = model.sites(data)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        drawn = model.sample(data, draws)
    latents = {s.name: drawn[s.name][None] for s in sites}
    derived = derive(model, data, latents, seed=seed + 1)
    derived.log_likelihood = {}  # the data's likelihood under prior draws is not a quantity anyone reads
    return derived


def new_points_plates(model, data: dict) -> list[str]:
    """The subsampled plates whose latents are local to them: there, a new data point brings new latents."""
    local = {p for s in model.sites(data) for p in s.plates}
    return [p for p, b in model.plate_subsample.items() if b and p in local]


@torch.no_grad()
def new_data(model, data: dict, count: int, latents: dict | None, seed: int = 0) -> tuple[dict, str]:
    """(draws by site name, what they are in words)."""
    torch.manual_seed(seed)
    plates = new_points_plates(model, data)
    if plates:
        saved = dict(model.dims)
        try:
            for plate in plates:
                model.dims[model.plate_dims[plate]] = count  # a new batch of data points
            drawn = model.sample(data)
        finally:
            model.dims = saved  # the model keeps the sizes of its data
        return drawn, f"new data points (latents local to plate {', '.join(plates)} from their prior)"
    if latents is None:
        return model.sample(data, count), "prior predictive draws of the data set"
    C, S = next(iter(latents.values())).shape[:2]
    keep = spread(C * S, count)
    given = {k: v.reshape(C * S, *v.shape[2:])[keep] for k, v in latents.items()}
    return model.sample(data, count, values=given), "posterior predictive draws of the data set"
