"""numba's versions of what the emitted gradient calls (``jitlib``, ``jitnp``) against NumPy's and SciPy's
own, and the kernel cache: where it writes, that it rewrites a file whose text is not its name's."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.linalg
from scipy import special

from zsdsl.runtime.lib import jitlib
from zsdsl.runtime.lib.jitnp import logsumexp
from zsdsl.runtime.lib.jitnp import np as jnp

X = np.array([-3.7, -0.5, 1e-3, 0.25, 1.0, 2.5, 7.0, 9.99, 10.0, 31.4, 1e4])


@pytest.mark.parametrize("name", ["gammaln", "digamma", "erf", "logit"])
def test_special_functions_equal_scipys(name):
    x = np.clip(X, 1e-3, 0.999) if name == "logit" else X
    np.testing.assert_allclose(getattr(jitlib.sp, name)(x), getattr(special, name)(x), rtol=1e-13, atol=1e-15)


def test_trigamma_and_xlogy_equal_scipys():
    np.testing.assert_allclose(jitlib.sp.polygamma(1, X), special.polygamma(1, X), rtol=1e-12)
    y = np.abs(X) + 0.1
    np.testing.assert_allclose(jitlib.sp.xlogy(X, y), special.xlogy(X, y), rtol=1e-15)
    assert jitlib.sp.xlogy(0.0, 0.0) == 0.0 and np.isnan(jitlib.sp.polygamma(2, 1.5))


def test_triangular_inverse_solves_and_cholesky_equal_lapacks():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(5, 5))
    S = A @ A.T + 5 * np.eye(5)
    L = jitlib.cholesky_lower(S)
    np.testing.assert_allclose(L, np.linalg.cholesky(S), rtol=1e-13)
    np.testing.assert_allclose(jitlib.dtrtri(L)[0], scipy.linalg.lapack.dtrtri(L, lower=1)[0], rtol=1e-12)
    b, B = rng.normal(size=5), rng.normal(size=(5, 3))

    @numba.njit
    def solves(L, b, B):
        return (jitlib.sla.solve_triangular(L, b, lower=True, check_finite=False),
                jitlib.sla.solve_triangular(L, B, trans="T", lower=True, check_finite=False))  # fmt: skip

    x, X2 = solves(L, b, B)
    np.testing.assert_allclose(x, scipy.linalg.solve_triangular(L, b, lower=True), rtol=1e-12)
    np.testing.assert_allclose(X2, scipy.linalg.solve_triangular(L, B, trans="T", lower=True), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        jitlib.cholesky_lower(-S)


A3 = np.random.default_rng(2).normal(size=(2, 3, 4))


@numba.njit
def _reductions(a):
    return (jnp.add.reduce(a, (1,)), jnp.add.reduce(a, (1, 2)), jnp.add.reduce(a, (-1,), keepdims=True),
            jnp.max(a, axis=(0,)), jnp.min(a, axis=(2,)), jnp.prod(a, axis=(1,)), jnp.add.reduce(a, None))  # fmt: skip


def test_reductions_over_axes_equal_numpys():
    mine = _reductions(A3)
    theirs = (A3.sum(1), A3.sum((1, 2)), A3.sum(-1, keepdims=True), A3.max(0), A3.min(2), A3.prod(1), A3.sum())
    for m, t in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(m, t, rtol=1e-14)


@numba.njit
def _logsumexps(a, b):
    return logsumexp(a, axis=(1,)), logsumexp(b, axis=(0, 1)), logsumexp(b, axis=(1,))


def test_logsumexp_over_an_axis_equals_scipys_with_infinities():
    b = np.array([[0.3, -1.2, 4.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 2.0, 1e3]])
    mine = _logsumexps(A3, b)
    with np.errstate(divide="ignore"):
        theirs = (special.logsumexp(A3, axis=1), special.logsumexp(b), special.logsumexp(b, axis=1))
    for m, t in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(m, t, rtol=1e-14)


@numba.njit
def _shapes(a, v, s):
    return (jnp.expand_dims(s, (0, 1)), jnp.expand_dims(v, (0,)), jnp.squeeze(jnp.expand_dims(v, (1,)), (1,)),
            jnp.diagonal(a[0, :, :3]), jnp.cumsum(a, 1), jnp.flip(a, 2), jnp.cumsum(v))  # fmt: skip


def test_shape_functions_equal_numpys():
    v = np.arange(4.0)
    mine = _shapes(A3, v, 2.5)
    theirs = (np.full((1, 1), 2.5), v[None], v, np.diagonal(A3[0, :, :3]), np.cumsum(A3, 1), np.flip(A3, 2),
              np.cumsum(v))  # fmt: skip
    for m, t in zip(mine, theirs, strict=True):
        assert m.shape == t.shape
        np.testing.assert_allclose(m, t, rtol=1e-15)


def test_add_at_adds_repeated_rows():
    @numba.njit
    def scatter(a, idx, b):
        jnp.add.at(a, idx, b)
        return a

    b = np.arange(6.0).reshape(3, 2)
    theirs = np.zeros((4, 2))
    np.add.at(theirs, np.array([1, 3, 1]), b)
    np.testing.assert_array_equal(scatter(np.zeros((4, 2)), np.array([1, 3, 1]), b), theirs)


KERNEL = '"""a kernel"""\n\nimport numpy as np\n\n\ndef kernel(z, c):\n    return -float(np.sum(z * c)), -c.copy()\n'


def test_the_kernel_cache_is_keyed_by_the_text_and_rewrites_a_foreign_file(tmp_path, monkeypatch):
    from zsdsl.runtime.lib import kernel_cache

    monkeypatch.setenv("ZSDSL_CACHE_DIR", str(tmp_path))
    kernel_cache._writable_dir.cache_clear()
    try:
        path = kernel_cache.kernel_path(KERNEL)
        assert path.parent == tmp_path / "kernels" and path.name.startswith("zsdsl_kernel_")
        assert kernel_cache.kernel_path(KERNEL + "\n") != path  # another text, another file
        path.write_text("raise SystemExit('not this')\n")  # a file that is not what its name promises
        U, g = kernel_cache.compile_module(KERNEL, ("kernel",)).kernel(np.ones(2), np.array([2.0, 3.0]))
        assert (U, g.tolist()) == (-5.0, [-2.0, -3.0])
        assert path.read_text() == KERNEL
        assert list((tmp_path / "kernels" / "__pycache__").glob(f"{path.stem}.kernel-*.nbi"))  # numba's cache
    finally:
        kernel_cache._writable_dir.cache_clear()
