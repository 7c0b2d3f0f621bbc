"""``zsdsl predict``, ``zsdsl loo`` and ``zsdsl compare`` on finished runs (CLI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import arviz as az
import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from zsdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCHOOLS = str(ROOT / "specs" / "data" / "eight_schools.json")
QUICK = ["--chains", "2", "--warmup", "150", "--draws", "150"]
BOSTON = SHARED / "uci" / "bostonHousing"


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def schools_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    for name in ("noncentered", "centered"):
        code, out = cli("sample", ROOT / "specs" / f"eight_schools_{name}.zs", "--data", SCHOOLS, *QUICK,
                        "--out", base / name)  # fmt: skip
        assert code == 0, out
    return base / "noncentered", base / "centered"


def test_loo_prints_elpd_and_pareto_k_counts_matching_arviz(schools_runs):
    code, out = cli("loo", schools_runs[0])
    assert code == 0, out
    ref = az.loo(az.from_netcdf(str(schools_runs[0] / "posterior.nc")))
    assert f"elpd_loo {ref.elpd_loo:.2f} (se {ref.se:.2f})" in out and "300 draws, 8 data points" in out
    counts = [int(n) for n in re.findall(r"\]\s+\([a-z ]+\): (\d+)", out)]
    assert sum(counts) == 8


def test_compare_ranks_two_runs_of_the_same_data(schools_runs):
    code, out = cli("compare", *schools_runs)
    assert code == 0, out
    rows = [line.split() for line in out.splitlines()[1:3]]
    assert {r[0] for r in rows} == {"noncentered", "centered"} and {r[1] for r in rows} == {"0", "1"}


def test_compare_refuses_one_run_and_loo_refuses_a_non_run(schools_runs, tmp_path):
    code, out = cli("compare", schools_runs[0])
    assert code == 1 and "option error: Give at least two runs to compare." in out
    code, out = cli("loo", tmp_path)
    assert code == 1 and "run directory error" in out


def test_predict_on_new_covariates_of_a_regression(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ np.array([1.0, -1.0]) + 0.5 * rng.normal(size=30)
    (tmp_path / "d.json").write_text(json.dumps({"N": 30, "D": 2, "X": X.tolist(), "y": y.tolist()}))
    run = tmp_path / "run"
    code, out = cli("sample", ROOT / "specs" / "blr.zs", "--data", tmp_path / "d.json", *QUICK, "--out", run)
    assert code == 0, out
    X_new = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    (tmp_path / "new.json").write_text(json.dumps({"N": 3, "D": 2, "X": X_new.tolist()}))  # no y: to predict
    code, out = cli("predict", run, "--data", tmp_path / "new.json", "--draws", "200")
    assert code == 0, out
    pp = az.from_netcdf(str(run / "predictions" / "new.nc")).posterior_predictive
    assert pp["y"].shape == (1, 200, 3) and pp["y"].dims[2] == "n"
    beta = az.from_netcdf(str(run / "posterior.nc")).posterior["beta"].values.reshape(-1, 2)
    want = X_new @ beta.mean(0)
    # the predictive mean of each new y is X_new beta-bar, up to Monte Carlo error (sd about 0.5-0.6, 200 draws)
    np.testing.assert_allclose(pp["y"].values.reshape(-1, 3).mean(0), want, atol=4 * 0.7 / np.sqrt(200) + 0.05)


def test_predict_on_a_device_gives_the_cpus_predictions(schools_runs):
    # the same seed on the same device: the same draws; a GPU that is not there is refused, nothing written
    code, out = cli("predict", schools_runs[0], "--name", "plain")
    assert code == 0, out
    code, out = cli("predict", schools_runs[0], "--name", "on-cpu", "--device", "cpu")
    assert code == 0, out
    read = lambda name: az.from_netcdf(str(schools_runs[0] / "predictions" / f"{name}.nc"))  # noqa: E731
    np.testing.assert_array_equal(read("plain").posterior_predictive["y"], read("on-cpu").posterior_predictive["y"])
    import torch

    if torch.cuda.is_available():
        code, out = cli("predict", schools_runs[0], "--name", "gpu", "--device", "cuda")
        assert code == 0, out
        gpu = read("gpu").posterior_predictive["y"].values
        # other random streams on the GPU: the replicates agree in distribution (means within 5 sd / sqrt(S))
        cpu = read("plain").posterior_predictive["y"].values
        S = cpu.shape[0] * cpu.shape[1]
        assert np.all(np.abs(gpu.mean((0, 1)) - cpu.mean((0, 1))) < 5 * cpu.std((0, 1)) / np.sqrt(S))
    else:
        code, out = cli("predict", schools_runs[0], "--name", "gpu", "--device", "cuda")
        assert code == 1 and "--device cuda: CUDA is not available on this machine" in out, out
        assert not (schools_runs[0] / "predictions" / "gpu.nc").exists()


@pytest.mark.skipif(not BOSTON.exists(), reason="shared UCI data not present")
def test_predict_on_held_out_bnn_data_gives_the_rmse_of_evaluate(tmp_path):
    run = tmp_path / "bnn"
    code, out = cli("fit", ROOT / "specs" / "bnn_regression.zs", "--data", f"{BOSTON}:train_0", "--guide",
                    "auto-normal", "--init-scale", "1e-5", "--lr", "0.01", "--steps", "600", "--out", run)  # fmt: skip
    assert code == 0, out
    code, out = cli("evaluate", run, "--data", f"{BOSTON}:test_0")
    assert code == 0, out
    evaluated = json.loads(out)["y"]
    code, out = cli("predict", run, "--data", f"{BOSTON}:test_0")
    assert code == 0, out
    predicted = json.loads((run / "predictions" / "test_0.json").read_text())["scores"]["y"]
    assert predicted["n"] == evaluated["n"]
    # two independent sets of 1000 guide draws: the RMSE of the predictive mean agrees to about 1 %
    assert predicted["rmse"] == pytest.approx(evaluated["rmse"], rel=0.03)
    assert predicted["log_likelihood"] == pytest.approx(evaluated["log_likelihood"], abs=0.05)
    assert f"RMSE {predicted['rmse']:.4f}" in out


def test_sample_prior_writes_prior_and_prior_predictive(tmp_path):
    run = tmp_path / "prior"
    code, out = cli("sample", ROOT / "specs" / "eight_schools_noncentered.zs", "--prior", "--data", SCHOOLS,
                    "--draws", "800", "--out", run)  # fmt: skip
    assert code == 0, out
    idata = az.from_netcdf(str(run / "prior.nc"))
    assert {"prior", "prior_predictive", "observed_data"} <= set(idata.groups()) and "posterior" not in idata.groups()
    mu = idata.prior["mu"].values
    assert mu.shape == (1, 800) and abs(mu.mean()) < 4 * 5 / np.sqrt(800)  # mu ~ Normal(0, 5)
    assert abs(mu.std() / 5 - 1) < 4 / np.sqrt(2 * 800)
    assert idata.prior_predictive["y_rep"].dims == ("chain", "draw", "j")
    code, out = cli("summary", run)
    assert code == 0 and "mu" in out
    code, out = cli("sample", ROOT / "specs" / "eight_schools_noncentered.zs", "--prior", "--chains", "2")
    assert code == 1 and "--prior draws from the prior; it takes --data, --draws, --seed and --out, not --chains" in out


def test_generate_draws_count_posterior_predictive_data_sets(schools_runs, tmp_path):
    code, out = cli("generate", schools_runs[0], "-n", "5", "-o", tmp_path / "g.npz")
    assert code == 0 and "5 posterior predictive draws of the data set, 'y' of shape [8] each" in out, out
    drawn = np.load(tmp_path / "g.npz")
    assert drawn["y"].shape == (5, 8)
    posterior_mu = az.from_netcdf(str(schools_runs[0] / "posterior.nc")).posterior["mu"].values.reshape(-1)
    assert all(np.isclose(posterior_mu, m).any() for m in drawn["mu"])  # each draw uses a posterior draw
    code, out = cli("generate", schools_runs[0], "-n", "3", "-o", tmp_path / "p.npz", "--prior")
    assert code == 0 and "3 prior predictive draws" in out
