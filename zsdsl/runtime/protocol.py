"""The compiled-model protocol: everything an inference engine may use of a model or a guide.

Engines (NUTS/HMC, SG-MCMC, the VI objectives, evaluation) use only what is declared here. The
compiler's generated classes satisfy it by subclassing ``zsdsl.runtime.lib.ModelBase`` /
``GuideBase`` and implementing their hooks; a model written by hand can do the same without the
compiler (``tests/test_protocol.py`` runs every engine on one).

Conventions: ``values`` map site names to tensors with any leading sample dims first, then the
plate dims, then the element dims; ``subsample`` maps a plate name to a LongTensor of minibatch
indices (``None``: the whole data); a *term* is one site's log-density (or a factor), summed over
its element dims, scaled by N/B for a minibatch, and keeping the sample and plate dims.

Hooks a ``ModelBase`` subclass implements:
- ``_model(values, data, subsample, dists=None) -> (terms, deterministics)``: the log-density terms
  per site and the deterministic nodes; with ``dists`` (a dict) it also records each latent's
  prior distribution (what analytic KL needs).
- ``_sample(data, sample_shape, values) -> dict``: ancestral draws (``values`` fixes some sites).
- ``sites(data) -> list[Site]`` and ``plate_sizes() -> dict``.
A ``GuideBase`` subclass implements ``_guide(data, sample_shape, subsample, given, dists) ->
(values, terms, factor_terms)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ModelProtocol(Protocol):
    """A model module (``torch.nn.Module``; its params and nets are its parameters)."""

    name: str
    dims: dict  # bound sizes, e.g. {"N": 100}
    observed: tuple  # names of the observed sites
    plate_subsample: dict  # plate -> minibatch size (None: not subsampled)
    plate_dims: dict  # plate -> the size name it ranges over
    term_plates: dict  # term name -> the plates it lies in
    term_latents: dict | None  # term name -> the latent sites it reads (None: unknown)
    enum_dependent: tuple  # deterministics that depend on a summed-out site

    def sites(self, data: dict) -> list:
        """The latent sites (``Site``: shape with plates first, support, bijector, discrete, ...)."""

    def plate_sizes(self) -> dict:
        """The full size of every plate."""

    def log_terms(self, values: dict, data: dict, subsample: dict | None = None,
                  priors: dict | None = None) -> tuple[dict, dict]:  # fmt: skip
        """(terms, deterministics); ``priors`` (a dict) receives each latent's prior distribution."""

    def log_joint(self, values: dict, data: dict, subsample: dict | None = None, per_site: bool = False,
                  keep: str | None = None):  # fmt: skip
        """The summed terms, shaped like the sample dims (``keep`` keeps one plate's dim)."""

    def deterministics(self, values: dict, data: dict, subsample: dict | None = None) -> dict:
        """The deterministic nodes at ``values``."""

    def sample(self, data: dict, n: int | None = None, values: dict | None = None) -> dict:
        """Ancestral draws of every site; ``n`` adds a sample dim."""


@runtime_checkable
class GuideProtocol(Protocol):
    """A guide module: draws the latents and scores them."""

    term_plates: dict
    term_latents: dict | None
    enumerated: tuple  # sites the objective sums over instead of drawing

    def guide_terms(self, data: dict, sample_shape=(), subsample: dict | None = None, given: dict | None = None,
                    dists: dict | None = None) -> tuple[dict, dict, dict]:  # fmt: skip
        """(values, terms, factor terms); ``given`` values are scored instead of drawn."""

    def sample_and_log_prob(self, data: dict, sample_shape=(), subsample: dict | None = None, per_site=False,
                            keep: str | None = None, values: dict | None = None,
                            dists: dict | None = None):  # fmt: skip
        """(values, log q summed over terms, factor)."""


class ModelSource(Protocol):
    """What ``zsdsl.runtime.vi.train.fit`` builds a fit from: a ``CompiledModel`` or anything like it."""

    guide_names: tuple

    def model(self, data: dict) -> ModelProtocol:
        """A new model module with sizes bound from ``data`` and parameters initialised."""

    def guide(self, name: str, data: dict) -> GuideProtocol:
        """A new guide module of the spec's guide block ``name``."""
