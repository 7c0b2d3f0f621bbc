"""ode_rk45: solutions against SciPy at tight tolerances, gradients against finite differences, the
sensitivity system against torchdiffeq's autograd path, solver failures as rejections, and the checker's
messages."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import zsdsl
from zsdsl.compiler import ir, ode_sens
from zsdsl.errors import ZsdslError
from zsdsl.runtime.lib import dopri5
from zsdsl.runtime.lib.ode import SolverFailure, solve_coupled
from zsdsl.runtime.mcmc.potential import Potential

ROOT = Path(__file__).resolve().parents[1]
LV = ROOT / "specs" / "posteriordb" / "hudson_lynx_hare-lotka_volterra.zs"
LV_DATA = ROOT.parent / "shared" / "data" / "posteriordb" / "hudson_lynx_hare-lotka_volterra" / "data.json"

# a damped oscillator with a forcing term in t: every rule of the sensitivity system (state, arguments,
# time, exp, division, powers, sums) on a system with a closed-form-free solution
OSC = """
model osc
def rhs(t: real, y: real[2], k: real[3]) -> real[2]:
    return [y[1], -k[0] * y[0] - k[1] * y[1] / (1 + square(y[0])) + exp(-k[2] * t) * sin(t) + sum(k) ** 2 * 0.01]
data:
  T: int in [1, inf)
  ts: real[T]
  obs: real[T, 2]
k: real[3] in (0, inf) ~ LogNormal(0, 0.5)
y0 ~ Normal(0, 1), event=[2]
z = ode_rk45(rhs, y0, 0.0, ts, k, rtol=1e-10, atol=1e-10, max_steps=100000)
obs ~ Normal(z, 0.1)
"""
OSC_DATA = {"T": 6, "ts": [0.5, 1.0, 2.0, 3.5, 5.0, 7.0], "obs": [[0.1, -0.2]] * 6}


def _osc_scipy(k, y0, ts):
    def f(t, y):
        return [y[1], -k[0] * y[0] - k[1] * y[1] / (1 + y[0] ** 2) + math.exp(-k[2] * t) * math.sin(t)
                + sum(k) ** 2 * 0.01]  # fmt: skip

    return solve_ivp(f, (0.0, ts[-1]), y0, t_eval=ts, rtol=1e-12, atol=1e-12, method="DOP853").y.T


def _model(text=OSC, data=OSC_DATA):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(text, "osc.zs")
    prepared = cm.load_data(data)
    return cm, prepared, Potential(cm.model(prepared), prepared)


def test_the_solution_matches_scipy_at_tight_tolerances():
    cm, data, _ = _model()
    k, y0 = torch.tensor([1.3, 0.4, 0.2]), torch.tensor([0.5, -0.3])
    values = cm.model(data).deterministics({"k": k, "y0": y0}, data)
    want = _osc_scipy(k.tolist(), y0.tolist(), OSC_DATA["ts"])
    np.testing.assert_allclose(values["z"].numpy(), want, rtol=1e-7, atol=1e-8)


def test_the_sensitivity_gradient_matches_finite_differences():
    _, _, pot = _model()
    z = np.array([0.2, -0.9, -1.5, 0.5, -0.3])
    U, g = pot.value_and_grad_np(z)
    h = 1e-6
    fd = [(pot.value_and_grad_np(z + h * e)[0] - pot.value_and_grad_np(z - h * e)[0]) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    assert math.isfinite(U)


def test_a_batch_of_draws_gets_one_solve_each_and_their_own_gradients():
    cm, data, _ = _model()
    model = cm.model(data)
    k = torch.tensor([[1.3, 0.4, 0.2], [0.7, 0.1, 0.9], [2.0, 1.0, 0.1]], requires_grad=True)
    y0 = torch.tensor([0.5, -0.3], requires_grad=True)  # shared by the three draws: its gradient sums them
    z = model.deterministics({"k": k, "y0": y0}, data)["z"]
    assert z.shape == (3, 6, 2)
    for b in range(3):
        np.testing.assert_allclose(z[b].detach().numpy(), _osc_scipy(k[b].tolist(), y0.tolist(), OSC_DATA["ts"]),
                                   rtol=1e-7, atol=1e-8)  # fmt: skip
    z[:, -1, 0].sum().backward()
    k2 = k.detach().clone().requires_grad_(True)
    y2 = y0.detach().clone().requires_grad_(True)
    from zsdsl.runtime.lib.ode import ode_rk45

    torch_z = ode_rk45(
        lambda t, y, a: torch.stack(
            [
                y[..., 1],
                -a[..., 0] * y[..., 0]
                - a[..., 1] * y[..., 1] / (1 + y[..., 0] ** 2)
                + torch.exp(-a[..., 2] * t) * torch.sin(t)
                + a.sum(-1) ** 2 * 0.01,
            ],
            -1,
        ),  # fmt: skip
        y2,
        0.0,
        torch.tensor(OSC_DATA["ts"]),
        (k2,),
        (1,),
        rtol=1e-10,
        atol=1e-10,
    )
    torch_z[:, -1, 0].sum().backward()  # torchdiffeq's autograd path, the one without a sensitivity system
    torch.testing.assert_close(k.grad, k2.grad, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(y0.grad, y2.grad, rtol=1e-6, atol=1e-7)


def test_the_sensitivity_system_is_emitted_as_straight_line_code():
    cm, _, _ = _model()
    assert "def _ode_rhs_" in cm.source and "sens=_ode_rhs_" in cm.source
    (ode,) = [r for r in ir.walk(cm.ir) if isinstance(r, ir.Ode)]
    name, source = ode_sens.helper(ode)
    assert name in cm.source and source.startswith(f"@zl.ode_jit\ndef {name}(t, y, a, out):")
    body = source.splitlines()[2:]
    assert not [line for line in body if line.split()[0] in ("for", "while", "if", "return")]  # straight-line
    assert sum(line.strip().startswith("out[") for line in body) == 2 + 2 * (2 + 3)  # the state and S, [2, 5]


def test_the_compiled_stepper_is_scipys_rk45_step_for_step():
    """dopri5.integrate against solve_ivp(method="RK45") on the same coupled system: the same tableau, initial
    step and step-size control, so the same steps; the results differ by rounding only."""
    cm, _, _ = _model()
    (ode,) = [r for r in ir.walk(cm.ir) if isinstance(r, ir.Ode)]
    sens = getattr(cm.module, ode_sens.helper(ode)[0])
    a, ts = np.array([1.3, 0.4, 0.2]), np.array(OSC_DATA["ts"])
    init = np.zeros(12)
    init[:2] = [0.5, -0.3]
    init[[2, 8]] = 1.0

    def f(t, y):
        out = np.empty(12)
        sens(t, y, a, out)
        return out

    for rtol, atol in ((1e-6, 1e-6), (1e-3, 1e-4), (1e-10, 1e-10)):
        want = solve_ivp(f, (0.0, ts[-1]), init, t_eval=ts, rtol=rtol, atol=atol, method="RK45")
        mine = np.empty((6, 12))
        status, _ = dopri5.integrate(sens, np.concatenate([[0.0], ts]), init, a, rtol, atol, 10**6, mine)
        assert status == dopri5.OK
        np.testing.assert_allclose(mine, want.y.T, rtol=1e-12, atol=1e-13)


def test_a_right_hand_side_without_a_sensitivity_system_runs_through_torchdiffeq_and_says_why():
    text = OSC.replace("y[1], -k[0]", "y[1], max(k) - k[0]")  # max has no rule in the sensitivity system
    cm, data, pot = _model(text)
    (ode,) = [r for r in ir.walk(cm.ir) if isinstance(r, ir.Ode)]
    name, why = ode_sens.helper(ode)
    assert name is None and why == ("the right-hand side of rhs uses the function 'max', which the sensitivity "
                                    "solver does not handle")  # fmt: skip
    assert "sens=" not in cm.source
    assert pot.backend == "torch" and "uses the function 'max'" in pot.backend_reason
    U, g = pot.value_and_grad_np(np.array([0.2, -0.9, -1.5, 0.5, -0.3]))
    assert math.isfinite(U) and np.isfinite(g).all()


def test_a_solve_past_max_steps_is_a_rejected_proposal_counted_by_reason():
    _, _, pot = _model(OSC.replace("max_steps=100000", "max_steps=3"))
    U, g = pot.value_and_grad_np(np.zeros(5))
    assert U == math.inf and not g.any()
    assert dict(pot.rejections) == {"ode_rk45 (line 11): more than max_steps=3 steps between two output times": 1}


def test_outside_nuts_a_failed_solve_is_an_error_with_its_reason():
    cm, data, _ = _model(OSC.replace("max_steps=100000", "max_steps=3"))
    with pytest.raises(SolverFailure, match=r"The ODE solver of ode_rk45 \(line 11\) failed: more than max_steps=3"):
        cm.model(data).deterministics({"k": torch.ones(3), "y0": torch.zeros(2)}, data)


def _blows_up(t, y, a, out):  # dy/dt = 1 / (a - y): a division by zero once the state reaches a
    out[0] = 1.0 / (a[0] - y[0]) if y[0] < a[0] else 1.0 / (a[0] - a[0])
    out[1] = out[2] = 0.0  # its sensitivities (to y0 and a), unused


def test_a_division_by_zero_in_the_compiled_system_is_a_non_finite_state_not_an_exception():
    sens = dopri5.ode_jit(_blows_up)
    times, y0, a = np.array([0.0, 0.1, 5.0]), np.array([0.0]), np.array([1.0])
    with pytest.raises(SolverFailure, match=r"failed: the state is not finite \(it overflowed before t = 5.0\)"):
        solve_coupled(sens, times, y0, a, rtol=1e-6, atol=1e-6, max_steps=10**6, where="ode_rk45 (line 1)")


def test_output_times_that_do_not_increase_are_a_data_error():
    cm, data, _ = _model(data={**OSC_DATA, "ts": [0.5, 1.0, 1.0, 3.5, 5.0, 7.0]})
    with pytest.raises(ZsdslError, match=r"must increase strictly from t0: ts\[2\] = 1.0 follows ts\[1\] = 1.0"):
        cm.model(data).deterministics({"k": torch.ones(3), "y0": torch.zeros(2)}, data)


BAD = {
    "z = ode_rk45(nope, y0, 0.0, ts, k)": "The first argument of ode_rk45 is the right-hand side, a function "
    "defined above with 'def' (def f(t: real, y: real[n], ...) -> real[n]:); 'nope' is not a user function.",
    "z = ode_rk45(rhs, y0, 0.0, ts)": "rhs takes 3 arguments; ode_rk45 passes the time, the state and the 0 extra "
    "arguments after ts (the parameters after the state: k).",
    "z = ode_rk45(rhs, y0, 0.0, ts * k[0], k)": "The output times of ode_rk45 must be data or constants, not "
    "computed from the latents.",
    "z = ode_rk45(rhs, y0, 0.0, ts, k, tol=1e-3)": "ode_rk45() takes rtol=, atol= and max_steps=; got 'tol='.",
    "z = ode_rk45(rhs, y0, 0.0, ts, k, max_steps=1.5)": "max_steps= is a positive integer written in the model "
    "(a literal).",
    "z = ode_rk45(rhs, [y0[0], y0[1], 1.0], 0.0, ts, k)": "The argument 'y' of rhs is declared real[2], got real[3].",
    "z = integrate_ode_rk45(rhs, y0, 0.0, ts, k, 0, 0, 1e-6, 1e-6, 1000)": "Stan's integrate_ode_rk45(f, y0, t0, "
    "ts, theta, x_r, x_i, rtol, atol, max_steps) is ode_rk45(f, y0, t0, ts, theta, rtol=, atol=, max_steps=) here",
}


@pytest.mark.parametrize("line", sorted(BAD))
def test_bad_calls_get_a_message_at_their_span(line):
    text = OSC.replace("z = ode_rk45(rhs, y0, 0.0, ts, k, rtol=1e-10, atol=1e-10, max_steps=100000)", line)
    with pytest.raises(ZsdslError) as info:
        zsdsl.loads(text, "osc.zs")
    assert BAD[line] in str(info.value), str(info.value)
    assert "osc.zs:11:" in str(info.value) or getattr(info.value, "span", None) is not None


def test_an_ode_inside_a_plate_says_to_solve_one_system():
    text = OSC.replace("z = ode_rk45(rhs, y0, 0.0, ts, k, rtol=1e-10, atol=1e-10, max_steps=100000)\n"
                       "obs ~ Normal(z, 0.1)\n",
                       "plate n in T:\n  w = ode_rk45(rhs, y0, 0.0, ts, k)\n")  # fmt: skip
    with pytest.raises(ZsdslError, match="An ODE is solved at the top level, not inside plate 'n'"):
        zsdsl.loads(text, "osc.zs")


@pytest.mark.skipif(not LV_DATA.exists(), reason="../shared/data/posteriordb is missing")
def test_lotka_volterra_log_density_and_gradient_against_a_tight_solve():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(LV)
    data = cm.load_data(LV_DATA)
    pot = Potential(cm.model(data), data)
    z = np.log([0.55, 0.028, 0.8, 0.024, 33.0, 6.0, 0.25, 0.25])
    U, g = pot.value_and_grad_np(z)
    assert pot.backend == "numpy"  # the emitted gradient, with the ODE's sensitivities; PyTorch's path agrees
    U_torch, g_torch = pot._torch_value_and_grad(z)
    assert abs(U - U_torch) < 1e-10 * abs(U)
    np.testing.assert_allclose(g, g_torch, rtol=1e-10)
    tight = zsdsl.loads(LV.read_text().replace("rtol=1e-5, atol=1e-3", "rtol=1e-10, atol=1e-10"), LV.name)
    tdata = tight.load_data(LV_DATA)
    tpot = Potential(tight.model(tdata), tdata)
    U_t, g_t = tpot.value_and_grad_np(z)
    assert abs(U - U_t) < 1e-3  # Stan's tolerances (rtol 1e-5, atol 1e-3) against 1e-10
    np.testing.assert_allclose(g, g_t, rtol=2e-3)
    h = 1e-6
    fd = [(tpot.value_and_grad_np(z + h * e)[0] - tpot.value_and_grad_np(z - h * e)[0]) / (2 * h) for e in np.eye(8)]
    np.testing.assert_allclose(g_t, fd, rtol=1e-6)


def test_rejections_are_reported_per_reason_with_each_chains_count():
    from types import SimpleNamespace

    from zsdsl.runtime.mcmc.output import rejection_warnings

    reason = "ode_rk45 (line 24): more than max_steps=500 steps between two output times"
    chains = [SimpleNamespace(rejections={reason: 2}), SimpleNamespace(rejections={}),
              SimpleNamespace(rejections={reason: 1})]  # fmt: skip
    (msg,) = rejection_warnings(chains)
    assert msg.startswith(f"3 proposals rejected (chain 1: 2, chain 3: 1): {reason}. Each ended its trajectory")
    assert rejection_warnings([SimpleNamespace(rejections={})]) == []
