"""Guides for variational inference: compiled ``guide`` blocks and automatic ones.

Every guide offers ``sample_and_log_prob(data, sample_shape, subsample, per_site=True)``
returning ``(values, (log_q, terms), factor)``. ``AutoNormal`` is a mean-field Gaussian
in the unconstrained space of each continuous latent site (Kucukelbir et al. 2017, ADVI).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zsdsl.errors import OptionError
from zsdsl.runtime.vi.site_checks import require_global_continuous


class AutoNormal(nn.Module):
    """Mean-field Normal in unconstrained space, mapped through each site's bijector."""

    name = "auto-normal"
    decomposes = True

    def __init__(self, sites, init_scale: float = 0.1):
        super().__init__()
        self.sites = [s for s in sites]
        self.locs = nn.ParameterDict()
        self.log_scales = nn.ParameterDict()
        for s in self.sites:
            require_global_continuous(s, self.name)
            shape = s.bijector.unconstrained_shape(tuple(s.shape))
            key = _key(s.name)
            self.locs[key] = nn.Parameter(torch.zeros(shape))
            self.log_scales[key] = nn.Parameter(torch.full(shape, math.log(init_scale)))

    def sample_and_log_prob(self, data, sample_shape=(), subsample=None, per_site=False, keep=None, values=None):
        given, values, terms = values or {}, {}, {}
        for s in self.sites:
            key = _key(s.name)
            loc, scale = self.locs[key], self.log_scales[key].exp()
            if s.name in given:
                x = given[s.name]
                u = s.bijector.inverse(x)
                eps = (u - loc) / scale
                sample_shape = tuple(u.shape[: u.dim() - loc.dim()])
            else:
                eps = torch.randn(*sample_shape, *loc.shape, dtype=loc.dtype)
                u = loc + scale * eps
                x = s.bijector.forward(u)
            base = -0.5 * eps.pow(2) - torch.log(scale) - 0.5 * math.log(2 * math.pi)
            ladj = s.bijector.log_abs_det_jacobian(u)
            values[s.name] = x
            kept = s.plates.index(keep) if keep in s.plates else None
            terms[s.name] = _sum_to(base, sample_shape, kept) - _sum_to(ladj, sample_shape, kept)
        log_q = sum(terms.values()) if terms else torch.zeros(sample_shape)
        zero = torch.zeros(())
        return values, ((log_q, terms) if per_site else log_q), zero

    def start_at(self, starts: dict) -> None:
        """Set the locations to unconstrained values per site (see ``initial_values``)."""
        with torch.no_grad():
            for s in self.sites:
                self.locs[_key(s.name)].copy_(starts[s.name])

    def posterior_summary(self) -> dict:
        """Means and sds of the unconstrained Gaussian per site (for reporting)."""
        return {
            s.name: (self.locs[_key(s.name)].detach(), self.log_scales[_key(s.name)].exp().detach()) for s in self.sites
        }


def _sum_to(x, sample_shape, kept: int | None = None) -> torch.Tensor:
    """Sum every dim after the leading sample dims, except plate dim ``kept`` (then last)."""
    if kept is not None:
        x = x.movedim(len(sample_shape) + kept, -1)
        return x.reshape(*sample_shape, -1, x.shape[-1]).sum(-2)
    return x.reshape(*sample_shape, -1).sum(-1)


def _key(name: str) -> str:
    return name.replace(".", "__")


class AutoDelta(nn.Module):
    """Point masses at learnable values (MAP): the guide's log-density is 0, so maximising the
    ELBO maximises the log joint itself (in the constrained space, no Jacobian, like Stan's MAP)."""

    name = "auto-delta"
    decomposes = True

    def __init__(self, sites):
        super().__init__()
        self.sites = list(sites)
        self.values = nn.ParameterDict()
        for s in self.sites:
            require_global_continuous(s, self.name)
            self.values[_key(s.name)] = nn.Parameter(torch.zeros(s.bijector.unconstrained_shape(tuple(s.shape))))

    def start_at(self, starts: dict) -> None:
        with torch.no_grad():
            for s in self.sites:
                self.values[_key(s.name)].copy_(starts[s.name])

    def sample_and_log_prob(self, data, sample_shape=(), subsample=None, per_site=False, keep=None, values=None):
        out, terms = {}, {}
        for s in self.sites:
            u = self.values[_key(s.name)]
            out[s.name] = s.bijector.forward(u.expand(*sample_shape, *u.shape))
            terms[s.name] = torch.zeros(sample_shape)
        log_q = torch.zeros(sample_shape)
        return out, ((log_q, terms) if per_site else log_q), torch.zeros(())


class CompiledGuide(nn.Module):
    """Wraps a compiled ``guide`` block so it speaks the same interface."""

    decomposes = True

    def __init__(self, guide):
        super().__init__()
        self.guide = guide
        self.name = guide.name
        self.enumerated = tuple(guide.enumerated)

    def sample_and_log_prob(self, data, sample_shape=(), subsample=None, per_site=False, keep=None, values=None,
                            dists=None):  # fmt: skip
        return self.guide.sample_and_log_prob(data, sample_shape, subsample, per_site=per_site, keep=keep,
                                              values=values, dists=dists)  # fmt: skip


def _auto_guides() -> dict:
    from zsdsl.runtime.vi.flows import AutoIAF, AutoMVN, AutoPlanar

    return {"auto-normal": AutoNormal, "auto-mvn": AutoMVN, "auto-planar": AutoPlanar, "auto-iaf": AutoIAF,
            "auto-delta": AutoDelta}  # fmt: skip


AUTO_GUIDES = ("auto-normal", "auto-mvn", "auto-planar", "auto-iaf", "auto-delta")
INITS = ("zero", "uniform", "sample")
SCALED_GUIDES = ("auto-normal", "auto-mvn", "auto-planar", "auto-iaf")  # those taking init_scale


def initial_values(model, data, sites, how: str) -> dict:
    """Starting locations of an automatic guide on the unconstrained scale, per site: ``zero``
    (the origin, Pyro's default), ``uniform`` (U(-2, 2), Stan's default) or ``sample`` (one
    ancestral draw from the prior, Pyro's ``init_to_sample``; breaks the symmetry of a network's
    hidden units). Draws use the global torch generator, so they follow the fit's seed."""
    if how not in INITS:
        raise OptionError(f"Unknown init '{how}'; choose one of {', '.join(INITS)}.")
    shapes = {s.name: tuple(s.bijector.unconstrained_shape(tuple(s.shape))) for s in sites}
    if how == "zero":
        return {name: torch.zeros(shape) for name, shape in shapes.items()}
    if how == "uniform":
        return {name: torch.rand(shape) * 4 - 2 for name, shape in shapes.items()}
    draw = model.sample(data)
    return {s.name: s.bijector.inverse(draw[s.name]).reshape(shapes[s.name]) for s in sites}


def make_guide(compiled, model, data, name: str, init: str = "zero", init_scale: float = 0.1,
               init_params: bool = True):  # fmt: skip
    """A guide by name: a ``guide`` block of the spec or an automatic guide started at ``init``;
    ``init_scale`` is the starting standard deviation of the automatic guides with a Gaussian base
    (Pyro's ``init_scale``; Bayesian networks fit better from a small one: 1e-5 in benchmarks/vi_uci_bnn.py).
    ``init_params`` False leaves a guide block's params at zeros, for a fitted state loaded next."""
    if name in AUTO_GUIDES:
        sites = model.sites(data)
        cls = _auto_guides()[name]
        guide = cls(sites, init_scale=init_scale) if name in SCALED_GUIDES else cls(sites)
        if init != "zero":
            guide.start_at(initial_values(model, data, guide.sites, init))
        return guide
    if name in compiled.guide_names:
        return CompiledGuide(compiled.guide(name, data, init_params))
    known = ", ".join([*compiled.guide_names, *AUTO_GUIDES])
    raise OptionError(f"Unknown guide '{name}'; this spec offers: {known}.")
