"""The ELBO of a guide that sums over a discrete site (``y ~ Categorical(...), enumerate`` in a
``guide`` block), as in Kingma et al. 2014's M2: for each element b of the site's plate,

    sum_k q(y_b = k | x_b) [log p(x_b, k, z_bk) - log q(z_bk | x_b, k) - log q(y_b = k | x_b)],

with z_bk drawn from the guide given y_b = k (pathwise gradients) and the weights q(k | x_b)
differentiated exactly: no score-function term. Terms outside the plate are averaged over the K
guide runs (K independent draws of them). One enumerated site, one per element of one plate.
"""

from __future__ import annotations

import torch

from zsdsl.errors import UsageError


def enumerated_elbo(objective, model, guide, data, subsample) -> torch.Tensor:
    """The bound above for ``objective``'s particles (averaged), plus the guide's factor terms."""
    if len(objective.enumerated) != 1:
        raise UsageError(f"A guide may enumerate one site; this one marks {', '.join(objective.enumerated)}.")
    name = objective.enumerated[0]
    site = objective.sites[name]
    if site.enum_size is None or len(site.plates) != 1 or len(site.shape) != 1:
        raise UsageError(f"The guide enumerates '{name}': it must be a Bernoulli or Categorical, one per element "
                         "of a plate.")  # fmt: skip
    plate, K, P = site.plates[0], site.enum_size, objective.particles
    idx = (subsample or {}).get(plate)
    n = int(site.shape[0]) if idx is None else len(idx)
    scale = int(site.shape[0]) / n  # the plate's N/B, already in every term of it
    given = {name: torch.arange(K).view(K, 1, 1).expand(K, P, n)}
    values, (_, q_terms), factor = guide.sample_and_log_prob(data, (K, P), subsample, per_site=True, keep=plate,
                                                             values=given)  # fmt: skip
    _, p_terms = model.log_joint(values, data, subsample, per_site=True, keep=plate)
    log_q_y = q_terms[name]  # [K, P, n], scaled
    local, glob = torch.zeros(K, P, n), torch.zeros(K, P)
    for sign, terms in ((1.0, p_terms), (-1.0, q_terms)):
        for t in terms.values():
            if t.dim() == 3:
                local = local + sign * t
            else:
                glob = glob + sign * t
    weights = (log_q_y / scale).exp()  # q(y_b = k | x_b), summing to 1 over k
    bound = glob.mean() + (weights * local).sum(0).mean(0).sum()
    return bound + (factor.mean() if torch.is_tensor(factor) and factor.dim() else factor)
