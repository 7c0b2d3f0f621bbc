"""The posterior predictive of a finished run, on its own data or on new data.

``predict(compiled, run, data, draws, seed)`` reads the latent draws the run wrote (``posterior.nc``:
NUTS/HMC/SG-MCMC chains, or a VI fit's draws from its guide), binds the model to ``data`` (new
covariates: a regression's or a BNN's held-out ``X``; a VI run's nets and params come from its
fitted checkpoint) and derives the predictive, the generated quantities and, where ``data`` has the
observed values, the pointwise log-likelihood. ``scores`` gives, per observed site present, the
mean log predictive density log (1/S) Σ_s p(y_n | θ_s) and the RMSE of the predictive mean, as
``zsdsl evaluate`` reports them (in the original units where the data carry ``y_std``).

Latents local to a plate (one value per data point) cannot be carried to new data points: such a
run predicts on data of the same plate sizes only, and says so otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from zsdsl.errors import DataError, ModelError, RunDirError
from zsdsl.runtime.posterior import Derived, derive, read_inference_data


def run_latents(run: Path, sites) -> dict:
    """The latent draws of ``run`` as tensors [C, S, ...], read from its ``posterior.nc``."""
    posterior = read_inference_data(run).posterior
    missing = [s.name for s in sites if s.name not in posterior and not s.enumerate]
    if missing:
        raise RunDirError(f"{run}/posterior.nc lacks the latents {', '.join(missing)} (left out when the run was "
                          "written: too large to keep); it cannot be used for predictions.")  # fmt: skip
    dtype = torch.get_default_dtype()
    return {s.name: torch.as_tensor(posterior[s.name].values).to(dtype) for s in sites if s.name in posterior}


def model_for(compiled, run: Path, kind: str, data: dict):
    """The model bound to ``data``; for a VI run with its fitted nets and params."""
    model = compiled.model(data, init_params=kind != "vi")  # a VI run's params: its checkpoint's
    if kind == "vi":
        from zsdsl.runtime.checkpoint import fitted_checkpoint, load_checkpoint

        path = fitted_checkpoint(run)
        if path is None:
            raise RunDirError(f"{run} has no checkpoint.")
        model.load_state_dict(load_checkpoint(path)["model"])
    return model.eval()


def predict(compiled, run: Path, kind: str, data: dict, draws: int | None = None, seed: int = 0) -> Derived:
    model = model_for(compiled, run, kind, data)
    sites = model.sites(data)
    latents = run_latents(run, sites)
    for s in sites:
        if s.name in latents and tuple(latents[s.name].shape[2:]) != tuple(s.shape):
            raise ModelError(f"The latent '{s.name}' has shape {list(latents[s.name].shape[2:])} in the run and "
                             f"{list(s.shape)} on this data: it is local to plate {', '.join(s.plates) or '(none)'}, "
                             "so new data points have no draws of it; predict on data of the run's sizes, or "
                             "fit a model whose new points need no latents of their own.")  # fmt: skip
    if draws is not None:
        latents = _thin(latents, draws)
    enumerated = tuple(s.name for s in sites if s.enumerate)
    if enumerated:
        C, S = next(iter(latents.values())).shape[:2]
        for s in sites:
            if s.enumerate:
                latents[s.name] = torch.zeros((C, S, *s.shape), dtype=torch.long)
    return derive(model, data, latents, seed=seed, enumerated=enumerated), model


def spread(total: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over ``total`` draws (cycling through them when there are fewer)."""
    if count <= total:
        return np.linspace(0, total - 1, count).round().astype(int)
    return np.arange(count) % total


def _thin(latents: dict, draws: int) -> dict:
    """``draws`` draws spread evenly over the chains' draws (all of them when there are fewer)."""
    C, S = next(iter(latents.values())).shape[:2]
    if draws >= C * S:
        return latents
    keep = spread(C * S, draws)
    return {k: v.reshape(C * S, *v.shape[2:])[keep][None] for k, v in latents.items()}


def scores(derived: Derived, model, data: dict) -> dict:
    """Per observed site in ``data``: mean log predictive density per element and RMSE of the predictive mean."""
    scale = float(data["y_std"]) if "y_std" in data else 1.0  # standardised targets (UCI splits)
    out = {}
    for name in model.observed:
        if name not in data or name not in derived.log_likelihood:
            continue
        ll = torch.as_tensor(derived.log_likelihood[name]).flatten(0, 1)  # [S, *plates]
        lpd = torch.logsumexp(ll, 0) - math.log(ll.shape[0])
        pred = torch.as_tensor(derived.predictive[name]).flatten(0, 1).double().mean(0)
        err = (pred - torch.as_tensor(data[name]).double()).pow(2).mean().sqrt()
        out[name] = {"log_likelihood": float(lpd.mean()) - math.log(scale), "rmse": float(err) * scale,
                     "n": int(lpd.numel()), "draws": int(ll.shape[0])}  # fmt: skip
    if not out and model.observed:
        raise DataError(f"The data hold none of the observed fields ({', '.join(model.observed)}) to score.")
    return out
