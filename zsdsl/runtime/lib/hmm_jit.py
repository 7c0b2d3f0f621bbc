"""Stan's ``hmm_marginal`` and its gradient for the emitted gradient path, compiled by numba.

``hmm_forward_np(lo, gamma, rho)`` is (log p(y), tape) for log emission densities ``lo`` [K, N],
transitions ``gamma`` [K, K] (row = from) and initial probabilities ``rho`` [K], by the forward
algorithm with a scale per step; ``hmm_adjoint_np(lo, gamma, rho, tape)`` is d log p / d(lo, gamma, rho)
from the scaled backward messages: the smoothed marginals P(z_t = k | y) for ``lo``,
sum_t alpha_{t-1}(i) w_t(j) beta_t(j) / s_t for ``gamma``, w_0 beta_0 / s_0 for ``rho``. Both are O(N K²)
loops in machine code (a 2-state HMM of 416 steps: a few microseconds, against about 0.6 ms for the
batched NumPy product tree they replace). numba is imported, and the kernels compiled (and cached on
disk), on first use: importing zsdsl stays fast. A zero probability gives -inf, not an exception.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def hmm_forward_np(lo, gamma, rho):
    k = _kernels()
    lo, gamma, rho = (np.ascontiguousarray(x, dtype=np.float64) for x in (lo, gamma, rho))
    total, w, alpha, s = k[0](lo, gamma, rho)
    return total, (w, alpha, s)


def hmm_adjoint_np(lo, gamma, rho, tape):
    w, alpha, s = tape
    return _kernels()[1](np.ascontiguousarray(gamma, dtype=np.float64), np.ascontiguousarray(rho, dtype=np.float64),
                         w, alpha, s)  # fmt: skip


def _forward(lo, gamma, rho):
    K, N = lo.shape
    w = np.empty((K, N))
    alpha = np.empty((K, N))  # scaled: each column sums to 1
    s = np.empty(N)
    total = 0.0
    for t in range(N):
        c = lo[0, t]
        for k in range(1, K):
            c = max(c, lo[k, t])
        total += c
        for k in range(K):
            w[k, t] = math.exp(lo[k, t] - c)
    norm = 0.0
    for k in range(K):
        alpha[k, 0] = rho[k] * w[k, 0]
        norm += alpha[k, 0]
    s[0] = norm
    total += math.log(norm)
    for k in range(K):
        alpha[k, 0] /= norm
    for t in range(1, N):
        norm = 0.0
        for j in range(K):
            acc = 0.0
            for i in range(K):
                acc += alpha[i, t - 1] * gamma[i, j]
            alpha[j, t] = acc * w[j, t]
            norm += alpha[j, t]
        s[t] = norm
        total += math.log(norm)
        for j in range(K):
            alpha[j, t] /= norm
    return total, w, alpha, s


def _adjoint(gamma, rho, w, alpha, s):
    K, N = w.shape
    g_lo = np.empty((K, N))
    g_gamma = np.zeros((K, K))
    beta = np.ones(K)  # scaled backward messages
    prev = np.empty(K)
    for t in range(N - 1, 0, -1):
        for k in range(K):
            g_lo[k, t] = alpha[k, t] * beta[k]
        for i in range(K):
            acc = 0.0
            for j in range(K):
                wb = w[j, t] * beta[j] / s[t]
                g_gamma[i, j] += alpha[i, t - 1] * wb
                acc += gamma[i, j] * wb
            prev[i] = acc
        for i in range(K):
            beta[i] = prev[i]
    g_rho = np.empty(K)
    for k in range(K):
        g_lo[k, 0] = alpha[k, 0] * beta[k]
        g_rho[k] = w[k, 0] * beta[k] / s[0]
    return g_lo, g_gamma, g_rho


@functools.cache
def _kernels():
    import numba

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    return jit(_forward), jit(_adjoint)
