"""Evaluating a fitted run on (test) data.

- Models whose latents are all local to one plate (VAE, SBN): the ELBO and the
  importance-sampled marginal log-likelihood log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k | x)
  per element, with K particles drawn in chunks and elements in minibatches to bound memory
  (Burda et al. 2016, §5).
- Models with global latents (BNN, regression): the predictive log-likelihood per observed
  element, log (1/S) Σ_s p(y_n | θ_s), and the RMSE of the predictive mean, θ_s from the guide.
- ``classification_error``: for a discrete guide site (e.g. the class y_u of the semi-supervised
  M2 model), the share of elements whose most probable class under the guide, argmax_k q(k | x),
  differs from held-back labels.
"""

from __future__ import annotations

import math

import torch

from zsdsl.errors import UsageError
from zsdsl.runtime.checkpoint import fitted_checkpoint, load_checkpoint
from zsdsl.runtime.vi.guides import make_guide
from zsdsl.runtime.vi.objectives import Objective


def restore_run(compiled, data: dict, config, run):
    """Model and guide with the run's fitted parameters: the best on validation data if the fit was
    validated (``checkpoints/best.pt``), else the last checkpoint."""
    path = fitted_checkpoint(run)
    if path is None:
        raise UsageError(f"{run} has no checkpoint to evaluate.")
    state = load_checkpoint(path)
    model = compiled.model(data)
    guide = make_guide(compiled, model, data, config.guide)
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    return model.eval(), guide.eval()


def rebind(compiled, data: dict, result):
    """The fitted model and guide of ``result`` with sizes bound to other data (e.g. a test set)."""
    model = compiled.model(data)
    guide = make_guide(compiled, model, data, result.config.guide)
    model.load_state_dict(result.model.state_dict())
    guide.load_state_dict(result.guide.state_dict())
    return model.eval(), guide.eval()


@torch.no_grad()
def evaluate(model, guide, data: dict, particles: int = 1000, chunk: int = 100, batch: int = 100) -> dict:
    sites = model.sites(data)
    probe = Objective()
    probe.bind(sites, guide)
    if probe.local_plate is not None:
        return _marginal_likelihood(model, guide, data, probe, particles, chunk, batch)
    return _predictive(model, guide, data, particles)


def _marginal_likelihood(model, guide, data, probe, particles, chunk, batch) -> dict:
    plate = probe.local_plate
    n = int(model.plate_sizes()[plate])
    lls, elbos = [], []
    for start in range(0, n, batch):
        idx = torch.arange(start, min(start + batch, n))
        sub = {plate: idx}
        log_w = []
        for k0 in range(0, particles, chunk):
            k = min(chunk, particles - k0)
            w = probe.log_weights(model, guide, data, sub, k)
            log_w.append(w.local)  # [k, b]; N/B scaling cancels per element below
        lw = torch.cat(log_w, 0) / (n / len(idx))
        lls.append(torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
        elbos.append(lw.mean(0))
    ll, elbo = torch.cat(lls), torch.cat(elbos)
    return {
        "kind": "marginal_likelihood",
        "plate": plate,
        "n": n,
        "particles": particles,
        "log_likelihood": float(ll.mean()),
        "log_likelihood_se": float(ll.std() / math.sqrt(n)),
        "elbo": float(elbo.mean()),
    }


def _predictive(model, guide, data, draws: int) -> dict:
    values, _, _ = guide.sample_and_log_prob(data, (draws,))
    observed = [o for o in model.observed if o in data]
    if not observed:
        raise UsageError("There is no observed data in the evaluation data to predict.")
    out = {"kind": "predictive", "draws": draws}
    scale = float(data["y_std"]) if "y_std" in data else 1.0  # standardised targets (UCI splits)
    plates = model.term_plates
    for name in observed:
        keep = plates.get(name, ())[0] if plates.get(name) else None
        _, terms = model.log_joint(values, data, per_site=True, keep=keep)
        term = terms[name]  # [S, n] per observed element (or [S])
        ll = torch.logsumexp(term, 0) - math.log(draws)
        pred = model.sample(data, values=values)[name].double().mean(0)
        err = (pred - data[name].double()).pow(2).mean().sqrt()
        out[name] = {
            "log_likelihood": float(ll.mean() - math.log(scale)) if ll.dim() else float(ll),
            "rmse": float(err * scale),
            "n": int(term.shape[-1]) if term.dim() > 1 else 1,
        }
    return out


@torch.no_grad()
def classification_error(model, guide, data: dict, site: str, labels, batch: int = 500) -> dict:
    """Error rate of argmax_k q(site = k | data) against ``labels``, element by element of its plate."""
    sites = {s.name: s for s in model.sites(data)}
    if site not in sites:
        raise UsageError(f"--classify: the model has no latent '{site}' (latents: {', '.join(sites)}).")
    s = sites[site]
    if not s.discrete or len(s.plates) != 1 or len(s.shape) != 1:
        raise UsageError(f"--classify: '{site}' must be a discrete latent, one per element of a plate.")
    K = s.enum_size
    if K is None:
        raise UsageError(f"--classify: '{site}' must be a Bernoulli or Categorical site.")
    plate, n = s.plates[0], int(s.shape[0])
    labels = torch.as_tensor(labels).long().reshape(-1)
    if labels.shape[0] != n:
        raise UsageError(f"--classify: {labels.shape[0]} labels for {n} elements of plate '{plate}'.")
    wrong = 0
    for start in range(0, n, batch):
        idx = torch.arange(start, min(start + batch, n))
        scores = []
        for k in range(K):
            given = {site: torch.full((1, len(idx)), k, dtype=torch.long)}
            _, (_, terms), _ = guide.sample_and_log_prob(data, (1,), {plate: idx}, per_site=True, keep=plate,
                                                         values=given)  # fmt: skip
            scores.append(terms[site].reshape(-1))
        pred = torch.stack(scores).argmax(0)
        wrong += int((pred != labels[idx]).sum())
    return {"site": site, "n": n, "classes": K, "error": wrong / n}
