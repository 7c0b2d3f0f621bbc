"""Base classes of generated models and guides, and the ``Site`` record of a latent.

Generated subclasses (or models written by hand) implement ``_model`` / ``_sample`` / ``sites`` /
``plate_sizes`` (models) and ``_guide`` (guides); the public methods here are the protocol the
engines use (``zsdsl.runtime.protocol``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zsdsl.runtime.lib.plates import reduce_terms


@dataclass(frozen=True)
class Site:
    """A latent site: full shape (plate sizes first), support, bijector to unconstrained space."""

    name: str
    shape: tuple
    plates: tuple = ()
    support: str = "real"
    bijector: object = None
    discrete: bool = False
    enumerate: bool = False
    reparam: bool = True
    subsample_plate: str | None = None
    enum_size: int | None = None  # values 0..enum_size-1 of an enumerated discrete site


def total_of_terms(terms: dict, per_site: bool, kept: set = frozenset()):
    """The sum of all terms (a kept plate dim summed too) and, with ``per_site``, the terms."""
    if not terms:
        zero = torch.zeros(())
        return (zero, {}) if per_site else zero
    total = None
    for name, t in terms.items():  # not sum(): its start value 0 would add one more op to the graph
        t = t.sum(-1) if name in kept else t
        total = t if total is None else total + t
    if not torch.is_tensor(total):
        total = torch.as_tensor(total, dtype=torch.get_default_dtype())
    return (total, terms) if per_site else total


def terms_in_plate(term_plates: dict, keep: str | None) -> set:
    return {name for name, plates in term_plates.items() if keep is not None and keep in plates}


class ModelBase(torch.nn.Module):
    """A compiled model: nets and params as submodules, plus the log-joint and sampler."""

    name = "model"
    observed: tuple = ()
    guides: tuple = ()
    plate_subsample: dict = {}
    data_dtypes: dict = {}
    term_plates: dict = {}
    term_latents: dict | None = None  # the latent sites each term reads (code compiled before it lacks it)
    plate_dims: dict = {}
    enum_dependent: tuple = ()  # deterministics that depend on an enumerated (summed-out) site

    def __init__(self, dims: dict):
        super().__init__()
        self.dims = dict(dims)

    def log_joint(
        self, values: dict, data: dict, subsample: dict | None = None, per_site: bool = False, keep: str | None = None
    ):
        """Sum of log-densities over sites, shaped like the leading sample dims of ``values``.

        ``subsample`` maps a plate name to a LongTensor of minibatch indices; the terms of
        that plate are then scaled by N/B. With ``per_site`` also returns the terms. With
        ``keep`` (a plate name) the terms inside that plate keep its dim (last), e.g. for
        per-datapoint learning signals; use ``per_site`` to tell them apart.
        """
        lp, _ = self.log_terms(values, data, subsample)
        return total_of_terms(
            reduce_terms(lp, self.term_plates, keep), per_site, terms_in_plate(self.term_plates, keep)
        )

    def log_terms(self, values: dict, data: dict, subsample: dict | None = None, priors: dict | None = None):
        """(terms, deterministics): the log-density term of each site and factor, unreduced over plates;
        ``priors`` (a dict) receives each latent's prior distribution, for analytic KL terms."""
        return self._model(values, data, subsample, dists=priors)

    def transformed(self, data: dict, name: str, compute):
        """A transformed-data node (Stan's ``transformed data``): computed on the first call with this
        ``data`` dict and reused while the same dict is passed (a new dict starts afresh)."""
        cache = self.__dict__.get("_transformed")
        if cache is None or cache[0] is not data:
            cache = self.__dict__["_transformed"] = (data, {})
        values = cache[1]
        if name not in values:
            values[name] = compute()
        return values[name]

    def deterministics(self, values: dict, data: dict, subsample: dict | None = None) -> dict:
        """The deterministic nodes computed from ``values``."""
        return self.log_terms(values, data, subsample)[1]

    def sample(self, data: dict, n: int | None = None, values: dict | None = None,
               subsample: dict | None = None) -> dict:  # fmt: skip
        """Ancestral draws of all sites (prior, and prior predictive of observed data).

        ``n`` adds a leading sample dim; ``values`` fixes some latents (posterior predictive);
        ``subsample`` draws only the elements of a plate it names (minibatch indices).
        """
        shape = () if n is None else (int(n),)
        with torch.no_grad():
            return self._sample(data, shape, values, subsample)

    def draw(self, data: dict, subsample: dict | None = None) -> dict:
        """One ancestral draw with gradients kept (pathwise through reparameterised sites and nets):
        what a GAN's generator step differentiates."""
        return self._sample(data, (), None, subsample)

    def generate(self, values: dict, data: dict) -> dict:
        """The ``generated`` block for one set of values (latents and deterministics, any leading dims)."""
        if not hasattr(self, "_generate"):
            return {}
        with torch.no_grad():
            return self._generate(values, data)

    def forward(self, values, data, subsample=None):
        return self.log_joint(values, data, subsample)


class CriticBase(torch.nn.Module):
    """A compiled critic: ``score(data, subsample)`` gives each element's real-valued score."""

    name = "critic"
    implicit: tuple = ()  # the model's implicit sites it reads

    def __init__(self, dims: dict):
        super().__init__()
        self.dims = dict(dims)

    def score(self, data: dict, subsample: dict | None = None) -> torch.Tensor:
        return self._score(data, subsample)


class GuideBase(torch.nn.Module):
    """A compiled guide: draws latents and returns their log-density under the guide."""

    name = "guide"
    term_plates: dict = {}
    term_latents: dict | None = None
    enumerated: tuple = ()  # sites marked ``enumerate``: the objective sums over their values

    def __init__(self, dims: dict):
        super().__init__()
        self.dims = dict(dims)

    def sample_and_log_prob(self, data: dict, sample_shape=(), subsample: dict | None = None, per_site=False,
                            keep: str | None = None, values: dict | None = None,
                            dists: dict | None = None):  # fmt: skip
        """``(values, log_q, factor)``: draws, their summed log-density and the guide's factor terms.

        With ``values`` the guide scores those values instead of drawing (``sample_shape`` is then
        ignored for the sites given); ``keep`` keeps one plate's dim as in ``ModelBase.log_joint``;
        a ``dists`` dict receives each site's guide distribution.
        """
        values, lq, fac = self.guide_terms(data, sample_shape, subsample, values, dists)
        log_q = total_of_terms(
            reduce_terms(lq, self.term_plates, keep), per_site, terms_in_plate(self.term_plates, keep)
        )
        factor = total_of_terms(reduce_terms(fac, self.term_plates, None), False) if fac else 0.0
        return values, log_q, factor

    def guide_terms(self, data: dict, sample_shape=(), subsample: dict | None = None, given: dict | None = None,
                    dists: dict | None = None):  # fmt: skip
        """(values, terms, factor terms): the draws (``given`` ones scored instead), each site's log q
        term unreduced over plates, and the guide's factors; ``dists`` receives each site's distribution."""
        return self._guide(data, tuple(sample_shape), subsample, given, dists)

    def forward(self, data, sample_shape=(), subsample=None):
        return self.sample_and_log_prob(data, sample_shape, subsample)
