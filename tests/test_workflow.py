"""The Bayesian workflow on a run: generated quantities, posterior predictive, complete InferenceData,
LOO and comparison, one index convention (summary labels, CSV columns, ArviZ coordinates)."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

import zsdsl

ROOT = Path(__file__).resolve().parents[1]
SCHOOLS = ROOT / "specs" / "data" / "eight_schools.json"
QUICK = dict(chains=2, warmup=200, draws=200, seed=3)


@pytest.fixture(scope="module")
def schools_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "schools"
    result = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs").sample(SCHOOLS, out=out, **QUICK)
    return out, result


@pytest.fixture(scope="module")
def blr_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.7 * rng.normal(size=40)
    data = {"N": 40, "D": 3, "X": X.tolist(), "y": y.tolist()}
    out = tmp_path_factory.mktemp("runs") / "blr"
    zsdsl.load(ROOT / "specs" / "blr.zs").sample(data, out=out, **QUICK)
    return out


def _idata(run: Path):
    return az.from_netcdf(str(run / "posterior.nc"))


def test_the_run_file_holds_every_group_with_named_dims(schools_run):
    idata = _idata(schools_run[0])
    assert set(idata.groups()) >= {"posterior", "posterior_predictive", "log_likelihood", "sample_stats",
                                   "observed_data", "constant_data"}  # fmt: skip
    post, pp = idata.posterior, idata.posterior_predictive
    assert post["theta"].dims == ("chain", "draw", "j") and list(post["j"].values) == list(range(8))
    assert "effect_0_minus_1" in post and "y_rep" in pp and "y" in pp
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "j")
    assert idata.observed_data["y"].dims == ("j",) and idata.constant_data["sigma"].dims == ("j",)
    assert set(idata.sample_stats) >= {"lp", "diverging", "tree_depth", "energy", "step_size", "n_steps",
                                       "acceptance_rate"}  # fmt: skip
    diff = post["theta"].sel(j=0) - post["theta"].sel(j=1)
    np.testing.assert_allclose(post["effect_0_minus_1"], diff)


def test_the_observed_replicate_is_drawn_given_each_draw(schools_run):
    """y_rep (the generated block) and the automatic replicate of y are both N(theta, sigma) given a draw:
    their means per school agree with theta's within Monte Carlo error."""
    idata = _idata(schools_run[0])
    sigma = idata.constant_data["sigma"].values
    theta = idata.posterior["theta"].values.reshape(-1, 8)
    for name in ("y", "y_rep"):
        rep = idata.posterior_predictive[name].values.reshape(-1, 8)
        resid = (rep - theta) / sigma  # standard normal given the draw, independent across draws
        assert abs(resid.mean()) < 4 / math.sqrt(resid.size), name
        assert abs(resid.std() - 1) < 4 / math.sqrt(2 * resid.size), name


def test_loo_waic_compare_and_ppc_work_on_the_file_as_it_is(schools_run, blr_run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    noncentered = _idata(schools_run[0])
    centered_run = tmp_path / "centered"
    zsdsl.load(ROOT / "specs" / "eight_schools_centered.zs").sample(SCHOOLS, out=centered_run, **QUICK)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns about Pareto k on eight schools, as it should
        loo = az.loo(noncentered, pointwise=True)
        assert loo.loo_i.shape == (8,) and -40 < loo.elpd_loo < -25  # eight schools: about -31 (Stan's loo)
        assert np.isfinite(az.waic(noncentered).elpd_waic)
        table = az.compare({"noncentered": noncentered, "centered": _idata(centered_run)})
        assert set(table.index) == {"noncentered", "centered"} and table["elpd_loo"].notna().all()
        blr = _idata(blr_run)
        assert az.loo(blr).n_data_points == 40
        axes = az.plot_ppc(blr, num_pp_samples=20)
    assert axes is not None


def test_summary_labels_are_the_coordinates_and_csv_columns_are_stan_1_based(schools_run):
    run, result = schools_run
    idata = _idata(run)
    table = result.summary()
    assert "theta[0]" in table and "theta[8]" not in table and "y_rep[7]" in table and "effect_0_minus_1" in table
    with open(run / "chain_2.csv", newline="") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    header, first = rows[0], [float(v) for v in rows[1]]
    for col, value in zip(header, first, strict=True):
        if col.endswith("__"):
            continue
        name, *idx = col.split(".")
        group = idata.posterior if name in idata.posterior else idata.posterior_predictive
        coords = {dim: int(i) - 1 for dim, i in zip(group[name].dims[2:], idx, strict=True)}
        label = f"{name}[{','.join(str(c) for c in coords.values())}]" if idx else name
        assert label in table, col
        got = float(group[name].sel(chain=1, draw=0, **coords))
        assert got == pytest.approx(value, rel=1e-5, abs=1e-5), col
        assert table[label]["mean"] == pytest.approx(float(group[name].sel(**coords).mean()), rel=1e-4, abs=1e-6)


CONJUGATE = """model conjugate
data:
  y: real[N]
mu ~ Normal(1, 2)
plate n in N:
  y[n] ~ Normal(mu, 0.5)
generated:
  y_new ~ Normal(mu, 0.5)
"""


def test_posterior_predictive_of_a_conjugate_normal_matches_its_closed_form(tmp_path):
    """mu ~ N(1, 2^2), y_n ~ N(mu, 0.5^2): the predictive of a new y is N(m, v + 0.25) with the posterior's
    m and v in closed form. Tolerances: four Monte Carlo standard errors, from the draws' ESS."""
    spec = tmp_path / "conjugate.zs"
    spec.write_text(CONJUGATE)
    y = np.random.default_rng(5).normal(2.0, 0.5, size=20)
    precision = 1 / 4 + len(y) / 0.25
    m, v = (1 / 4 + y.sum() / 0.25) / precision, 1 / precision
    result = zsdsl.load(spec).sample({"y": y.tolist()}, chains=4, warmup=300, draws=1000, seed=11)
    pp = result.to_inference_data().posterior_predictive
    for draws in (pp["y_new"].values, pp["y"].values[..., 0]):
        ess = float(az.ess(draws))
        sd = math.sqrt(v + 0.25)
        assert abs(draws.mean() - m) < 4 * sd / math.sqrt(ess)
        assert abs(draws.var() / (v + 0.25) - 1) < 4 * math.sqrt(2 / ess)


def test_enumerated_models_say_why_they_have_no_predictive():
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(-2, 1, 30), rng.normal(2, 1, 30)])
    result = zsdsl.load(ROOT / "specs" / "gmm_enum.zs").sample({"N": 60, "y": y.tolist()}, chains=1, warmup=100,
                                                               draws=50, seed=2)  # fmt: skip
    derived = result.derived()
    assert not derived.log_likelihood and not derived.predictive
    assert any("enumerated z" in note for note in derived.notes), derived.notes


def test_a_vi_run_writes_its_guide_draws_summary_and_pareto_k(tmp_path):
    from click.testing import CliRunner

    from zsdsl.cli import main

    run = tmp_path / "vi"
    args = ["fit", str(ROOT / "specs" / "eight_schools_noncentered.zs"), "--data", str(SCHOOLS), "--steps", "300",
            "--lr", "0.05", "--draws", "400", "--out", str(run)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "ELBO" in result.output and "per data point, 8 points" in result.output
    assert "theta[7]" in result.output and "y_rep[0]" in result.output and "Pareto k" in result.output
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header == "step,epoch,elbo,elbo_per_point,wall_s"
    last = (run / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert float(last[3]) == pytest.approx(float(last[2]) / 8, rel=1e-4)
    idata = _idata(run)
    assert idata.posterior["theta"].shape == (1, 400, 8) and idata.posterior["theta"].dims[2] == "j"
    assert "y_rep" in idata.posterior_predictive and idata.log_likelihood["y"].shape == (1, 400, 8)
    info = json.loads((run / "draws.json").read_text())
    assert 0 < info["pareto_k"] < 2 and info["draws"] == 400
    summary = CliRunner().invoke(main, ["summary", str(run), "--format", "json"])
    table = json.loads(summary.output)
    assert set(table["mu"]) == {"mean", "sd", "5%", "50%", "95%"}
    assert table["theta[0]"]["mean"] == pytest.approx(float(idata.posterior["theta"].sel(j=0).mean()), rel=1e-6)


def test_a_vae_sized_posterior_leaves_out_what_does_not_fit_and_says_so(monkeypatch):
    import zsdsl.runtime.vi.draws as vi_draws

    monkeypatch.setattr(vi_draws, "MAX_VALUES", 1000)  # theta_trans: 8 values a draw; 200 draws do not fit
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    result = cm.fit(SCHOOLS, steps=20, draws=200)
    derived, diagnostic = result.posterior()
    assert set(derived.posterior) == {"mu", "tau"} and not derived.predictive
    assert "theta_trans left out" in derived.notes[0] and "pareto_k" not in diagnostic


def test_save_warmup_writes_the_warmup_groups(tmp_path):
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    cm.sample(SCHOOLS, chains=2, warmup=60, draws=40, seed=2, save_warmup=True, out=tmp_path / "r")
    idata = _idata(tmp_path / "r")
    assert idata.warmup_posterior["theta"].shape == (2, 60, 8) and idata.posterior["theta"].shape == (2, 40, 8)
    assert idata.warmup_sample_stats["diverging"].dtype == bool
    # the warmup's step sizes adapt; the sampling phase uses the one final step size per chain
    assert np.unique(idata.warmup_sample_stats["step_size"].values[0]).size > 1
    assert np.unique(idata.sample_stats["step_size"].values[0]).size == 1


def test_sg_mcmc_draws_run_the_generated_block_too():
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    result = cm.sample(SCHOOLS, method="sgld", chains=1, warmup=50, draws=50, lr=1e-3, seed=1)
    idata = result.to_inference_data()
    assert idata.posterior_predictive["y_rep"].shape == (1, 50, 8) and "effect_0_minus_1" in idata.posterior


TINY_VAE = """data:
  x: int[N, 16] in {0, 1}
nets:
  dec = MLP(2 -> 8 -> 16, act=tanh)
plate n in N, subsample=8:
  z[n] ~ Normal(0, 1), event=[2]
  x[n] ~ Bernoulli(logits=dec(z[n])), event=[16]
guide q:
  nets:
    enc = MLP(16 -> 8 -> 4, act=tanh)
  plate n in N:
    h = enc(x[n])
    z[n] ~ Normal(h[:2], softplus(h[2:])), event=[2]
"""


def test_an_amortised_fit_is_not_drawn_and_says_why(tmp_path):
    x = (np.random.default_rng(0).random((32, 16)) < 0.5).astype(np.int64)
    result = zsdsl.loads(TINY_VAE, "tiny_vae.zs").fit({"x": x}, steps=5, out=tmp_path / "r")
    info = json.loads((tmp_path / "r" / "draws.json").read_text())
    assert "z are local to the subsampled plate 'n'" in info["notes"][0] and "zsdsl evaluate" in info["notes"][0]
    assert not (tmp_path / "r" / "posterior.nc").exists() and result.summary() == {}
    from click.testing import CliRunner

    from zsdsl.cli import main

    shown = CliRunner().invoke(main, ["summary", str(tmp_path / "r")])
    assert shown.exit_code == 0 and "note: no draws from the guide: z are local" in shown.output


def test_inference_data_files_are_uncompressed_with_small_integers(tmp_path):
    from zsdsl.runtime.posterior import read_inference_data, write_inference_data

    rng = np.random.default_rng(0)
    y_rep, counts = rng.integers(0, 2, (2, 50, 30)), rng.integers(0, 40000, (2, 50, 3))
    idata = az.from_dict(posterior={"mu": rng.normal(size=(2, 50))}, posterior_predictive={"y": y_rep, "k": counts})
    write_inference_data(idata, tmp_path / "posterior.nc")
    raw = az.from_netcdf(str(tmp_path / "posterior.nc"))
    assert raw.posterior_predictive["y"].dtype == np.int8 and raw.posterior_predictive["k"].dtype == np.int32
    back = read_inference_data(tmp_path)
    assert back.posterior_predictive["y"].dtype == np.int64
    np.testing.assert_array_equal(back.posterior_predictive["y"].values, y_rep)
    np.testing.assert_array_equal(back.posterior_predictive["k"].values, counts)
    np.testing.assert_array_equal(back.posterior["mu"].values, idata.posterior["mu"].values)


RESIDUALS = """data:
  y: real[N]
mu ~ Normal(0, 10)
plate n in N:
  y[n] ~ Normal(mu, 1)
generated:
  plate n in N:
    resid[n] = y[n] - mu
"""


def test_the_generated_block_reads_an_observed_site_as_its_data():
    """Stan's convention: ``y`` in generated quantities is the data, not the replicate drawn for it."""
    y = [0.5, -1.25, 3.0]
    result = zsdsl.loads(RESIDUALS).sample({"y": y}, chains=1, warmup=50, draws=20, seed=2)
    posterior = result.derived().posterior
    np.testing.assert_allclose(posterior["resid"] + posterior["mu"][..., None], np.broadcast_to(y, (1, 20, 3)))


def test_the_exact_gp_predictive_of_gp_ard_is_the_closed_form():
    """specs/gp_ard.zs's generated f_test and sd_test against k_t (K + s^2 I)^-1 y and its variance."""
    import torch

    from zsdsl.runtime.posterior import derive

    rng = np.random.default_rng(4)
    X, Xt = rng.normal(size=(12, 2)), rng.normal(size=(3, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=12)
    cm = zsdsl.load(ROOT / "specs" / "gp_ard.zs")
    data = cm.prepare_data({"X": X.tolist(), "y": y.tolist(), "X_test": Xt.tolist()})
    amp, ls, sigma = 1.3, np.array([0.7, 2.0]), 0.2
    values = {"amplitude": torch.tensor([[amp]]), "lengthscale": torch.tensor([[ls]]), "sigma": torch.tensor([[sigma]])}
    post = derive(cm.model(data), data, values, predictive=False).posterior

    def k(a, b):
        return amp**2 * np.exp(-0.5 * (((a[:, None, :] - b[None, :, :]) / ls) ** 2).sum(-1))

    noise = sigma**2 + 1e-6
    A = k(X, X) + noise * np.eye(12)
    mean = k(Xt, X) @ np.linalg.solve(A, y)
    var = amp**2 - np.einsum("ij,ji->i", k(Xt, X), np.linalg.solve(A, k(X, Xt)))
    np.testing.assert_allclose(post["f_test"][0, 0], mean, rtol=1e-8)
    np.testing.assert_allclose(post["sd_test"][0, 0], np.sqrt(var + sigma**2), rtol=1e-8)
