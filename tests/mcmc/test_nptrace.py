"""The traced gradient code (``nptrace``): the same numbers as ``npad`` for every model on the NumPy path,
guards that hand a point back when a branch would go the other way, and refusals where the recorder
cannot follow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_numpy_potential import CASES, ROOT, _potential  # tests/mcmc is on sys.path (rootdir import)

from zsdsl.runtime.lib import npad
from zsdsl.runtime.lib.npad import Tape, Unsupported, Var
from zsdsl.runtime.lib.nptrace import Retrace, TracedFunction, pure
from zsdsl.runtime.mcmc.numpy_potential import NumpyPotential


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize(
    "name, spec, data", [c[:3] for c in CASES if c[3] == "numpy" and c[0] != "garch11"], ids=lambda x: str(x)[:30]
)
def test_traced_code_gives_npads_value_and_gradient(name, spec, data):
    if not data.exists():
        pytest.skip(f"{data} not found")
    pot = _potential(spec, data)
    me = NumpyPotential.build(pot)  # the traced library directly (the emitted path comes first in ``backend``)
    assert me.traced_source is not None, f"{name} was not traced"
    rng = np.random.default_rng(5)
    for _ in range(5):
        z = rng.normal(0, 1.5, pot.dim)
        U, g = me._traced(z)
        U_ref, g_ref = me._potential(z)
        assert float(U) == pytest.approx(float(U_ref), rel=1e-13, abs=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-12)


def _npad_fn(z):
    """A small npad function with a branch on the input: sum(z²) + sum(exp(z)) if z[0] > 0 else sum(z)."""
    with Tape() as tape:
        x = Var(z)
        if z[0] > 0:
            y = npad.total([x * x, npad.exp(x)])
        else:
            y = npad.total([x])
        tape.backward(y)
        return y.v, x.g


def test_a_branch_becomes_a_guard_that_hands_the_point_back():
    f = TracedFunction(_npad_fn, np.array([0.5, -1.0, 2.0]))
    z = np.array([1.5, 0.3, -0.2])
    v, g = f.traced(z)
    assert float(v) == pytest.approx(float((z * z).sum() + np.exp(z).sum()))
    np.testing.assert_allclose(g, 2 * z + np.exp(z))
    with pytest.raises(Retrace):
        f.traced(np.array([-1.0, 0.0, 0.0]))
    assert "raise Retrace" in f.source


def test_data_only_values_are_folded_into_constants():
    data = np.arange(4.0)

    def fn(z):
        w = np.exp(data) / np.sum(np.exp(data))  # data alone: computed once while tracing
        return (np.sum(w * z),)

    f = TracedFunction(fn, np.ones(4))
    assert "exp" not in f.source
    (v,) = f.traced(np.full(4, 2.0))
    assert float(v) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda z: (np.asarray(z),), "converted to an array"),
        (lambda z: (float(z[0]),), "Python number"),
        (lambda z: (np.add.at(np.zeros(3), [0, 0], z[:2]),), "in place"),
        (lambda z: (np.linalg.norm(z),), "np.norm"),
    ],
    ids=["asarray", "float", "add.at", "unlisted function"],
)
def test_what_the_recorder_cannot_follow_is_unsupported(fn, message):
    with pytest.raises(Unsupported, match=message):
        TracedFunction(fn, np.ones(3))


def test_a_pure_helper_is_recorded_as_one_call():
    calls = []

    @pure
    def scatter(z):
        calls.append(1)
        out = np.zeros(4)
        out[1:] = z  # in place, on its own array: fine inside a pure helper
        return out

    f = TracedFunction(lambda z: (scatter(z * 2.0),), np.ones(3))
    (v,) = f.traced(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(v, [0.0, 2.0, 4.0, 6.0])
    assert len(calls) == 2  # once while tracing, once when run


def test_scalar_maths_leaving_the_reals_falls_back_to_npad():
    pot = _potential(ROOT / "specs" / "eight_schools_noncentered.zs", ROOT / "specs/data/eight_schools.json")
    me = NumpyPotential.build(pot)
    assert "math.exp" in me.traced_source  # tau = exp(u) on a scalar: Python's math, which raises on overflow
    z = np.zeros(pot.dim)
    z[1] = 1000.0  # exp overflows: OverflowError in the traced code, inf then nan in npad
    with pytest.raises(OverflowError):
        me._traced(z)
    with np.errstate(all="ignore"):
        U, g = me.value_and_grad(z)
        U_ref, g_ref = me._potential(z)
    np.testing.assert_equal([U, *g], [float(U_ref), *g_ref])  # nan where npad has nan
    assert not math.isfinite(U)


def test_a_model_that_often_takes_the_other_branch_goes_back_to_npad():
    pot = _potential(ROOT / "specs" / "eight_schools_noncentered.zs", ROOT / "specs/data/eight_schools.json")
    me = NumpyPotential.build(pot)
    z = np.zeros(pot.dim)
    z[1] = 1000.0
    with np.errstate(all="ignore"):
        for _ in range(101):
            me.value_and_grad(z)
    assert me._traced is None  # every point overflowed in the traced code: npad from now on
