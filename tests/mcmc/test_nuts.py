"""NUTS and HMC: Gaussian targets against theory, integrator properties, posteriordb references."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.runtime.mcmc.nuts import Metric, State, leapfrog
from zsdsl.runtime.mcmc.output import summarize
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

torch.set_default_dtype(torch.float64)
ROOT = Path(__file__).resolve().parents[2]
PDB = ROOT.parent / "shared" / "data" / "posteriordb"


def _draws(text, data=None, **cfg):
    cm = zsdsl.loads(text, "m.zs")
    data = cm.prepare_data(data or {})
    return sample(cm.model(data), data, SamplerConfig(**cfg))


@pytest.mark.parametrize("dim", [1, 10, 100])
def test_standard_normal_moments(dim):
    r = _draws(f"x ~ Normal(0, 1), event=[{dim}]\n", chains=1, warmup=500, draws=1000, seed=dim)
    x = r.values()["x"][0]  # [S, dim]
    s = summarize({f"x{i}": x[None, :, i].numpy() for i in range(dim)})
    for i in range(dim):
        row = s[f"x{i}"]
        # mean within 4 Monte Carlo standard errors of 0; the variance's relative error is about
        # sqrt(2 / ESS) (< 0.06 here), so allow 25% (about 4 of those standard errors).
        assert abs(row["mean"]) < 4 * row["mcse_mean"] + 1e-3
        assert abs(row["sd"] ** 2 - 1) < 0.25
    acc = float(r.stat("accept_stat__").mean())
    assert 0.7 < acc < 0.97  # dual averaging aimed at 0.8 during warmup


def test_correlated_gaussian_with_dense_metric():
    text = "a ~ Normal(0, 10)\nb ~ Normal(0.5 * a, 0.3)\n"  # var(a)=100, corr(a, b) = 0.998
    r = _draws(text, chains=1, warmup=1000, draws=1000, seed=3, metric="dense")
    v = r.values()
    a, b = v["a"][0], v["b"][0]
    cov = torch.cov(torch.stack([a, b]))
    assert abs(float(cov[0, 0]) / 100 - 1) < 0.3
    assert abs(float(cov[1, 1]) / (25 + 0.09) - 1) < 0.3
    rho = float(cov[0, 1] / cov.diag().prod().sqrt())
    assert rho > 0.99
    # a dense metric makes this target isotropic: short trajectories
    assert float(r.stat("n_leapfrog__").mean()) < 12


def _potential():
    cm = zsdsl.loads("a ~ Normal(1, 2)\nb ~ Normal(a, 0.5)\nc: real in (0, inf) ~ Gamma(2, 1)\n", "p.zs")
    return Potential(cm.model({}), {})


def test_leapfrog_is_reversible():
    pot = _potential()
    z0 = np.array([0.3, -0.2, 0.1])
    U, g = pot.value_and_grad_np(z0)
    metric = Metric(np.array([1.0, 2.0, 0.5]))
    r0 = np.array([0.5, -1.0, 0.3])
    s, r = State(z0, U, g), r0
    for _ in range(20):
        s, r = leapfrog(pot, s, r, 0.05, metric)
    back, rb = s, -r
    for _ in range(20):
        back, rb = leapfrog(pot, back, rb, 0.05, metric)
    np.testing.assert_allclose(back.z, z0, atol=1e-10, rtol=0)
    np.testing.assert_allclose(-rb, r0, atol=1e-10, rtol=0)


def test_energy_error_shrinks_quadratically_with_the_step_size():
    pot = _potential()
    z0 = np.array([0.3, -0.2, 0.1])
    U, g = pot.value_and_grad_np(z0)
    metric = Metric(np.ones(3))
    r0 = np.array([0.5, -1.0, 0.3])
    H0 = U + metric.kinetic(r0)
    errors = []
    for eps in (0.1, 0.05, 0.025):
        s, r = State(z0, U, g), r0
        for _ in range(int(round(1.0 / eps))):
            s, r = leapfrog(pot, s, r, eps, metric)
        errors.append(abs(s.U + metric.kinetic(r) - H0))
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3  # ~4x per halving


def test_hmc_samples_a_normal():
    r = _draws("x ~ Normal(3, 2)\n", chains=1, warmup=300, draws=2000, seed=5, method="hmc", hmc_steps=10)
    x = r.values()["x"][0]
    s = summarize({"x": x[None].numpy()})["x"]
    assert abs(s["mean"] - 3) < 4 * s["mcse_mean"] + 0.01 and abs(s["sd"] / 2 - 1) < 0.15


def test_stan_csv_outputs_and_summary_cli(tmp_path):
    from click.testing import CliRunner

    from zsdsl.cli import main

    res = CliRunner().invoke(main, ["sample", str(ROOT / "specs" / "eight_schools_noncentered.zs"), "--data",
                                    str(ROOT / "specs" / "data" / "eight_schools.json"), "--chains", "2", "--warmup",
                                    "200", "--draws", "200", "--out", str(tmp_path / "run")])  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "run" / "chain_1.csv").read_text().splitlines()
    assert lines[1] == ("# gradients = numba: the emitted code compiled by numba (zsdsl compile --emit kernel), "
                        "checked against PyTorch autograd")  # fmt: skip
    header = next(line for line in lines if not line.startswith("#")).split(",")
    assert header[:7] == ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__",
                          "energy__"]  # fmt: skip
    assert "theta.8" in header and "tau" in header
    res = CliRunner().invoke(main, ["summary", str(tmp_path / "run"), "--format", "json"])
    table = json.loads(res.output)
    keys = {"mean", "mcse_mean", "sd", "mcse_sd", "5%", "50%", "95%", "ess_bulk", "ess_tail", "r_hat"}
    assert set(table["theta[1]"]) == keys
    adapt = json.loads((tmp_path / "run" / "adaptation.json").read_text())
    assert len(adapt["chain_1"]["inv_metric"]) == 10 and adapt["chain_2"]["step_size"] > 0
    assert (tmp_path / "run" / "posterior.nc").exists()
    assert np.isfinite(table["mu"]["r_hat"])


def test_mcse_sd_is_arvizs_formula():
    import arviz as az

    from zsdsl.runtime.mcmc.output import _mcse_sd

    x = np.random.default_rng(0).standard_t(4, size=(4, 500))  # heavy tails: larger than 1/sqrt(2 ESS)
    numba_was_on = az.Numba.numba_flag  # ArviZ's own numba path of mcse(method="sd") fails on a 2-D array
    az.Numba.disable_numba()
    try:
        theirs = float(np.asarray(az.mcse(x, method="sd")).reshape(-1)[0])
    finally:
        if numba_was_on:
            az.Numba.enable_numba()
    assert _mcse_sd(x) == pytest.approx(theirs, rel=1e-10)


def test_a_chain_started_where_the_arma_recursion_explodes_finds_the_posterior_in_warmup():
    """The language issue's stalled ARMA(1,1) chain: theta = -1.25, phi = -1.94, where the error recursion grows
    like 1.25^T (the potential is about 1e39 for T = 200; the step size falls to about 1e-22 early in warmup, in
    Stan too). Stan's step-size adaptation lets such a chain grow its step size again once it moves (both leave
    |theta| > 1 within 90 iterations: benchmarks/arma_far_start.py); so must this one: within 150
    warmup iterations it is out of the explosive region (|theta| < 1) with a step size above 0.05, and its draws
    are where the posterior is (theta's posterior mean 0.212, sd 0.10, by zsdsl and by Stan in
    benchmarks/arma_far_start.py; 100 draws: an MCSE about 0.015, so 0.1 is over 6 of them)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from arma_far_start import FAR, series

    cm = zsdsl.load(ROOT / "specs" / "arma11.zs")
    data = cm.load_data(series(200))
    r = sample(cm.model(data), data, SamplerConfig(chains=1, warmup=150, draws=100, seed=1, init=FAR, save_warmup=True))
    chain = r.chains[0]
    t = [s.name for s in r.potential.sites].index("theta")
    warm_theta, step = chain.warmup_u[:, t].numpy(), chain.warmup_stats["stepsize__"].numpy()
    assert step[0] < 1e-9 and abs(warm_theta[0]) > 1  # it did start in the explosive region
    assert (np.abs(warm_theta) < 1).any() and chain.step_size > 0.05
    theta = chain.u[:, t].numpy()
    assert abs(theta.mean() - 0.212) < 0.1 and int(r.stat("divergent__").sum()) <= 2
