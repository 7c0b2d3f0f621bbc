"""Helpers on the log-density terms that the VI objectives, the enumerated guides and evaluation share.

Terms are dicts of per-site tensors as ``log_joint(..., per_site=True, keep=plate)`` returns them:
[k] for a term outside the plate kept, [k, B] inside it.
"""

from __future__ import annotations

import torch


def split_terms(terms: dict, keep: str | None, k: int, kept=frozenset()):
    """Sum per-site terms into ([k, B] local, [k] global) parts. ``kept`` names the terms inside the
    plate ``keep`` (``terms_in_plate(model.term_plates, keep)``): one that involves no draw is [B], not [k, B]."""
    is_local = {n: keep is not None and (t.dim() == 2 or n in kept) for n, t in terms.items()}
    local = [t if t.dim() == 2 else t.expand(k, -1) for n, t in terms.items() if is_local[n]]
    glob = [t for n, t in terms.items() if not is_local[n]]
    loc = sum(local) if local else None
    g = sum(glob) if glob else torch.zeros(k)
    if keep is None:  # no decomposition: the whole model is one "element"
        return g.reshape(k, 1), torch.zeros(k)
    return (loc if loc is not None else torch.zeros(k, 1)), g
