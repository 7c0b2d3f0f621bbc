"""User functions (``def f(x: real[K]) -> real[K]:``): values and gradients of the inlined calls against
the same maths written inline, on both paths, and every error message of the construct."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import ErrorGroup, ZsdslError
from zsdsl.runtime.mcmc.emitted_potential import EmittedPotential
from zsdsl.runtime.mcmc.potential import Potential

FUNCS = """
def spd(alpha: real, rho: real, lam: real[M]) -> real[M]:   # mcycle_gp's spectral density
    c = sqrt(sqrt(2 * 3.141592653589793) * rho)
    return alpha * c * exp(-0.25 * rho ^ 2 * lam ^ 2)

def center(x: real[N]) -> real[N]:
    return x - mean(x)

def both(x: real[N], w: real[N, 2]) -> real:
    return sum(center(x) * w[:, 0]) + dot(x, w[:, 1])
"""
MODEL = """
data:
  lam: real[K]
  W: real[K, 2]
a: real in (0, inf) ~ HalfNormal(1)
r: real in (0, inf) ~ HalfNormal(1)
z ~ Normal(0, 1), event=[K]
f = {f}
factor -0.5 * {g} ^ 2
generated:
  h = {f}
"""
CALLS = dict(f="center(spd(a, r, lam) * z)", g="both(f, W)")
INLINE = dict(
    f="(a * sqrt(sqrt(2 * 3.141592653589793) * r) * exp(-0.25 * r ^ 2 * lam ^ 2) * z) - "
    "mean(a * sqrt(sqrt(2 * 3.141592653589793) * r) * exp(-0.25 * r ^ 2 * lam ^ 2) * z)",
    g="(sum((f - mean(f)) * W[:, 0]) + dot(f, W[:, 1]))",
)
DATA = {"lam": [0.1, 0.7, 1.3, 2.2], "W": [[0.5, -1.0], [0.2, 0.3], [1.5, 0.1], [-0.4, 0.8]]}


def _potential(text):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(text)
    data = cm.prepare_data(DATA)
    return cm, data, Potential(cm.model(data), data)


def test_calls_equal_the_inline_maths_on_both_paths():
    cm_f, data, pot_f = _potential(FUNCS + MODEL.format(**CALLS))
    _, _, pot_i = _potential(MODEL.format(**INLINE))
    em, why = EmittedPotential.build_with_reason(pot_f)
    assert em is not None, why
    rng = np.random.default_rng(0)
    for _ in range(4):
        z = rng.normal(0, 1, pot_f.dim)
        U_f, g_f = pot_f._torch_value_and_grad(z)
        U_i, g_i = pot_i._torch_value_and_grad(z)
        U_e, g_e = em.value_and_grad(z)
        assert U_f == pytest.approx(U_i, rel=1e-12) and U_e == pytest.approx(U_i, rel=1e-10)
        np.testing.assert_allclose(g_f, g_i, rtol=1e-12)
        np.testing.assert_allclose(g_e, g_i, rtol=1e-10, atol=1e-12)
    values = {"a": torch.tensor(0.7), "r": torch.tensor(1.1), "z": torch.tensor([0.3, -0.2, 1.0, 0.5])}
    out = cm_f.model(data).generate(values, data)
    torch.testing.assert_close(out["h"], cm_f.model(data).deterministics(values, data)["f"])


def _messages(text: str) -> list[str]:
    with pytest.raises(ZsdslError) as info:
        zsdsl.loads(text)
    err = info.value
    return [str(e) for e in (err.errors if isinstance(err, ErrorGroup) else [err])]


BAD = [
    ("def f(x: real) -> real:\n    return x + y\n", "Undefined name 'y' in the function 'f': a function reads only"),
    ("def f(x: real[K]) -> real[M]:\n    return x\n", "The result's size 'M' is not a size of a parameter"),
    (
        "def f(x: real[K]) -> real:\n    return x\n",
        "f is declared to return real (a scalar), but its return gives real[K]",
    ),
    ("def f(x: real) -> real:\n    y = x\n", "The function 'f' has no 'return'"),
    ("def f(x: real, x: real) -> real:\n    return x\n", "The parameter 'x' is given twice."),
    ("def exp(x: real) -> real:\n    return x\n", "'exp' is a builtin; give the function another name."),
    ("def f(x: real in (0, inf)) -> real:\n    return x\n", "A function's types carry no constraint"),
    (
        "def f(x: vector[K]) -> real:\n    return sum(x)\n",
        "A function's parameter and result types are real, int or bool",
    ),
    ("def f(x: real) -> real:\n    return f(x)\n", "'f' calls itself; recursive functions are not supported."),
    ("def f(x: real) -> real:\n    return x\nz ~ Normal(f(1, 2), 1)\n", "f(x) takes 1 argument, got 2."),
    (
        "def f(x: real[K], y: real[K]) -> real:\n    return sum(x * y)\nz ~ Normal(f(ones(3), ones(4)), 1)\n",
        "The argument 'y' of f is declared real[K] (K = 3 from an earlier argument), got real[4].",
    ),
    (
        "def f(x: real[K]) -> real:\n    return sum(x)\nz ~ Normal(f(1.0), 1)\n",
        "The argument 'x' of f is declared real[K], got a real scalar.",
    ),
    (
        "def f(k: int) -> real:\n    return 1.0 * k\nz ~ Normal(f(0.5), 1)\n",
        "The argument 'k' of f is declared int, got real.",
    ),
    ("def f(x: real) -> real:\n    return x\n    return 2 * x\n", "A function ends with its one 'return'"),
    ("def f(x: real) -> real:\n    return x\nz ~ Normal(f(x=1), 1)\n", "f() takes its arguments by position."),
]


@pytest.mark.parametrize("text, expected", BAD)
def test_function_errors(text, expected):
    msgs = _messages(text)
    assert any(expected in m for m in msgs), msgs


def test_a_failed_definition_does_not_cascade_into_its_calls():
    msgs = _messages("def f(x: real) -> real:\n    return x + nothing\nz ~ Normal(f(1.0), 1)\nw ~ Normal(f(z), 1)\n")
    assert len(msgs) == 1 and "Undefined name 'nothing' in the function 'f'" in msgs[0], msgs


def test_an_error_only_a_call_reveals_names_the_call():
    # x[2] checks for any K; with K = 2 it is out of range, which only the call can say
    msgs = _messages("def f(x: real[K]) -> real:\n    return x[2]\nz ~ Normal(f(ones(2)), 1)\n")
    assert any(m.startswith("In this call of f: ") and "(line 2)" in m for m in msgs), msgs
