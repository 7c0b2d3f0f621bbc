"""SG-MCMC on a conjugate model with a subsampled plate: the draws match the exact posterior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import UsageError
from zsdsl.runtime.mcmc.output import summarize
from zsdsl.runtime.mcmc.sgmcmc import SGMCMCConfig, sample_sgmcmc

SPEC = """
data:
  y: real[N]
mu ~ Normal(0, 10)
plate n in N, subsample=100:
  y[n] ~ Normal(mu, 1)
"""
N = 1000


def _data():
    y = np.random.default_rng(0).normal(1.5, 1.0, N)
    # exact posterior: precision 1/100 + N, mean N*ybar / precision
    prec = 0.01 + N
    return {"y": y.tolist()}, float(N * y.mean() / prec), 1 / math.sqrt(prec)


# Step sizes small enough that the minibatch gradient noise adds little variance (SGLD's
# (ε/2)² N²/B vs the injected ε); draws enough for an ESS of a few hundred.
SETTINGS = {
    "sgld": dict(lr=2e-5),
    "psgld": dict(lr=2e-3),  # preconditioned: the effective step is ε G with G ≈ 1/|∇U|
    "sghmc": dict(lr=2e-6, friction=0.1),
    "sgnht": dict(lr=2e-6, friction=0.1),
}


@pytest.mark.parametrize("method", list(SETTINGS))
def test_sgmcmc_recovers_the_conjugate_posterior(method):
    torch.set_default_dtype(torch.float64)
    raw, mean, sd = _data()
    cm = zsdsl.loads(SPEC)
    data = cm.prepare_data(raw)
    cfg = SGMCMCConfig(method=method, burnin=2000, draws=4000, thin=2, seed=3, **SETTINGS[method])
    result = sample_sgmcmc(cm.model(data), data, cfg)
    x = result.values()["mu"].numpy()
    s = summarize({"mu": x})["mu"]
    # the mean within 4 Monte Carlo standard errors plus 10% of a posterior sd (SG bias);
    # the sd within 30% (minibatch noise inflates it a little, discretisation shrinks it)
    assert abs(s["mean"] - mean) < 4 * s["mcse_mean"] + 0.1 * sd, (s, mean)
    assert abs(s["sd"] / sd - 1) < 0.3, (s["sd"], sd)


def test_sgmcmc_rejects_bad_settings():
    with pytest.raises(UsageError, match="Unknown SG-MCMC method 'sgd'"):
        SGMCMCConfig(method="sgd").validate()
    with pytest.raises(UsageError, match="--friction must lie in"):
        SGMCMCConfig(method="sghmc", friction=1.5).validate()


def test_sample_cli_runs_sgld_and_writes_stan_csv(tmp_path):
    from click.testing import CliRunner

    from zsdsl.cli import main

    spec, data = tmp_path / "m.zs", tmp_path / "d.json"
    spec.write_text(SPEC)
    data.write_text(__import__("json").dumps(_data()[0]))
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["sample", str(spec), "--data", str(data), "--sgld", "--lr", "2e-5", "--chains", "1",
                                    "--warmup", "200", "--draws", "300", "--thin", "2", "--out", str(run)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [r for r in (run / "chain_1.csv").read_text().splitlines() if not r.startswith("#")]
    assert rows[0].split(",")[:2] == ["lp__", "accept_stat__"] and rows[0].endswith("mu") and len(rows) == 301
    res = CliRunner().invoke(main, ["sample", "--resume", str(run)])
    assert res.exit_code == 1 and "SG-MCMC runs are not checkpointed" in res.output


def test_sgmcmc_starts_at_the_given_init_and_refuses_a_bad_one(tmp_path):
    """--init applies to SG-MCMC as to NUTS: the first kept draw (burn-in 0) is the given point."""
    from click.testing import CliRunner

    from zsdsl.cli import main

    torch.set_default_dtype(torch.float64)
    raw, _, _ = _data()
    cm = zsdsl.loads(SPEC)
    data = cm.prepare_data(raw)
    cfg = SGMCMCConfig(method="sghmc", burnin=0, draws=3, lr=2e-6, seed=3, chains=2, init=[{"mu": 7.25}, {"mu": -3.0}])
    mu = sample_sgmcmc(cm.model(data), data, cfg).values()["mu"]
    assert mu[:, 0].tolist() == [7.25, -3.0] and mu[0, 1] != 7.25
    spec, data_file, init = tmp_path / "m.zs", tmp_path / "d.json", tmp_path / "init.json"
    spec.write_text(SPEC)
    data_file.write_text(__import__("json").dumps(raw))
    init.write_text('{"sigma": 1.0}')
    res = CliRunner().invoke(main, ["sample", str(spec), "--data", str(data_file), "--sgld", "--lr", "2e-5",
                                    "--init", str(init), "--out", str(tmp_path / "run")])  # fmt: skip
    assert (
        res.exit_code == 1
        and "--init gives 'sigma', which is not a continuous latent of the model; its latents: mu" in res.output
    )
