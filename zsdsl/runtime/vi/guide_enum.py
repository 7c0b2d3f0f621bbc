"""The ELBO of a guide that sums over a discrete site (``y ~ Categorical(...), enumerate`` in a
``guide`` block), as in Kingma et al. 2014's M2: for each element b of the site's plate,

    sum_k q(y_b = k | x_b) [log p(x_b, k, z_bk) - log q(z_bk | x_b, k) - log q(y_b = k | x_b)],

with z_bk drawn from the guide given y_b = k (pathwise gradients) and the weights q(k | x_b)
differentiated exactly: no score-function term. Terms outside the plate are averaged over the K
guide runs (K independent draws of them). One enumerated site, one per element of one plate.
With sgvb's ``analytic_kl`` the other sites' log p − log q become −KL(q ‖ p) where closed-form.
"""

from __future__ import annotations

import torch

from zsdsl.errors import ModelError
from zsdsl.runtime.lib.model_base import terms_in_plate
from zsdsl.runtime.lib.plates import reduce_terms
from zsdsl.runtime.vi.terms import split_terms


def enumerated_elbo(objective, model, guide, data, subsample) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bound, factor)``: the bound above for ``objective``'s particles (averaged) and the guide's
    factor terms (one per guide run)."""
    if len(objective.enumerated) != 1:
        raise ModelError(f"A guide may enumerate one site; this one marks {', '.join(objective.enumerated)}.")
    name = objective.enumerated[0]
    site = objective.sites[name]
    if site.enum_size is None or len(site.plates) != 1 or len(site.shape) != 1:
        raise ModelError(f"The guide enumerates '{name}': it must be a Bernoulli or Categorical, one per element "
                         "of a plate.")  # fmt: skip
    plate, K, P = site.plates[0], site.enum_size, objective.particles
    idx = (subsample or {}).get(plate)
    n = int(site.shape[0]) if idx is None else len(idx)
    scale = int(site.shape[0]) / n  # the plate's N/B, already in every term of it
    runs = K * P  # guide run r = k * P + p gives y the value k
    given = {name: torch.arange(K).repeat_interleave(P).unsqueeze(-1).expand(runs, n)}
    if getattr(objective, "analytic_kl", False):  # z's terms replaced by −KL(q(z | x, k) ‖ p(z)) in every run
        _, lp, lq, factor = objective.terms_with_kl(model, guide, data, subsample, runs, given)
        p_terms, q_terms = reduce_terms(lp, model.term_plates, plate), reduce_terms(lq, guide.guide.term_plates, plate)
    else:
        values, (_, q_terms), factor = guide.sample_and_log_prob(data, (runs,), subsample, per_site=True, keep=plate,
                                                                 values=given)  # fmt: skip
        _, p_terms = model.log_joint(values, data, subsample, per_site=True, keep=plate)
    p_loc, p_glob = split_terms(p_terms, plate, runs, terms_in_plate(model.term_plates, plate))
    q_loc, q_glob = split_terms(q_terms, plate, runs)
    weights = (q_terms[name] / scale).exp().view(K, P, n)  # q(y_b = k | x_b), summing to 1 over k
    bound = (p_glob - q_glob).mean() + (weights * (p_loc - q_loc).view(K, P, n)).sum(0).mean(0).sum()
    return bound, factor
