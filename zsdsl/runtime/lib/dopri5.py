"""The Dormand–Prince 5(4) integrator of the ODE solutions' coupled sensitivity systems, compiled by numba.

``integrate(rhs, times, y0, a, rtol, atol, max_steps, out)`` solves ``dy/dt = rhs(t, y, a)`` from
``times[0]`` to ``times[-1]`` and writes the state at ``times[1:]`` into ``out`` (``[T, D]``) by the pair's
dense output. ``rhs(t, y, a, dy)`` writes the derivative into ``dy``; it is the straight-line function of
``zsdsl.compiler.ode_sens``, compiled by ``ode_jit`` (numba's ``njit``) so that the whole solve runs as
machine code: a Lotka–Volterra gradient costs tens of microseconds instead of milliseconds of Python.

The method is SciPy's ``RK45`` step for step (its tableau, its initial step, its step-size control: an RMS
error norm scaled by ``atol + rtol * max(|y|, |y_new|)`` over every component, the sensitivities included,
as Stan's coupled system; safety 0.9, factors in [0.2, 10]), so SciPy is its reference in the tests.
``max_steps`` bounds the steps between two output times, as Stan's ``max_num_steps``. The status it
returns: ``OK``, ``MAX_STEPS``, ``UNDERFLOW`` (the step size fell below the spacing of the time) or
``NOT_FINITE`` (the state left the reals); ``ode.py`` turns the last three into a rejected proposal.

``NUMBA_DISABLE_JIT=1`` runs the same code as Python (slowly), for debugging.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.integrate import RK45

OK, MAX_STEPS, UNDERFLOW, NOT_FINITE = 0, 1, 2, 3

_C = np.ascontiguousarray(RK45.C, dtype=np.float64)  # the Dormand–Prince tableau, as SciPy holds it
_A = np.ascontiguousarray(RK45.A, dtype=np.float64)
_B = np.ascontiguousarray(RK45.B, dtype=np.float64)
_E = np.ascontiguousarray(RK45.E, dtype=np.float64)
_P = np.ascontiguousarray(RK45.P, dtype=np.float64)  # the dense output's polynomial, [7, 4]
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0
_EXPONENT = -1.0 / 5.0  # -1 / (error estimator order + 1)
_EPS = 2.220446049250313e-16


def ode_jit(fn):
    """Compile a sensitivity system (the generated code applies it to each ``ode_sens`` function).
    ``integrate`` is compiled for each system it is given (the right-hand side inlined into the stepper:
    five times faster than a call through a function pointer), once per process, before chains fork; a
    model loaded again (the same code) reuses both."""
    key = fn.__code__  # equal for the same generated source, whichever module object it was run in
    if key not in _COMPILED:
        import numba
        from numba import types

        vec = types.float64[::1]
        # error_model="numpy": a division by zero is inf (then a non-finite state: a rejection), not an exception
        _COMPILED[key] = numba.njit(types.void(types.float64, vec, vec, vec), nogil=True, error_model="numpy")(fn)
    return _COMPILED[key]


_COMPILED: dict = {}


def integrate(rhs, times, y0, a, rtol, atol, max_steps, out):
    """Solve from ``times[0]``; ``out[i - 1]`` is the state at ``times[i]``. Returns (status, i): the
    output time the solve was heading for when it stopped (``len(times)`` when it finished)."""
    _compile_kernels()
    return _integrate(rhs, times, y0, a, float(rtol), float(atol), int(max_steps), out)


@functools.cache
def _compile_kernels() -> None:
    """numba is imported, and the kernels below compiled, only when a model solves an ODE: importing
    zsdsl stays fast. The module's names are rebound to the compiled kernels, which call each other."""
    import numba

    g = globals()
    g["_rms"] = numba.njit(g["_rms"], cache=True, nogil=True, error_model="numpy")
    for name in ("_initial_step", "_integrate"):  # specialised for each right-hand side: not cached on disk
        g[name] = numba.njit(g[name], nogil=True, error_model="numpy")


def _rms(x, scale):
    s = 0.0
    for k in range(x.size):
        r = x[k] / scale[k]
        s += r * r
    return math.sqrt(s / x.size)


def _initial_step(rhs, t0, y0, f0, a, span, rtol, atol):
    """SciPy's ``select_initial_step`` (Hairer, Nørsett and Wanner's rule) for a 5(4) pair."""
    scale = atol + np.abs(y0) * rtol
    d0, d1 = _rms(y0, scale), _rms(f0, scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, span)
    y1 = y0 + h0 * f0
    f1 = np.empty_like(y0)
    rhs(t0 + h0, y1, a, f1)
    d2 = _rms(f1 - f0, scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** 0.2
    return min(100.0 * h0, h1, span)


def _integrate(rhs, times, y0, a, rtol, atol, max_steps, out):
    D = y0.size
    K = np.empty((7, D))
    y = y0.copy()
    t, t_end = times[0], times[-1]
    rhs(t, y, a, K[0])
    for k in range(D):
        if not math.isfinite(K[0, k]):
            return NOT_FINITE, 1
    h_abs = _initial_step(rhs, t, y, K[0], a, t_end - t, rtol, atol)
    y_new, stage, scale = np.empty(D), np.empty(D), np.empty(D)
    err = np.empty(D)
    i, steps = 1, 0
    while i < times.size:
        min_step = 10.0 * max(abs(t) * _EPS, 5e-324)
        h_abs = max(h_abs, min_step)
        rejected = False
        while True:  # one accepted step
            if h_abs < min_step:
                return UNDERFLOW, i
            t_new = min(t + h_abs, t_end)
            h = t_new - t
            for s in range(1, 6):
                for k in range(D):
                    acc = 0.0
                    for j in range(s):
                        acc += _A[s, j] * K[j, k]
                    stage[k] = y[k] + h * acc
                rhs(t + _C[s] * h, stage, a, K[s])
            for k in range(D):
                acc = 0.0
                for j in range(6):
                    acc += _B[j] * K[j, k]
                y_new[k] = y[k] + h * acc
            rhs(t_new, y_new, a, K[6])
            finite = True
            for k in range(D):
                acc = 0.0
                for j in range(7):
                    acc += _E[j] * K[j, k]
                err[k] = h * acc
                scale[k] = atol + max(abs(y[k]), abs(y_new[k])) * rtol
                if not (math.isfinite(y_new[k]) and math.isfinite(K[6, k])):
                    finite = False
            if not finite:
                return NOT_FINITE, i
            norm = _rms(err, scale)
            if norm < 1.0:
                factor = _MAX_FACTOR if norm == 0.0 else min(_MAX_FACTOR, _SAFETY * norm**_EXPONENT)
                if rejected:
                    factor = min(1.0, factor)
                h_abs = abs(h) * factor
                break
            h_abs = abs(h) * max(_MIN_FACTOR, _SAFETY * norm**_EXPONENT)
            rejected = True
        steps += 1
        while i < times.size and times[i] <= t_new:  # the dense output inside the step just taken
            x = (times[i] - t) / h
            for k in range(D):
                acc, power = 0.0, 1.0
                for q in range(4):
                    power *= x
                    c = 0.0
                    for j in range(7):
                        c += K[j, k] * _P[j, q]
                    acc += c * power
                out[i - 1, k] = y[k] + h * acc
            i += 1
            steps = 0
        if i < times.size and steps >= max_steps:
            return MAX_STEPS, i
        t = t_new
        for k in range(D):
            y[k] = y_new[k]
            K[0, k] = K[6, k]
    return OK, i
