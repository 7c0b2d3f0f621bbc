"""The NUTS transition of ``nuts.py`` compiled by numba together with a model's kernel (diagonal metric).

With the gradient compiled (``emit_kernel``), a small model's NUTS time is the Python of the tree: about
30 µs a leapfrog against a 2–7 µs gradient. ``sampler_module(kernel_text)`` appends the functions below
to the kernel's module text, so that they call ``kernel`` as a global of their own module and numba
caches the whole sampler with the model (``kernel_cache``; a first-class function argument would be
compiled again in every run). The algorithm, the order of the random numbers drawn from the chain's
``numpy.random.Generator`` (numba draws the same streams) and the floating-point operations are those
of ``nuts.nuts_transition``, so a chain gives the same draws on both (tested to 1e-9). A point where the
kernel raises (a matrix that is not positive definite) has infinite energy, as on the Python path.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from zsdsl.runtime.mcmc.nuts import logaddexp

kernel = None  # in the sampler module: the model's kernel (this module's functions are compiled there)


def _call(z, args):
    return kernel(z, *args)  # (not inside the try below: numba takes no star-arguments there)


def _energy_grad(z, args):
    try:
        return _call(z, args)
    except Exception:  # noqa: BLE001 - numba catches without naming: the kernel raises LinAlgError only
        return math.inf, np.zeros(z.shape[0])


def _leaf(z, g, r, eps, inv, H0, max_err, args):
    r = r - (0.5 * eps) * g
    z_new = z + eps * (inv * r)
    U, g_new = _energy_grad(z_new, args)
    r_new = r - (0.5 * eps) * g_new
    v = inv * r_new
    H = U + 0.5 * np.dot(r_new, v)
    if not math.isfinite(H):
        H = math.inf
    err = H - H0
    accept = math.exp(-err) if err > 0 else 1.0
    return (z_new, U, g_new, r_new, r_new, v, v, z_new, U, g_new, -err, r_new, 1, accept, err > max_err, False)


def _build(z, g, r, depth, eps, inv, H0, max_err, rng, args):
    """A subtree of 2**depth leapfrogs from (z, g, r) with signed step ``eps``: the tuple of ``_leaf``
    (end z, U, grad; first r, last r, first v, last v; proposal z, U, grad; log weight, rho, n, accept sum,
    divergent, turning)."""
    if depth == 0:
        return _leaf(z, g, r, eps, inv, H0, max_err, args)
    a = _build(z, g, r, depth - 1, eps, inv, H0, max_err, rng, args)
    if a[14] or a[15]:
        return a
    b = _build(a[0], a[2], a[4], depth - 1, eps, inv, H0, max_err, rng, args)
    n, acc = a[12] + b[12], a[13] + b[13]
    if b[14] or b[15]:
        return (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], n, acc, b[14], b[15])
    log_w = logaddexp(a[10], b[10])
    pz, pU, pg = a[7], a[8], a[9]
    if b[10] > log_w or rng.random() < math.exp(b[10] - log_w):
        pz, pU, pg = b[7], b[8], b[9]
    rho = a[11] + b[11]
    vb, ve = a[5], b[6]
    turning = (
        not (np.dot(ve, rho) > 0 and np.dot(vb, rho) > 0)
        or not (np.dot(b[5], a[11]) + np.dot(b[5], b[3]) > 0 and np.dot(vb, a[11]) + np.dot(vb, b[3]) > 0)
        or not (np.dot(ve, b[11]) + np.dot(ve, a[4]) > 0 and np.dot(a[6], b[11]) + np.dot(a[6], a[4]) > 0)
    )
    return (b[0], b[1], b[2], a[3], b[4], a[5], b[6], pz, pU, pg, log_w, rho, n, acc, False, turning)


def _turning(v_minus, v_plus, rho):
    return not (np.dot(v_plus, rho) > 0 and np.dot(v_minus, rho) > 0)


def nuts_step(z, U, g, eps, inv, chol, rng, max_depth, max_err, args):
    """One transition: (z, U, grad, accept_stat, depth, n_leapfrog, divergent, H0), as ``nuts_transition``."""
    r0 = chol * rng.standard_normal(inv.shape[0])
    v0 = inv * r0
    H0 = U + 0.5 * np.dot(r0, v0)
    zl, gl, zr, gr = z, g, z, g
    r_left, r_right, v_left, v_right = r0, r0, v0, v0
    rho = r0
    sz, sU, sg, log_w = z, U, g, 0.0
    depth, n, acc, divergent = 0, 0, 0.0, False
    while depth < max_depth:
        forward = rng.random() > 0.5
        if forward:
            sub = _build(zr, gr, r_right, depth, eps, inv, H0, max_err, rng, args)
        else:
            sub = _build(zl, gl, r_left, depth, -eps, inv, H0, max_err, rng, args)
        n, acc = n + sub[12], acc + sub[13]
        depth += 1
        if sub[14]:
            divergent = True
            break
        if sub[15]:
            break
        if sub[10] > log_w or rng.random() < math.exp(sub[10] - log_w):
            sz, sU, sg = sub[7], sub[8], sub[9]
        log_w = logaddexp(log_w, sub[10])
        if forward:  # the old tree (left) and the new subtree (right), in time order
            L1, Lv0, Lv1, Lrho = r_right, v_left, v_right, rho
            R0, Rv0, Rv1, Rrho = sub[3], sub[5], sub[6], sub[11]
            zr, gr, r_right, v_right = sub[0], sub[2], sub[4], sub[6]
        else:
            L1, Lv0, Lv1, Lrho = sub[3], sub[6], sub[5], sub[11]
            R0, Rv0, Rv1, Rrho = r_left, v_left, v_right, rho
            zl, gl, r_left, v_left = sub[0], sub[2], sub[4], sub[6]
        rho = Lrho + Rrho
        if _turning(Lv0, Rv1, rho) or _turning(Lv0, Rv0, Lrho + R0) or _turning(Lv1, Rv1, Rrho + L1):
            break
    return sz, sU, sg, acc / max(n, 1), depth, n, divergent, H0


SAMPLER_FUNCTIONS = (_call, _energy_grad, logaddexp, _leaf, _build, _turning, nuts_step)


# read once, at import: a file edited under a running process must not change what it compiles
_SOURCE = "\n".join("\n" + inspect.getsource(fn).rstrip("\n") + "\n" for fn in SAMPLER_FUNCTIONS)


def sampler_module(kernel_text: str) -> str:
    """The kernel's module with the NUTS functions after it (they call its ``kernel``)."""
    head = [kernel_text.rstrip("\n"), "", "", "# NUTS, from zsdsl.runtime.mcmc.nuts_jit (compiled with the kernel)"]
    return "\n".join([*head, _SOURCE]) + "\n"
