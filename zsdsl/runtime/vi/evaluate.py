"""Evaluating a fitted run on (test) data.

- Models whose latents are all local to plates (VAE, SBN; M2's two plates): the ELBO and the
  importance-sampled marginal log-likelihood log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k | x)
  per element, with K particles drawn in chunks and elements in minibatches to bound memory
  (Burda et al. 2016, §5); a guide site marked ``enumerate`` is summed over its values
  (stratified: K/classes draws of the rest per value). Figures per plate and over all elements.
- Models with global latents (BNN, regression): the predictive log-likelihood per observed
  element, log (1/S) Σ_s p(y_n | θ_s), and the RMSE of the predictive mean, θ_s from the guide.
- ``classification_error``: for a discrete guide site (e.g. the class y_u of the semi-supervised
  M2 model), the share of elements whose most probable class under the guide, argmax_k q(k | x),
  differs from held-back labels.
"""

from __future__ import annotations

import math

import torch

from zsdsl.errors import DataError, ModelError, OptionError, RunDirError
from zsdsl.runtime.checkpoint import fitted_checkpoint, load_checkpoint
from zsdsl.runtime.lib.model_base import terms_in_plate
from zsdsl.runtime.vi.guides import make_guide
from zsdsl.runtime.vi.objectives import latent_plates
from zsdsl.runtime.vi.terms import split_terms


def restore_run(compiled, data: dict, config, run):
    """Model and guide with the run's fitted parameters: the best on validation data if the fit was
    validated (``checkpoints/best.pt``), else the last checkpoint."""
    path = fitted_checkpoint(run)
    if path is None:
        raise RunDirError(f"{run} has no checkpoint to evaluate.")
    state = load_checkpoint(path)
    model = compiled.model(data, init_params=False)
    guide = make_guide(compiled, model, data, config.guide, init_params=False)
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    return model.eval(), guide.eval()


def rebind(compiled, data: dict, result):
    """The fitted model and guide of ``result`` with sizes bound to other data (e.g. a test set)."""
    model = compiled.model(data, init_params=False)
    guide = make_guide(compiled, model, data, result.config.guide, init_params=False)
    model.load_state_dict(result.model.state_dict())
    guide.load_state_dict(result.guide.state_dict())
    return model.eval(), guide.eval()


@torch.no_grad()
def evaluate(model, guide, data: dict, particles: int = 1000, chunk: int = 100, batch: int = 100) -> dict:
    sites = model.sites(data)
    plates = latent_plates(sites, guide)  # None: predictive evaluation
    if plates is None:
        return _predictive(model, guide, data, particles)
    per_plate = {
        plate: _plate_likelihood(model, guide, data, sites, plates, plate, particles, chunk, batch) for plate in plates
    }
    ll = torch.cat([r.pop("ll") for r in per_plate.values()])
    elbo = torch.cat([r.pop("elbo_terms") for r in per_plate.values()])
    out = {"kind": "marginal_likelihood", "plate": ",".join(plates), "n": int(ll.numel()), "particles": particles,
           "log_likelihood": float(ll.mean()), "log_likelihood_se": float(ll.std() / math.sqrt(ll.numel())),
           "elbo": float(elbo.mean())}  # fmt: skip
    enumerated = {plate: r["enumerated"] for plate, r in per_plate.items() if "enumerated" in r}
    if enumerated:
        out["enumerated"] = enumerated
    if len(plates) > 1:
        out["plates"] = per_plate
    return out


def _plate_likelihood(model, guide, data, sites, plates, plate, particles, chunk, batch) -> dict:
    """log p(x_b) per element b of ``plate`` by importance sampling; with a guide site of the
    plate marked ``enumerate`` (M2's class), the estimate is stratified over its values k:
    p(x_b) ≈ Σ_k (1/P) Σ_p p(x_b, k, z_kp) / q(z_kp | x_b, k), P = ⌈particles / classes⌉ draws
    per value (the same number of guide runs as without enumeration). The other ``plates`` with
    latents are cut to one element: with no global latents their terms do not involve this
    plate's elements."""
    by_name = {s.name: s for s in sites}
    enum = [e for e in getattr(guide, "enumerated", ()) if by_name[e].plates[0] == plate]
    if len(enum) > 1:
        raise ModelError(f"evaluate sums over one enumerated site per plate; plate '{plate}' has {', '.join(enum)}.")
    classes = by_name[enum[0]].enum_size if enum else 1
    if enum and classes is None:
        raise ModelError(f"The guide enumerates '{enum[0]}': it must be a Bernoulli or Categorical.")
    draws = -(-particles // classes)
    sizes = model.plate_sizes()
    others = {p: torch.arange(1) for p in plates if p != plate and int(sizes[p]) > 0}
    n = int(sizes[plate])
    kept = terms_in_plate(model.term_plates, plate)  # the model's terms inside the plate
    lls, elbos = [], []
    for start in range(0, n, batch):
        idx = torch.arange(start, min(start + batch, n))
        sub, scale = {**others, plate: idx}, n / len(idx)
        log_w, qk = [], None
        for k0 in range(0, draws, chunk):
            c = min(chunk, draws - k0)
            runs = classes * c  # run r = k * c + p gives the enumerated site the value k
            given = None
            if enum:
                given = {enum[0]: torch.arange(classes).repeat_interleave(c).unsqueeze(-1).expand(runs, len(idx))}
            values, (_, q_terms), _ = guide.sample_and_log_prob(data, (runs,), sub, per_site=True, keep=plate,
                                                                 values=given)  # fmt: skip
            _, p_terms = model.log_joint(values, data, sub, per_site=True, keep=plate)
            lw = (split_terms(p_terms, plate, runs, kept)[0] - split_terms(q_terms, plate, runs)[0]) / scale
            log_w.append(lw.view(classes, c, -1))
            if enum and qk is None:  # log q(k | x_b), the same in every chunk
                qk = (q_terms[enum[0]] / scale).view(classes, c, -1)[:, 0]
        lw = torch.cat(log_w, 1)  # [classes, draws, b]
        if enum:  # log q(k) back in: the weights of z given k; q(k) weighs the ELBO's classes
            lls.append(torch.logsumexp((lw + qk.unsqueeze(1)).flatten(0, 1), 0) - math.log(lw.shape[1]))
            elbos.append((qk.exp() * lw.mean(1)).sum(0))
        else:
            lls.append(torch.logsumexp(lw[0], 0) - math.log(lw.shape[1]))
            elbos.append(lw[0].mean(0))
    ll, elbo = torch.cat(lls), torch.cat(elbos)
    out = {"n": n, "log_likelihood": float(ll.mean()), "log_likelihood_se": float(ll.std() / math.sqrt(n)),
           "elbo": float(elbo.mean()), "ll": ll, "elbo_terms": elbo}  # fmt: skip
    if enum:
        out["enumerated"] = enum[0]
    return out


def _predictive(model, guide, data, draws: int) -> dict:
    """Predictive scores on ``data`` from ``draws`` guide draws: the same computation as ``zsdsl predict``
    (``zsdsl.runtime.predict.scores``) on draws made here."""
    from zsdsl.runtime.posterior import derive
    from zsdsl.runtime.predict import scores

    if not [o for o in model.observed if o in data]:
        raise DataError("There is no observed data in the evaluation data to predict.")
    values, _, _ = guide.sample_and_log_prob(data, (draws,))
    derived = derive(model, data, {k: v[None] for k, v in values.items()})
    found = scores(derived, model, data)
    return {"kind": "predictive", "draws": draws, **{k: {f: v[f] for f in ("log_likelihood", "rmse", "n")}
                                                     for k, v in found.items()}}  # fmt: skip


@torch.no_grad()
def classification_error(model, guide, data: dict, site: str, labels, batch: int = 500) -> dict:
    """Error rate of argmax_k q(site = k | data) against ``labels``, element by element of its plate."""
    sites = {s.name: s for s in model.sites(data)}
    if site not in sites:
        raise OptionError(f"--classify: the model has no latent '{site}' (latents: {', '.join(sites)}).")
    s = sites[site]
    if not s.discrete or len(s.plates) != 1 or len(s.shape) != 1:
        raise OptionError(f"--classify: '{site}' must be a discrete latent, one per element of a plate.")
    K = s.enum_size
    if K is None:
        raise OptionError(f"--classify: '{site}' must be a Bernoulli or Categorical site.")
    plate, n = s.plates[0], int(s.shape[0])
    labels = torch.as_tensor(labels).long().reshape(-1)
    if labels.shape[0] != n:
        raise OptionError(f"--classify: {labels.shape[0]} labels for {n} elements of plate '{plate}'.")
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
