"""numba's versions of the functions the emitted gradient calls, for its numba kernel (``emit_kernel``).

The kernel module imports ``cholesky_lower, dtrtri, sla, sp`` from here in place of the gradient module's
helpers and SciPy names (``jitnp`` has its ``np``, ``add_reduce`` and ``logsumexp``); each computes what
that name computes there (tested against it): ``sp`` holds ``gammaln, digamma, polygamma (order 1), erf,
xlogy, logit`` as ufuncs, ``sla`` holds ``solve_triangular`` (lower-triangular). Importing this module
imports numba: only the kernel path does.
"""

from __future__ import annotations

import math
import types

import numba
import numpy as np
from numba.extending import overload

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_VEC = {"cache": True, "nopython": True}


@numba.njit(**_JIT)
def cholesky_lower(a):
    """The lower Cholesky factor; a matrix that is not positive definite raises LinAlgError, as NumPy's."""
    return np.linalg.cholesky(a)


@numba.njit(**_JIT)
def dtrtri(a, lower=1):
    """(L⁻¹, 0) for a lower-triangular L, as LAPACK's dtrtri(a, lower=1): forward substitution by columns."""
    n = a.shape[0]
    inv = np.zeros((n, n))
    for j in range(n):
        inv[j, j] = 1.0 / a[j, j]
        for i in range(j + 1, n):
            s = 0.0
            for k in range(j, i):
                s += a[i, k] * inv[k, j]
            inv[i, j] = -s / a[i, i]
    return inv, 0


# ---------------------------------------------------------------- scipy.special
@numba.njit(**_JIT)
def _digamma(x):
    if x <= 0.0 and x == math.floor(x):
        return -math.inf if x == 0.0 else math.nan
    if x < 0.0:  # reflection: ψ(x) = ψ(1 - x) - π / tan(πx)
        return _digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    r = 0.0
    while x < 10.0:  # ψ(x) = ψ(x + 1) - 1/x, up to where the asymptotic series has 1e-17 error
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (
        -1 / 12 + f * (1 / 120 + f * (-1 / 252 + f * (1 / 240 + f * (-1 / 132 + f * (691 / 32760 + f * (-1 / 12))))))
    )
    return r + math.log(x) - 0.5 / x + tail


@numba.njit(**_JIT)
def _trigamma(x):
    if x <= 0.0 and x == math.floor(x):
        return math.inf
    if x < 0.0:  # reflection: ψ₁(1 - x) + ψ₁(x) = π² / sin²(πx)
        s = math.sin(math.pi * x)
        return -_trigamma(1.0 - x) + math.pi * math.pi / (s * s)
    r = 0.0
    while x < 10.0:  # ψ₁(x) = ψ₁(x + 1) + 1/x²
        r += 1.0 / (x * x)
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (1 / 6 + f * (-1 / 30 + f * (1 / 42 + f * (-1 / 30 + f * (5 / 66 + f * (-691 / 2730 + f * (7 / 6)))))))
    return r + 1.0 / x + 0.5 * f + tail / x


@numba.vectorize(["float64(float64)"], **_VEC)
def _gammaln(x):
    return math.lgamma(x)


@numba.vectorize(["float64(float64)"], **_VEC)
def _digamma_u(x):
    return _digamma(x)


@numba.vectorize(["float64(int64, float64)"], **_VEC)
def _polygamma(n, x):
    return _trigamma(x) if n == 1 else math.nan  # the emitted code asks for order 1 only (digamma's derivative)


@numba.vectorize(["float64(float64)"], **_VEC)
def _erf(x):
    return math.erf(x)


@numba.vectorize(["float64(float64, float64)"], **_VEC)
def _xlogy(x, y):
    if x == 0.0 and not math.isnan(y):
        return 0.0
    return x * math.log(y)


@numba.vectorize(["float64(float64)"], **_VEC)
def _logit(p):
    return math.log(p / (1.0 - p))


sp = types.ModuleType("zsdsl.runtime.lib.jitlib.sp", "scipy.special's functions the emitted gradient calls")
sp.gammaln, sp.digamma, sp.polygamma, sp.erf, sp.xlogy, sp.logit = (
    _gammaln,
    _digamma_u,
    _polygamma,
    _erf,
    _xlogy,
    _logit,
)


# ---------------------------------------------------------------- scipy.linalg
def solve_triangular(a, b, trans="N", lower=True, check_finite=False):
    """scipy.linalg.solve_triangular for a lower-triangular ``a``: L x = b, or Lᵀ x = b with trans='T'."""
    import scipy.linalg

    return scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower, check_finite=check_finite)


@numba.njit(**_JIT)
def _solve_lower(a, b, transposed):
    """Columns of b (a matrix) solved against L (or Lᵀ) by substitution."""
    n = a.shape[0]
    x = b.astype(np.float64).copy()
    for c in range(x.shape[1]):
        if not transposed:
            for i in range(n):
                s = x[i, c]
                for k in range(i):
                    s -= a[i, k] * x[k, c]
                x[i, c] = s / a[i, i]
        else:
            for i in range(n - 1, -1, -1):
                s = x[i, c]
                for k in range(i + 1, n):
                    s -= a[k, i] * x[k, c]
                x[i, c] = s / a[i, i]
    return x


@overload(solve_triangular, jit_options=_JIT)
def _solve_triangular(a, b, trans="N", lower=True, check_finite=False):
    if b.ndim == 1:
        return lambda a, b, trans="N", lower=True, check_finite=False: _solve_lower(
            a, b.reshape((b.shape[0], 1)), trans == "T"
        )[:, 0]
    return lambda a, b, trans="N", lower=True, check_finite=False: _solve_lower(a, b, trans == "T")


sla = types.ModuleType("zsdsl.runtime.lib.jitlib.sla", "scipy.linalg's functions the emitted gradient calls")
sla.solve_triangular = solve_triangular
