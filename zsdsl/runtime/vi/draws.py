"""Draws from a fitted guide as a posterior: the VI counterpart of MCMC's chains.

``guide_posterior(model, guide, data, draws, seed)`` draws the latents from the guide (one chain of
``draws``), then derives deterministics, generated quantities, the posterior predictive and the
pointwise log-likelihood as for MCMC (``zsdsl.runtime.posterior.derive``). Its diagnostic is the
Pareto k̂ of the importance weights p(x, z) / q(z) over the draws (PSIS, Yao et al. 2018; NumPyro's
``psis_diagnostic``): below 0.5 the guide is close to the posterior for importance sampling, up to
0.7 usable, above 0.7 the summary's moments are not to be trusted.

A model with latents local to a subsampled plate (a VAE's per-image ``z``) is not drawn: each draw
would be a pass over all the data, for quantities ``zsdsl evaluate`` reports better; a note says so.
A model whose latents, for that many draws, hold more than ``MAX_VALUES`` numbers keeps only the
latents that fit, with a note naming the others; nothing is derived from draws that are not all there.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from zsdsl.runtime.posterior import CHUNK, MAX_VALUES, Derived, derive


@torch.no_grad()
def guide_posterior(model, guide, data: dict, draws: int = 1000, seed: int = 0) -> tuple[Derived, dict]:
    """(derived, diagnostic): ``diagnostic`` holds ``pareto_k`` (or a ``note`` why there is none)."""
    sites = model.sites(data)
    local = [s.name for s in sites if s.subsample_plate]
    if local:  # amortised / minibatch models: a draw is a pass over all the data, for latents nobody reads so
        plate = next(s.subsample_plate for s in sites if s.subsample_plate)
        return Derived(notes=[f"no draws from the guide: {', '.join(local)} are local to the subsampled plate "
                              f"'{plate}' (a draw per data point, a pass over all the data per draw); zsdsl "
                              "evaluate RUN --data D scores such a fit and zsdsl generate draws from it"]), {
            "note": "no Pareto k: the guide was not drawn"}  # fmt: skip
    too_big = [s.name for s in sites if draws * math.prod(s.shape) > MAX_VALUES]
    parts: dict[str, list] = {}
    log_w = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for lo in range(0, draws, CHUNK):
            n = min(CHUNK, draws - lo)
            values, log_q, _ = guide.sample_and_log_prob(data, (n,))
            if not too_big:
                log_w.append(model.log_joint(values, data) - log_q)
            for name, v in values.items():
                if name not in too_big:
                    parts.setdefault(name, []).append(v.detach().cpu())
    latents = {k: torch.cat(v)[None] for k, v in parts.items()}  # one chain
    if too_big:
        derived = Derived(posterior={k: v.double().numpy() for k, v in latents.items()})
        derived.notes.append(f"{', '.join(too_big)} left out of the draws ({draws} draws would hold more than "
                             f"{MAX_VALUES:,} numbers); so are deterministics, generated quantities, the predictive "
                             "and the log-likelihood, which need every latent")  # fmt: skip
        return derived, {"note": "no Pareto k: not every latent was drawn"}
    derived = derive(model, data, latents, seed=seed + 1)
    return derived, pareto_k(torch.cat(log_w).double().cpu().numpy())


def pareto_k(log_weights: np.ndarray) -> dict:
    """The Pareto k̂ of the importance weights (ArviZ's PSIS) and what it means."""
    import arviz as az

    if not np.isfinite(log_weights).all():
        return {"pareto_k": float("inf"), "meaning": "some importance weights are not finite"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns for k > 0.7; the meaning below says it
        _, k = az.psislw(log_weights - log_weights.max())
    k = float(np.asarray(k).reshape(-1)[0])
    if k < 0.5:
        meaning = "good: the guide is close to the posterior"
    elif k < 0.7:
        meaning = "fair: usable, with more variance than the draws suggest"
    else:
        meaning = "poor: the guide misses the posterior; moments and intervals may be off"
    return {"pareto_k": k, "meaning": meaning}


def write_vi_outputs(result, run) -> dict:
    """``posterior.nc`` (the guide's draws and all that follows from them), ``summary.json`` (mean, sd,
    quantiles) and ``draws.json`` (how many draws, the Pareto k̂, the notes); returns the summary."""
    import json

    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.runtime.posterior import flat_columns, inference_data, summarize_draws, write_inference_data

    derived, diagnostic = result.posterior()
    attrs = {"inference_library": "zsdsl", "method": result.config.infer, "guide": result.config.guide}
    if derived.posterior:  # (nothing drawn: no posterior.nc, and draws.json says why)
        write_inference_data(inference_data(result.model, result.data, derived, attrs=attrs), run / "posterior.nc")
    table = summarize_draws(flat_columns(derived.reported()))
    atomic_write_text(run / "summary.json", json.dumps(table, indent=1) + "\n")
    info = {"draws": result.config.draws, **diagnostic, "notes": derived.notes}
    atomic_write_text(run / "draws.json", json.dumps(info, indent=1) + "\n")
    return table
