"""Stan's warmup: dual-averaging step size (Hoffman & Gelman 2014, §3.2), windowed estimation of a
diagonal or dense metric (windows 75 / 25 doubling / 50), and the step-size initialisation heuristic."""

from __future__ import annotations

import math

import numpy as np


class DualAveraging:
    def __init__(self, eps0: float, target: float = 0.8, gamma: float = 0.05, t0: float = 10.0, kappa: float = 0.75):
        self.mu, self.target, self.gamma, self.t0, self.kappa = math.log(10 * eps0), target, gamma, t0, kappa
        self.t, self.h_bar, self.x_bar = 0, 0.0, 0.0

    def update(self, accept: float) -> float:
        self.t += 1
        eta = 1.0 / (self.t + self.t0)
        self.h_bar = (1 - eta) * self.h_bar + eta * (self.target - min(1.0, accept))
        x = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        w = self.t ** (-self.kappa)
        self.x_bar = w * x + (1 - w) * self.x_bar
        return math.exp(x)

    @property
    def final(self) -> float:
        return math.exp(self.x_bar)


def slow_window_ends(num_warmup: int, init: int = 75, term: int = 50, base: int = 25) -> list[int]:
    """Iterations (0-based, exclusive ends) at which the metric is re-estimated, as in Stan."""
    if num_warmup < 20:
        return []
    if init + term + base > num_warmup:
        init, term = int(0.15 * num_warmup), int(0.1 * num_warmup)
        base = num_warmup - init - term
    ends, start, size = [], init, base
    last = num_warmup - term
    while start < last:
        end = start + size
        if end + 2 * size > last:  # the next window would not fit: stretch this one to the end
            end = last
        ends.append(end)
        start, size = end, 2 * size
    return ends


class MetricEstimator:
    """Welford accumulation of draws in a window; the regularised estimate Stan uses."""

    def __init__(self, dim: int, dense: bool):
        self.dim, self.dense = dim, dense
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = np.zeros(self.dim)
        self.m2 = np.zeros((self.dim, self.dim) if self.dense else self.dim)

    def add(self, z: np.ndarray) -> None:
        self.n += 1
        delta = z - self.mean
        self.mean = self.mean + delta / self.n
        if self.dense:
            self.m2 = self.m2 + np.outer(delta, z - self.mean)
        else:
            self.m2 = self.m2 + delta * (z - self.mean)

    def estimate(self) -> np.ndarray:
        n = self.n
        cov = self.m2 / max(n - 1, 1)
        shrunk = (n / (n + 5.0)) * cov
        if self.dense:
            return shrunk + 1e-3 * (5.0 / (n + 5.0)) * np.eye(self.dim)
        return shrunk + 1e-3 * (5.0 / (n + 5.0))


def init_step_size(potential, state, eps: float, metric, rng) -> float:
    """Stan's heuristic: double or halve ε until one leapfrog's acceptance crosses 0.8."""
    from zsdsl.runtime.mcmc.nuts import leapfrog

    def delta_h(e):
        r = metric.momentum(rng)
        H0 = state.U + metric.kinetic(r)
        new, r1 = leapfrog(potential, state, r, e, metric)
        H = new.U + metric.kinetic(r1)
        return H0 - H if math.isfinite(H) else -math.inf

    direction = 1 if delta_h(eps) > math.log(0.8) else -1
    for _ in range(100):
        d = delta_h(eps)
        if (direction == 1 and not d > math.log(0.8)) or (direction == -1 and not d < math.log(0.8)):
            break
        eps = eps * 2.0 if direction == 1 else eps / 2.0
        if eps > 1e7 or eps < 1e-12:
            break
    return eps
