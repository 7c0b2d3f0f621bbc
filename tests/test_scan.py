"""The ``scan`` loop (a recursion with carried state): log densities of the four documented examples
against independent computations (an ARMA(1,1) written as a NumPy loop, GARCH(1,1) against the
``recurrence`` form, the HMM forward algorithm against ``hmm_marginal``, a local-level Kalman filter
against the exact Gaussian marginal), an RNN's states, gradients, the generated block and guides, and
every error message of the construct."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import DataError, ErrorGroup, ZsdslError
from zsdsl.runtime.mcmc.potential import Potential

ROOT = Path(__file__).resolve().parents[1]
PDB = ROOT.parent / "shared" / "data" / "posteriordb"

ARMA = """
data:
  y: real[T]
mu: real ~ Normal(0, 10)
phi: real ~ Normal(0, 2)
theta: real ~ Normal(0, 2)
sigma: real in (0, inf) ~ HalfCauchy(2.5)
err1 = y[0] - (mu + phi * mu)
scan t in range(1, T), err = err1:
    nu = mu + phi * y[t - 1] + theta * err
    err = y[t] - nu
    errs[t] = err
factor logpdf(Normal(0, sigma), err1)
factor logpdf(Normal(0, sigma), errs)
"""


def _log_joint(cm, data, values):
    prepared = cm.prepare_data(data)
    return cm.model(prepared).log_joint(values, prepared)


def _normal(x, s):
    return -0.5 * (x / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)


def test_arma_log_density_equals_a_numpy_loop():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(ARMA)
    y = np.random.default_rng(0).normal(size=30).cumsum() * 0.3
    mu, phi, theta, sigma = 0.3, 0.5, -0.4, 1.3
    got = _log_joint(cm, {"y": y}, {k: torch.tensor(v) for k, v in
                                     dict(mu=mu, phi=phi, theta=theta, sigma=sigma).items()})  # fmt: skip
    err = y[0] - (mu + phi * mu)
    want = _normal(mu, 10) + _normal(phi, 2) + _normal(theta, 2)
    want += math.log(2 / (math.pi * 2.5 * (1 + (sigma / 2.5) ** 2))) + _normal(err, sigma)
    errs = []
    for t in range(1, len(y)):
        err = y[t] - (mu + phi * y[t - 1] + theta * err)
        errs.append(err)
    want += sum(_normal(e, sigma) for e in errs)
    assert float(got) == pytest.approx(want, rel=1e-12)
    dets = cm.model(cm.prepare_data({"y": y})).deterministics(
        {"mu": torch.tensor(mu), "phi": torch.tensor(phi), "theta": torch.tensor(theta), "sigma": torch.tensor(sigma)},
        {"y": torch.tensor(y)},
    )
    np.testing.assert_allclose(dets["errs"].numpy(), errs, rtol=1e-12)
    assert "err" not in dets  # a carry's last value is not reported


def test_arma_batched_draws_and_gradient():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(ARMA)
    y = np.random.default_rng(1).normal(size=12)
    data = cm.prepare_data({"y": y})
    model = cm.model(data)
    g = torch.Generator().manual_seed(0)
    values = {k: torch.randn(4, generator=g) for k in ("mu", "phi", "theta")}
    values["sigma"] = torch.rand(4, generator=g) + 0.5
    batched = model.log_joint(values, data)
    one = [model.log_joint({k: v[i] for k, v in values.items()}, data) for i in range(4)]
    torch.testing.assert_close(batched, torch.stack(one), rtol=1e-12, atol=1e-12)
    pot = Potential(model, data)
    u = torch.randn(pot.dim, generator=g, requires_grad=True)
    (grad,) = torch.autograd.grad(pot.log_density(u), u)
    eps, num = 1e-6, []
    for i in range(pot.dim):
        du = torch.zeros(pot.dim)
        du[i] = eps
        num.append((pot.log_density(u.detach() + du) - pot.log_density(u.detach() - du)) / (2 * eps))
    torch.testing.assert_close(grad, torch.stack(num), rtol=1e-6, atol=1e-6)


GARCH_SCAN = """
data:
  T: int in [0, inf)
  y: real[T]
  sigma1: real in (0, inf)
mu ~ Flat()
alpha0: real in (0, inf) ~ Flat()
alpha1: real in (0, 1) ~ Flat()
beta1_raw: real in (0, 1) ~ Flat()
beta1 = (1 - alpha1) * beta1_raw
factor log(1 - alpha1)
scan t in range(1, T), s2 = sigma1 ^ 2:
    s2 = alpha0 + alpha1 * (y[t - 1] - mu) ^ 2 + beta1 * s2
    sig[t] = sqrt(s2)
sigma = concat(stack(sigma1), sig)
y ~ Normal(mu, sigma), event=[T]
"""


@pytest.mark.skipif(not PDB.is_dir(), reason="../shared/data/posteriordb is missing")
def test_garch_scan_equals_the_recurrence_form():
    torch.set_default_dtype(torch.float64)
    data = json.loads((PDB / "garch-garch11" / "data.json").read_text())
    scan = zsdsl.loads(GARCH_SCAN)
    rec = zsdsl.load(ROOT / "specs" / "posteriordb" / "garch-garch11.zs")
    g = torch.Generator().manual_seed(2)
    values = {"mu": torch.randn(3, generator=g), "alpha0": torch.rand(3, generator=g),
              "alpha1": torch.rand(3, generator=g) * 0.5, "beta1_raw": torch.rand(3, generator=g)}  # fmt: skip
    torch.testing.assert_close(_log_joint(scan, data, values), _log_joint(rec, data, values), rtol=1e-10, atol=1e-9)


HMM_SCAN = """
data:
  K: int in [1, inf)
  N: int in [1, inf)
  u: real[N]
  v: real[N]
  alpha: real[K, K] in [0, inf)
theta1: simplex[2] ~ Dirichlet(stack(alpha[0, 0], alpha[0, 1]))
theta2: simplex[2] ~ Dirichlet(stack(alpha[1, 0], alpha[1, 1]))
phi: positive_ordered[2] ~ Normal([0.0, 3.0], 1)
lambda: positive_ordered[2] ~ Normal([0.0, 3.0], 1)
log_omega = transpose(log(phi) - phi * stack(u, u) + log(lambda) - lambda * stack(v, v)), hidden
log_gamma_t = log(stack(theta1, theta2))      # [k, j]: log P(state k after state j)
scan t in range(1, N), acc = log_omega[:, 0]:  # the forward algorithm: acc[k] = log p(y[:t+1], state k)
    acc = log_omega[:, t] + logsumexp(log_gamma_t + acc, dim=1)
factor logsumexp(acc)
"""


@pytest.mark.skipif(not PDB.is_dir(), reason="../shared/data/posteriordb is missing")
def test_hmm_forward_scan_equals_hmm_marginal():
    torch.set_default_dtype(torch.float64)
    data = json.loads((PDB / "bball_drive_event_0-hmm_drive_0" / "data.json").read_text())
    scan = zsdsl.loads(HMM_SCAN)
    ref = zsdsl.load(ROOT / "specs" / "posteriordb" / "bball_drive_event_0-hmm_drive_0.zs")
    g = torch.Generator().manual_seed(3)
    t1, t2 = torch.rand(4, generator=g), torch.rand(4, generator=g)
    values = {
        "theta1": torch.stack([t1, 1 - t1], -1),
        "theta2": torch.stack([t2, 1 - t2], -1),
        "phi": torch.rand(4, 2, generator=g).cumsum(-1),
        "lambda": torch.rand(4, 2, generator=g).cumsum(-1),
    }
    torch.testing.assert_close(_log_joint(scan, data, values), _log_joint(ref, data, values), rtol=1e-10, atol=1e-8)


KALMAN = """
data:
  y: real[T]
sigma_level: real in (0, inf) ~ HalfNormal(1)
sigma_obs: real in (0, inf) ~ HalfNormal(1)
m0: real ~ Normal(0, 10)
# a local-level model: level[t] = level[t-1] + N(0, sigma_level), y[t] = level[t] + N(0, sigma_obs),
# level[0] ~ N(m0, 1); the Kalman filter's prediction-error decomposition of log p(y)
scan t in range(T), m = m0, p = 1.0:
    f = p + sigma_obs ^ 2                      # the variance of y[t] given y[:t]
    factor logpdf(Normal(m, sqrt(f)), y[t])
    gain = p / f
    m = m + gain * (y[t] - m)                  # the filtered level, then predicted one step ahead
    p = p * (1 - gain) + sigma_level ^ 2
    level[t] = m
"""


def test_kalman_filter_equals_the_exact_gaussian_marginal():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(KALMAN)
    T = 25
    y = torch.tensor(np.random.default_rng(4).normal(size=T).cumsum())
    sl, so, m0 = 0.7, 0.4, 0.5
    values = {"sigma_level": torch.tensor(sl), "sigma_obs": torch.tensor(so), "m0": torch.tensor(m0)}
    got = _log_joint(cm, {"y": y}, values)
    # y = level + noise, level a random walk from N(m0, 1): Cov(y_s, y_t) = 1 + min(s, t) sl^2 + [s = t] so^2
    idx = torch.arange(T, dtype=torch.float64)
    cov = 1 + torch.minimum(idx[:, None], idx[None, :]) * sl**2 + torch.eye(T) * so**2
    marginal = torch.distributions.MultivariateNormal(torch.full((T,), m0), cov).log_prob(y)
    prior = (torch.distributions.HalfNormal(1.0).log_prob(torch.tensor([sl, so])).sum()
             + torch.distributions.Normal(0.0, 10.0).log_prob(torch.tensor(m0)))  # fmt: skip
    assert float(got) == pytest.approx(float(marginal + prior), rel=1e-10)


RNN = """
data:
  x: real[T, 3]
params:
  W: real[4, 4]
  U: real[4, 3]
  b: real[4]
scan t in range(T), h = zeros(4):
    h = tanh(W @ h + U @ x[t] + b)
    hs[t] = h
z ~ Normal(sum(hs), 1)
"""


def test_rnn_states_equal_a_torch_loop():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(RNN)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(5))
    data = cm.prepare_data({"x": x})
    model = cm.model(data)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    hs = model.deterministics({"z": torch.tensor(0.0)}, data)["hs"]
    W, U, b = (getattr(model, n) for n in ("param_W", "param_U", "param_b"))
    h, want = torch.zeros(4), []
    for t in range(6):
        h = torch.tanh(W @ h + U @ x[t] + b)
        want.append(h)
    torch.testing.assert_close(hs, torch.stack(want).detach(), rtol=1e-12, atol=1e-12)
    lp = model.log_joint({"z": torch.tensor(0.5)}, data)
    lp.backward()
    assert model.param_W.grad is not None and torch.isfinite(model.param_W.grad).all()
    assert float(model.param_W.grad.abs().sum()) > 0


def test_generated_block_runs_a_scan_forecast():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads("""
data:
  y: real[T]
phi: real in (-1, 1) ~ Uniform(-1, 1)
factor logpdf(Normal(phi * y[:-1], 1), y[1:])
generated:
  eps ~ Normal(0, 1), event=[5]
  scan h in range(5), last = y[T - 1]:
      last = phi * last + eps[h]
      forecast[h] = last
""")
    y = torch.tensor([0.1, 0.5, -0.2, 0.3])
    data = cm.prepare_data({"y": y})
    model = cm.model(data)
    out = model.generate({"phi": torch.tensor([0.5, -0.5])}, data)
    f, eps = out["forecast"], out["eps"]
    assert f.shape == (2, 5)
    want = 0.5 * 0.3 + eps[0, 0]
    assert float(f[0, 0]) == pytest.approx(float(want), rel=1e-12)
    assert float(f[1, 1]) == pytest.approx(float(-0.5 * f[1, 0] + eps[1, 1]), rel=1e-12)


def _messages(text: str) -> list[str]:
    with pytest.raises(ZsdslError) as info:
        zsdsl.loads(text)
    err = info.value
    return [str(e) for e in (err.errors if isinstance(err, ErrorGroup) else [err])]


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "scan t in range(1, T), e = 0:\n    y[t] ~ Normal(e, 1)\n",
            "'~' cannot appear inside a scan: collect the step's value as an output (mu[t] = ...)",
        ),
        (
            "plate n in T:\n  scan t in range(1, T):\n    a = y[t]\n",
            "A scan runs at the top level, not inside plate 'n'",
        ),
        (
            "scan t in range(1, T), e = 0:\n    e = stack(y[t], y[t])\n",
            "The carry 'e' starts as a real scalar (line 3) but is given real[2]; a carry keeps its type and shape",
        ),
        (
            "scan t in range(1, T), e = 0:\n    o[t] = e\n    e = o + 1\n",
            "'o' is this scan's output, stacked over the steps after the loop: inside the loop o[t] is this step's",
        ),
        (
            "scan t in range(1, T), e = 0:\n    o[t] = e\n    e = o[t - 1]\n",
            "Inside the scan only o[t], this step's value, can be read; earlier steps' values are not kept",
        ),
        (
            "scan t in range(T), e = 0:\n    e = y[t - 1]\n",
            "At the first step (t = 0) the index t - 1 at line 3 is -1: before the start of the dimension.",
        ),
        (
            "scan t in range(T), e = 0:\n    e = y[t + 1]\n",
            "At the last step the index t + 1 at line 3 is T, past the end of a dimension of size T.",
        ),
        ("scan t in 1:T:\n    a = y[t]\n", "A scan runs over range(a, b): 'scan t in range(1, T):'"),
        ("scan t in range(1, 2, 3):\n    a = y[t]\n", "range takes one or two sizes: range(T) or range(1, T)."),
        ("scan t in range(1, T):\n    o[e] = y[t]\n", "Inside 'scan t', an output is written o[t] = ... (one value"),
        ("scan t in range(1, T):\n    a = y[t], hidden\n", "'hidden' applies to a scan's outputs"),
        ("scan t in range(1, T):\n    plate n in T:\n      a = y[t]\n", "A plate cannot be nested in a scan"),
        ("scan y in range(1, T):\n    a = 1\n", "'y' is already defined; a scan's index and carries are new names."),
        ("scan t in range(3, 2):\n    a = y[t]\n", "This scan runs no steps: range(3, 2)."),
        ("scan t in range(1, T), e = 0:\n    e = y[t] - e\nb = e + nonsense\n", "Undefined name 'nonsense'."),
    ],
)
def test_scan_errors(body, expected):
    text = "data:\n  y: real[T]\n" + body
    msgs = _messages(text)
    assert any(expected in m for m in msgs), msgs


def test_a_failed_scan_does_not_cascade():
    msgs = _messages("data:\n  y: real[T]\nscan t in range(1, T), e = 0:\n    e = y[t] + nothing\n"
                     "    o[t] = e\nz ~ Normal(sum(o), 1)\nw ~ Normal(e, 1)\n")  # fmt: skip
    assert len(msgs) == 1 and "Undefined name 'nothing'" in msgs[0], msgs


def test_index_bounds_decided_by_the_data():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads("data:\n  y: real[T]\n  x: real[N]\nscan t in range(T), s = 0:\n    s = s + x[t]\n"
                     "z ~ Normal(s, 1)\n")  # fmt: skip
    ok = cm.prepare_data({"y": torch.zeros(3), "x": torch.ones(3)})
    assert float(cm.model(ok).deterministics({"z": torch.tensor(0.0)}, ok).get("s", 3.0)) == 3.0
    bad = cm.prepare_data({"y": torch.zeros(4), "x": torch.ones(3)})
    with pytest.raises(
        DataError, match=r"With this data the index t at line 4 reaches 3, outside a dimension of size 3"
    ):
        cm.model(bad).log_joint({"z": torch.tensor(0.0)}, bad)


def test_a_statement_error_shows_its_own_line_only():
    # a statement's span ends at the start of the next line: the excerpt is that statement and its carets
    from zsdsl.errors import render_error

    text = "data:\n  y: real[T]\nscan t in range(1, T), e = 0:\n    y[t] ~ Normal(e, 1)\nz ~ Normal(0, 1)\n"
    with pytest.raises(ZsdslError) as info:
        zsdsl.loads(text, "m.zs")
    lines = render_error(info.value, text).splitlines()
    assert lines[1:3] == ["  4 |     y[t] ~ Normal(e, 1)", "    |     ^^^^^^^^^^^^^^^^^^^"], lines
