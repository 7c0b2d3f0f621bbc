"""Variational objectives: one base class, one subclass per estimator.

``Objective.loss(model, guide, data, subsample)`` returns ``(surrogate_loss, bound)``:
minimising the surrogate follows the estimator's gradient of the bound, whose value is
reported. Continuous, reparameterised sites use pathwise gradients; discrete sites get a
score-function term with the estimator's baseline. When every latent lives in one plate
(local latents, e.g. one code per image) the learning signals are computed per element of
that plate, as in the papers; otherwise one signal covers the whole model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from zsdsl.errors import ModelError, OptionError
from zsdsl.runtime.lib.model_base import terms_in_plate
from zsdsl.runtime.vi.terms import split_terms

SIGNALS = ("downstream", "joint")  # a score-function site's learning signal: its downstream terms, or all


@dataclass
class Weights:
    """Log importance weights per particle k and plate element b, and what the estimators need."""

    local: torch.Tensor  # [k, B]: log p - log q of the terms that decompose over the plate
    glob: torch.Tensor  # [k]: the rest
    log_q_sf: torch.Tensor | None  # [k, B]: guide log-density of the discrete (score-function) sites
    factor: torch.Tensor  # the guide's factor terms
    log_p_local: torch.Tensor | None = None
    log_q_local: torch.Tensor | None = None
    per_site: list | None = None  # [(log q_s, signal_s)], each [k, B]: the downstream learning signals
    scale: float = 1.0  # N/B of the plate kept, already in every local term
    average: object = None  # a data-parallel run's average over the processes, when the signal couples them

    def unscaled(self) -> torch.Tensor:
        """[k, B]: each element's own log weight, without the minibatch's N/B. A nonlinear function of
        one element's weights (log-mean-exp over particles, softmax) is taken of these and scaled after:
        logmeanexp(s·w) is not s·logmeanexp(w)."""
        return self.local if self.scale == 1.0 else self.local / self.scale

    def score_terms(self) -> list:
        """``(log q, learning signal)`` pairs for the score-function terms: one per discrete site
        with downstream signals, else one pair for all of them with the whole log weight. The
        signals are per element (without N/B); the log q terms carry the scale, once."""
        pairs = self.per_site if self.per_site is not None else [(self.log_q_sf, self.local)]
        if self.log_q_sf is None and self.per_site is None:
            return []
        if self.average is not None:  # one signal for the whole minibatch: the processes' shards summed
            return [(q, self.average(s.detach())) for q, s in pairs]
        return [(q, s if self.scale == 1.0 else s / self.scale) for q, s in pairs]


def plate_scale_of(model, subsample, plate: str | None) -> float:
    """N/B of ``plate``'s minibatch (1.0 when it is whole or None)."""
    idx = (subsample or {}).get(plate) if plate is not None else None
    return 1.0 if idx is None else float(model.plate_sizes()[plate]) / float(len(idx))


def _logmeanexp(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def downstream_terms(model_latents: dict, guide_latents: dict, sites, score_sites) -> dict:
    """For each score-function site s (in the guide's order), the model and guide terms that can
    depend on its draw: those reading s or a guide site drawn, directly or not, from s. Every other
    term is a function of s's non-descendants in the guide, independent of s given its parents, so
    it adds variance to s's score-function term and nothing to its expectation (the "local learning
    signals" of Mnih & Gregor 2014 §3.3; Pyro's TraceGraph_ELBO keeps the same downstream costs).
    ``*_latents`` are the compiled classes' ``term_latents``."""
    drawn = [n for n in guide_latents if n in sites]
    children = {s: [t for t in drawn if t != s and s in guide_latents[t]] for s in drawn}
    out = {}
    for s in (n for n in drawn if n in score_sites):
        down, todo = {s}, [s]
        while todo:
            for t in children[todo.pop()]:
                if t not in down:
                    down.add(t)
                    todo.append(t)
        model_terms = frozenset(n for n, reads in model_latents.items() if down.intersection(reads))
        guide_terms = frozenset(n for n, reads in guide_latents.items() if down.intersection(reads))
        out[s] = (model_terms, guide_terms)
    return out


def latent_plates(sites, guide=None) -> list[str] | None:
    """The plates whose elements the latents are local to (each latent in one of them), or None
    when some latent is global or the guide couples elements."""
    outer = {s.plates[0] if s.plates else None for s in sites}
    if not outer or None in outer or not getattr(guide, "decomposes", True):
        return None
    return sorted(outer)


class Objective:
    """Shared machinery: particle draws, per-element log weights, score-function terms."""

    name = "objective"
    default_particles = 1
    uses_signals = False  # whether its score-function terms take per-site (downstream) signals

    def __init__(self, particles: int | None = None, signals: str = "downstream"):
        if signals not in SIGNALS:
            raise ValueError(f"unknown learning signals {signals!r}; use {' or '.join(SIGNALS)}")
        self.particles = int(particles or self.default_particles)
        self.signals = signals
        self.discrete_sites: set[str] = set()
        self.enumerated: tuple[str, ...] = ()  # the guide's 'enumerate' sites (sgvb sums over them)
        self.local_plate: str | None = None
        self.guide_latents: dict | None = None
        self.site_names: set[str] = set()
        self.downstream: dict | None = None
        self.average = None  # a data-parallel run's average over the processes (of minibatch statistics)

    def _over_batch(self, x: torch.Tensor) -> torch.Tensor:
        """A statistic of this process's minibatch (shard) as one of the whole minibatch: averaged over the
        processes of a data-parallel run (their shards are of equal size)."""
        return x if self.average is None else self.average(x)

    def bind(self, sites, guide=None) -> None:
        """Learn the sites: which need score-function terms, and the plate signals decompose over."""
        self.enumerated = tuple(getattr(guide, "enumerated", ()))
        if self.enumerated and self.name != "sgvb":
            raise ModelError(f"The guide sums over {', '.join(self.enumerated)} ('enumerate'): use --infer sgvb.")
        skip = set(self.enumerated)
        self.discrete_sites = {s.name for s in sites if s.discrete and not s.enumerate and s.name not in skip}
        plates = latent_plates(sites, guide)
        self.local_plate = plates[0] if plates and len(plates) == 1 else None
        self.site_names = {s.name for s in sites}
        inner = getattr(guide, "guide", guide)  # a compiled guide block knows what each term reads
        self.guide_latents = getattr(inner, "term_latents", None)
        self.downstream = None

    def per_site_signals(self) -> bool:
        """Whether each score-function site gets its own downstream learning signal."""
        return bool(self.uses_signals and self.signals == "downstream" and self.guide_latents and self.discrete_sites)

    def score_sites(self, model) -> list[str]:
        """The sites with their own learning signal (guide order); [] when one signal serves all."""
        if not self.per_site_signals() or getattr(model, "term_latents", None) is None:
            return []
        if self.downstream is None:
            self.downstream = downstream_terms(model.term_latents, self.guide_latents, self.site_names,
                                               self.discrete_sites)  # fmt: skip
        return list(self.downstream)

    def estimators(self, sites) -> dict[str, str]:
        """Which gradient estimator each latent site gets (for the run log)."""
        sf = "score-function"
        if self.per_site_signals():
            sf += "; its learning signal from the terms downstream of it"
        out = {s.name: (sf if s.name in self.discrete_sites else "pathwise") for s in sites}
        out.update({name: "enumerated in the guide (exact sum)" for name in self.enumerated})
        return out

    def log_weights(self, model, guide, data, subsample, k: int, fixed_draws: bool = False) -> Weights:
        keep = self.local_plate
        if fixed_draws:  # densities differentiated at draws that carry no gradient (RWS)
            with torch.no_grad():
                drawn, _, _ = guide.sample_and_log_prob(data, (k,), subsample)
            drawn = {n: v.detach() for n, v in drawn.items()}
            values, (_, q_terms), factor = guide.sample_and_log_prob(
                data, (k,), subsample, per_site=True, keep=keep, values=drawn
            )
        else:
            values, (_, q_terms), factor = guide.sample_and_log_prob(data, (k,), subsample, per_site=True, keep=keep)
        _, p_terms = model.log_joint(values, data, subsample, per_site=True, keep=keep)
        p_loc, p_glob = split_terms(p_terms, keep, k, terms_in_plate(model.term_plates, keep))
        q_loc, q_glob = split_terms(q_terms, keep, k)
        sf_terms = {n: t for n, t in q_terms.items() if n in self.discrete_sites}
        log_q_sf = split_terms(sf_terms, keep, k)[0] if sf_terms else None
        per_site = None
        if sf_terms and self.score_sites(model):
            per_site = self._per_site(p_terms, q_terms, keep, k, terms_in_plate(model.term_plates, keep))
        scale = plate_scale_of(model, subsample, keep)
        coupled = self.average if keep is None else None  # no per-element signals: the shards' sum is the signal
        return Weights(p_loc - q_loc, p_glob - q_glob, log_q_sf, factor, p_loc, q_loc, per_site, scale, coupled)

    def _per_site(self, p_terms, q_terms, keep, k, kept) -> list:
        """``(log q_s, signal_s)`` per score-function site: the site's own guide term and the sum of
        the terms downstream of it (``self.downstream``), per particle and element."""
        if keep is None:  # one element, the whole model: every term is a [k] total
            p_local = {n: torch.broadcast_to(t, (k,)).reshape(k, 1) for n, t in p_terms.items()}
            q_local = {n: torch.broadcast_to(t, (k,)).reshape(k, 1) for n, t in q_terms.items()}
        else:  # [k, B], or [B] for a model term without a draw
            p_local = {n: t for n, t in p_terms.items() if t.dim() == 2 or n in kept}
            q_local = {n: t for n, t in q_terms.items() if t.dim() == 2}
        out = []
        for name, (p_names, q_names) in self.downstream.items():
            p_s = sum(t for n, t in p_local.items() if n in p_names)
            q_s = sum(t for n, t in q_local.items() if n in q_names)
            signal = p_s - q_s
            out.append((q_local[name], signal if torch.is_tensor(signal) else torch.zeros(k, 1)))
        return out

    def loss(self, model, guide, data, subsample=None):
        raise NotImplementedError

    def prepare(self, model, data) -> None:
        """Build anything that depends on the data (e.g. a learned baseline) before training."""

    def parameters(self) -> list:
        """The objective's own trainable parameters (optimised with the model's and guide's)."""
        return []

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _mean(factor):
    return factor.mean() if torch.is_tensor(factor) and factor.dim() else factor


class SGVB(Objective):
    """The evidence lower bound with pathwise gradients (Kingma & Welling 2014, "Auto-Encoding
    Variational Bayes"); discrete sites add a REINFORCE term (Williams 1992) whose baseline, with
    several particles, is the mean signal of the other particles.

    With ``analytic_kl`` each site whose guide and prior distributions have a closed-form
    KL(q ‖ p) in ``torch.distributions`` contributes −KL instead of the Monte Carlo log p − log q
    (the paper's estimator B, eq. 7: same expectation, lower variance); the other sites keep the
    Monte Carlo terms.

    With ``anneal`` (steps) the latent terms, log p(z) − log q(z) (or −KL), are weighted by
    β = min(1, step / anneal) in the loss, the likelihood terms by 1: the KL annealing or
    "warm-up" of Bowman et al. 2016 and Sønderby et al. 2016. The reported bound is always the
    unweighted ELBO. Continuous latents only."""

    name = "sgvb"
    uses_signals = True

    def __init__(self, particles: int | None = None, analytic_kl: bool = False, anneal: int | None = None,
                 signals: str = "downstream"):  # fmt: skip
        super().__init__(particles, signals)
        self.analytic_kl = analytic_kl
        self.kl_sites: set[str] = set()
        self.anneal = anneal
        self.beta = 1.0 if not anneal else 0.0

    def set_step(self, step: int) -> None:
        """The training loop's step (1-based), which sets the annealing weight β."""
        if self.anneal:
            self.beta = min(1.0, step / self.anneal)

    def bind(self, sites, guide=None) -> None:
        super().bind(sites, guide)
        self.sites = {s.name: s for s in sites}
        if self.anneal and (self.discrete_sites or self.enumerated):
            raise ModelError("--anneal is for models whose latents are all continuous (pathwise gradients).")
        if self.analytic_kl:
            from zsdsl.runtime.vi.guides import CompiledGuide

            if not isinstance(guide, CompiledGuide):
                raise ModelError("--analytic-kl needs a guide block of the spec (its distributions are named there).")
            if self.discrete_sites:
                raise ModelError("--analytic-kl is for models whose latents are continuous or enumerated.")

    def estimators(self, sites) -> dict[str, str]:
        out = super().estimators(sites)
        if self.analytic_kl:
            kl = "pathwise; analytic KL where the guide/prior pair has one"
            out.update({s.name: kl for s in sites if s.name not in self.enumerated})
        return out

    def loss(self, model, guide, data, subsample=None):
        if self.enumerated:
            from zsdsl.runtime.vi.guide_enum import enumerated_elbo

            elbo, factor = enumerated_elbo(self, model, guide, data, subsample)
            return -(elbo + _mean(factor)), elbo.detach()
        if self.analytic_kl:
            return self._loss_analytic_kl(model, guide, data, subsample)
        if not self.discrete_sites:  # pathwise only: the total bound, no per-element signals needed
            values, log_q, factor = guide.sample_and_log_prob(data, (self.particles,), subsample)
            annealing = self.beta < 1  # the per-site terms are needed only then
            log_p = model.log_joint(values, data, subsample, per_site=annealing)
            log_p, p_terms = log_p if annealing else (log_p, None)
            elbo = (log_p - log_q).mean()
            surrogate = self._annealed(elbo, p_terms) if annealing else elbo
            return -(surrogate + _mean(factor)), elbo.detach()
        w = self.log_weights(model, guide, data, subsample, self.particles)
        elbo = w.local.sum(-1).mean() + w.glob.mean()
        surrogate = elbo
        k = self.particles
        for log_q, signal in w.score_terms():
            signal = signal.detach()
            if k > 1:
                signal = signal - (signal.sum(0, keepdim=True) - signal) / (k - 1)
            surrogate = surrogate + (signal * log_q).sum(-1).mean()
        return -(surrogate + _mean(w.factor)), elbo.detach()

    def _loss_analytic_kl(self, model, guide, data, subsample):
        from zsdsl.runtime.lib.model_base import total_of_terms
        from zsdsl.runtime.lib.plates import reduce_terms

        _, lp, lq, factor = self.terms_with_kl(model, guide, data, subsample, self.particles)
        p_terms = reduce_terms(lp, model.term_plates)
        elbo = (
            total_of_terms(p_terms, False) - total_of_terms(reduce_terms(lq, guide.guide.term_plates), False)
        ).mean()
        surrogate = self._annealed(elbo, p_terms) if self.beta < 1 else elbo
        return -(surrogate + _mean(factor)), elbo.detach()

    def terms_with_kl(self, model, guide, data, subsample, runs: int, given: dict | None = None):
        """``(values, lp, lq, factor)``: the unreduced per-site terms of ``runs`` guide draws, where
        each site whose guide and prior distributions have a closed-form KL has log p = −KL(q ‖ p)
        (scaled like its terms) and log q = 0. Enumerated sites keep their Monte Carlo terms."""
        import torch.distributions as td

        from zsdsl.runtime.lib.model_base import total_of_terms
        from zsdsl.runtime.lib.plates import reduce_terms

        q_dists, p_dists = {}, {}
        inner = guide.guide  # the compiled guide block (analytic KL needs one)
        values, lq, fac = inner.guide_terms(data, (runs,), subsample, given, q_dists)
        factor = total_of_terms(reduce_terms(fac, inner.term_plates, None), False) if fac else 0.0
        lp, _ = model.log_terms(values, data, subsample, priors=p_dists)
        sizes = model.plate_sizes()
        for name, q in q_dists.items():
            if name not in p_dists or name in self.enumerated:
                continue
            try:
                kl = td.kl_divergence(q, p_dists[name])
            except NotImplementedError:
                continue
            self.kl_sites.add(name)
            kl = torch.broadcast_to(kl, values[name].shape)
            extra = kl.dim() - lp[name].dim()  # the event dims, summed in the site's term
            kl = kl.sum(tuple(range(-extra, 0))) if extra > 0 else kl
            scale = 1.0
            for plate in model.term_plates.get(name, ()):
                if subsample and subsample.get(plate) is not None:
                    scale *= float(sizes[plate]) / len(subsample[plate])
            lp[name], lq[name] = -scale * kl, torch.zeros_like(lq[name])
        return values, lp, lq, factor

    def _annealed(self, elbo: torch.Tensor, p_terms: dict) -> torch.Tensor:
        """β·ELBO + (1 − β)·(the likelihood terms): the latent terms weighted by β."""
        likelihood = sum((t for n, t in p_terms.items() if n not in self.sites), torch.zeros(())).mean()
        return likelihood + self.beta * (elbo - likelihood)


class IWAE(Objective):
    """The importance-weighted bound Σ_b log (1/k) Σ_i w_ib (Burda, Grosse & Salakhutdinov 2016,
    "Importance Weighted Autoencoders"); discrete sites use the bound as a REINFORCE signal."""

    name = "iwae"
    default_particles = 5

    def loss(self, model, guide, data, subsample=None):
        w = self.log_weights(model, guide, data, subsample, self.particles)
        per_point = _logmeanexp(w.unscaled(), 0)  # [B], each element's bound
        bound = w.scale * per_point.sum() + w.glob.mean()
        surrogate = bound
        if w.log_q_sf is not None:  # (log q carries N/B)
            surrogate = surrogate + (per_point.detach() * w.log_q_sf).sum()
        return -(surrogate + _mean(w.factor)), bound.detach()


class VIMCO(Objective):
    """The multi-sample bound with leave-one-out baselines (Mnih & Rezende 2016, "Variational
    inference for Monte Carlo objectives"): particle i's signal is the bound minus the bound with
    log w_i replaced by the mean of the other particles' log weights."""

    name = "vimco"
    default_particles = 5

    def __init__(self, particles: int | None = None):
        super().__init__(particles)
        if self.particles < 2:
            raise OptionError(f"--infer vimco needs --particles of at least 2 (its baselines leave one out), "
                              f"not {self.particles}.")  # fmt: skip

    def loss(self, model, guide, data, subsample=None):
        k = self.particles
        w = self.log_weights(model, guide, data, subsample, k)
        per_point = _logmeanexp(w.unscaled(), 0)  # [B], each element's bound
        bound = w.scale * per_point.sum() + w.glob.mean()
        surrogate = bound
        if w.log_q_sf is not None:  # (log q carries N/B)
            lw = w.unscaled().detach()  # [k, B]
            others = (lw.sum(0, keepdim=True) - lw) / (k - 1)
            eye = torch.eye(k, dtype=torch.bool).unsqueeze(-1)  # [i, j, 1]
            replaced = torch.where(eye, others.unsqueeze(1), lw.unsqueeze(0))  # [i, j, B]
            loo = _logmeanexp(replaced, 1)  # [i, B]
            signal = per_point.detach().unsqueeze(0) - loo
            surrogate = surrogate + (signal * w.log_q_sf).sum()
        return -(surrogate + _mean(w.factor)), bound.detach()


class NVIL(Objective):
    """Neural variational inference and learning (Mnih & Gregor 2014): REINFORCE on the ELBO with
    a moving-average baseline and variance normalisation of the per-element learning signal.

    With ``signals="downstream"`` (the default) each discrete site of a compiled guide block has its
    own signal, the terms downstream of it (the paper's local learning signals, §3.3), with its own
    moving average and normaliser; ``"joint"`` gives every site the whole log weight.

    With ``baseline="learned"`` an input-dependent baseline b(x) — an MLP (100 tanh units) of the
    observed rows of the element, one output per signal — is subtracted as well and trained to
    minimise E[(l − c − b(x))²] (the paper's §3.2); it never changes the expected gradient, only its
    variance."""

    name = "nvil"
    uses_signals = True

    def __init__(self, particles: int | None = None, decay: float = 0.8, baseline: str = "moving",
                 hidden: int = 100, signals: str = "downstream"):  # fmt: skip
        super().__init__(particles, signals)
        if baseline not in ("moving", "learned"):
            raise ValueError(f"unknown NVIL baseline {baseline!r}; use moving or learned")
        self.decay, self.baseline, self.hidden = decay, baseline, hidden
        self.mean = torch.zeros(())
        self.var = torch.ones(())
        self.initialised = False
        self.net = None
        self.inputs: list = []

    def prepare(self, model, data) -> None:
        if self.baseline != "learned":
            return
        plate = self.local_plate
        self.inputs = [name for name in model.observed if name in data and plate in model.term_plates.get(name, ())]
        if plate is None or not self.inputs:
            raise ModelError("nvil's learned baseline reads the observed data of each element of a plate; this "
                             "model has no latents local to one plate with observed data in it.")  # fmt: skip
        width = sum(math.prod(data[name].shape[1:]) for name in self.inputs)
        outputs = max(1, len(self.score_sites(model)))
        self.net = torch.nn.Sequential(torch.nn.Linear(width, self.hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(self.hidden, outputs))  # fmt: skip

    def parameters(self) -> list:
        return list(self.net.parameters()) if self.net is not None else []

    def _baseline(self, data, subsample):
        idx = subsample.get(self.local_plate) if subsample else None
        rows = []
        for name in self.inputs:
            x = data[name]
            x = x if idx is None else x.index_select(0, idx)
            rows.append(x.reshape(x.shape[0], -1).to(self.net[0].weight.dtype))
        return self.net(torch.cat(rows, -1)).T.unsqueeze(1)  # [signals, 1, B]

    def loss(self, model, guide, data, subsample=None):
        w = self.log_weights(model, guide, data, subsample, self.particles)
        elbo = w.local.sum(-1).mean() + w.glob.mean()
        surrogate = elbo
        pairs = w.score_terms()
        if pairs:
            log_q = torch.stack([q for q, _ in pairs])  # [signals, k, B]
            signal = torch.stack([torch.broadcast_to(s, q.shape) for q, s in pairs]).detach()
            dims = (1, 2)  # per signal: its mean and variance over particles and elements
            if self.net is not None:
                b = self._baseline(data, subsample)
                surrogate = surrogate - (signal - self.mean - b).pow(2).mean(dims).sum()  # trains b only
                signal = signal - b.detach()
            avg = self._over_batch
            if not self.initialised:
                mean = avg(signal.mean(dims, keepdim=True))
                var = avg((signal - mean).pow(2).mean(dims, keepdim=True))
                self.mean, self.var, self.initialised = mean, var + 1.0, True
            # centre with the baseline from before this step, so it is independent of these draws
            centred = (signal - self.mean) / torch.clamp(self.var.sqrt(), min=1.0)
            surrogate = surrogate + (centred * log_q).sum(-1).mean(-1).sum()
            d = self.decay
            self.mean = d * self.mean + (1 - d) * avg(signal.mean(dims, keepdim=True))
            self.var = d * self.var + (1 - d) * avg((signal - self.mean).pow(2).mean(dims, keepdim=True))
        return -(surrogate + _mean(w.factor)), elbo.detach()

    def state_dict(self) -> dict:
        out = {"mean": self.mean, "var": self.var, "initialised": self.initialised}
        if self.net is not None:
            out["net"] = self.net.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.var, self.initialised = state["mean"], state["var"], state["initialised"]
        if self.net is not None and "net" in state:
            self.net.load_state_dict(state["net"])


class RWS(Objective):
    """Reweighted wake-sleep (Bornschein & Bengio 2015): with self-normalised importance weights
    w̃ of k guide draws, the model follows Σ w̃ ∇ log p (wake-θ) and the guide Σ w̃ ∇ log q (wake-φ);
    the draws themselves carry no gradient. The reported value is the IWAE bound."""

    name = "rws"
    default_particles = 5

    def loss(self, model, guide, data, subsample=None):
        w = self.log_weights(model, guide, data, subsample, self.particles, fixed_draws=True)
        per_point = _logmeanexp(w.unscaled().detach(), 0)
        bound = w.scale * per_point.sum() + w.glob.detach().mean()
        norm = torch.softmax(w.unscaled().detach(), 0)  # [k, B]: each element's normalised weights
        surrogate = (norm * (w.log_p_local + w.log_q_local)).sum() + (w.glob + 0.0).mean()
        return -(surrogate + _mean(w.factor)), bound


class MAP(SGVB):
    """Maximum a posteriori point estimates: the ELBO of a point-mass guide (``auto-delta``) is the log
    joint, so this maximises it over the latents and the params together."""

    name = "map"


OBJECTIVES = {"sgvb": SGVB, "iwae": IWAE, "vimco": VIMCO, "nvil": NVIL, "rws": RWS, "map": MAP}


def make_objective(name: str, particles: int | None = None, analytic_kl: bool = False, baseline: str = "moving",
                   anneal: int | None = None, signals: str = "downstream") -> Objective:  # fmt: skip
    if anneal:
        if name != "sgvb":
            raise OptionError(f"--anneal applies to sgvb, not {name}.")
        return SGVB(particles, analytic_kl=analytic_kl, anneal=anneal, signals=signals)
    if baseline != "moving":
        if name != "nvil":
            raise OptionError(f"--baseline {baseline} applies to nvil, not {name}.")
        return NVIL(particles, baseline=baseline, signals=signals)
    if analytic_kl:
        if name != "sgvb":
            raise OptionError(f"--analytic-kl applies to sgvb, not {name}.")
        return SGVB(particles, analytic_kl=True, signals=signals)
    cls = OBJECTIVES[name]
    return cls(particles, signals=signals) if cls.uses_signals else cls(particles)
