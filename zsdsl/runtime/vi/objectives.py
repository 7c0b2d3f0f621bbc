"""Variational objectives: one base class, one subclass per estimator.

``Objective.loss(model, guide, data, subsample)`` returns ``(surrogate_loss, bound)``:
minimising the surrogate follows an unbiased (or, for IWAE/VIMCO, the paper's) gradient
of the bound, whose value is reported. Sites with pathwise gradients (continuous,
reparameterised draws) use them; discrete sites get a score-function term.
"""

from __future__ import annotations

import math

import torch


class Objective:
    """Shared machinery: particle draws, per-site log-densities, score-function terms."""

    name = "objective"

    def __init__(self, particles: int = 1):
        self.particles = int(particles)

    def weights(self, model, guide, data, subsample, k: int):
        values, (log_q, q_terms), factor = guide.sample_and_log_prob(data, (k,), subsample, per_site=True)
        log_p = model.log_joint(values, data, subsample)
        discrete = [n for n in q_terms if n in self.discrete_sites]
        log_q_sf = sum(q_terms[n] for n in discrete) if discrete else None
        return log_p - log_q, log_q_sf, factor

    def bind(self, sites) -> None:
        self.discrete_sites = {s.name for s in sites if s.discrete and not s.enumerate}

    def loss(self, model, guide, data, subsample=None):
        raise NotImplementedError


class SGVB(Objective):
    """The evidence lower bound with pathwise gradients (Kingma & Welling 2014, "Auto-Encoding
    Variational Bayes"); discrete sites add a REINFORCE term (Williams 1992) with the batch-mean
    baseline of the other particles when there are several."""

    name = "sgvb"

    def loss(self, model, guide, data, subsample=None):
        log_w, log_q_sf, factor = self.weights(model, guide, data, subsample, self.particles)
        elbo = log_w.mean()
        surrogate = elbo
        if log_q_sf is not None:
            signal = log_w.detach()
            if self.particles > 1:
                signal = signal - (signal.sum() - signal) / (self.particles - 1)
            surrogate = surrogate + (signal * log_q_sf).mean()
        surrogate = surrogate + _mean(factor)
        return -surrogate, elbo.detach()


class IWAE(Objective):
    """The importance-weighted bound log (1/k) Σ w_i (Burda, Grosse & Salakhutdinov 2016);
    discrete sites use the bound as a REINFORCE signal."""

    name = "iwae"

    def __init__(self, particles: int = 5):
        super().__init__(particles)

    def loss(self, model, guide, data, subsample=None):
        log_w, log_q_sf, factor = self.weights(model, guide, data, subsample, self.particles)
        bound = torch.logsumexp(log_w, 0) - math.log(self.particles)
        surrogate = bound
        if log_q_sf is not None:
            surrogate = surrogate + bound.detach() * log_q_sf.sum()
        return -(surrogate + _mean(factor)), bound.detach()


class VIMCO(Objective):
    """Multi-sample bound with leave-one-out baselines per particle (Mnih & Rezende 2016,
    "Variational inference for Monte Carlo objectives"); the baseline replaces log w_i by the
    geometric mean of the other weights."""

    name = "vimco"

    def __init__(self, particles: int = 5):
        super().__init__(particles)
        if self.particles < 2:
            raise ValueError("vimco needs at least 2 particles")

    def loss(self, model, guide, data, subsample=None):
        k = self.particles
        log_w, log_q_sf, factor = self.weights(model, guide, data, subsample, k)
        bound = torch.logsumexp(log_w, 0) - math.log(k)
        surrogate = bound
        if log_q_sf is not None:
            lw = log_w.detach()
            others_mean = (lw.sum() - lw) / (k - 1)
            loo = []
            for i in range(k):
                replaced = lw.clone()
                replaced[i] = others_mean[i]
                loo.append(torch.logsumexp(replaced, 0) - math.log(k))
            signal = bound.detach() - torch.stack(loo)
            surrogate = surrogate + (signal * log_q_sf).sum()
        return -(surrogate + _mean(factor)), bound.detach()


def _mean(factor):
    return factor.mean() if torch.is_tensor(factor) and factor.dim() else factor


OBJECTIVES = {"sgvb": SGVB, "iwae": IWAE, "vimco": VIMCO}


def make_objective(name: str, particles: int | None = None) -> Objective:
    cls = OBJECTIVES[name]
    return cls() if particles is None else cls(particles)
