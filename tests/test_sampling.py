"""Every spec samples ancestrally on small generated data, and its log_joint is finite on the draws."""

from __future__ import annotations

import linecache

import pytest
import torch
from golden_util import ROOT

import zsdsl
from zsdsl.errors import ModelError

torch.set_default_dtype(torch.float64)

N = 6
SMALL_DATA = {
    "arma11": {"y": torch.randn(12)},
    "local_level": {"y": torch.randn(12)},
    "blr": {"N": N, "D": 3, "X": torch.randn(N, 3), "y": torch.zeros(N)},
    "bnn_regression": {"X": torch.randn(N, 3), "y": torch.zeros(N)},
    "conv_vae": {"x": torch.zeros(N, 784)},
    "eight_schools_centered": {"J": 8, "y": torch.zeros(8), "sigma": torch.ones(8)},
    "eight_schools_noncentered": {"J": 8, "y": torch.zeros(8), "sigma": torch.ones(8)},
    "gmm": {"N": N, "y": torch.zeros(N)},
    "gmm_enum": {"N": N, "y": torch.zeros(N)},
    "gp_pois_regr": {"N": N, "x": torch.linspace(-5, 5, N), "k": torch.zeros(N)},
    "gp_regression": {"N": N, "x": torch.linspace(-5, 5, N), "y": torch.zeros(N)},
    "lda": {"counts": torch.randint(0, 3, (60, 12))},  # the guide seeds its K = 50 topics with documents
    "logistic_regression": {"N": N, "D": 3, "X": torch.randn(N, 3), "y": torch.zeros(N)},
    "pmf": {
        "U": 4,
        "I": 5,
        "user": torch.randint(0, 4, (N,)),
        "item": torch.randint(0, 5, (N,)),
        "rating": torch.zeros(N),
    },
    "sbn": {"x": torch.zeros(N, 784)},
    "ssvae_m2": {"x_l": torch.zeros(3, 784), "y_l": torch.zeros(3), "x_u": torch.zeros(4, 784), "N_total": 7},
    "svgp": {"X": torch.randn(60, 2), "y": torch.zeros(60)},
    "dcgan": {"x": torch.rand(N, 784)},
    "gp_ard": {"X": torch.randn(N, 2), "y": torch.zeros(N), "X_test": torch.randn(3, 2)},
    "vae": {"x": torch.zeros(N, 784)},
}
SPECS = sorted(p.stem for p in ROOT.glob("specs/*.zs"))


def test_every_spec_has_small_data():
    assert sorted(SMALL_DATA) == SPECS


@pytest.mark.parametrize("name", SPECS)
def test_prior_draws_have_finite_log_joint(name):
    torch.manual_seed(0)
    cm = zsdsl.load(ROOT / "specs" / f"{name}.zs")
    data = cm.prepare_data(SMALL_DATA[name])
    model = cm.model(data)
    draws = model.sample(data, n=2)
    sites = model.sites(data)
    for site in sites:
        assert draws[site.name].shape == (2, *site.shape), site.name
        if site.bijector is not None:  # the draws lie in the support: the inverse map is finite
            u = site.bijector.inverse(draws[site.name])
            assert torch.isfinite(u).all(), site.name
    values = {s.name: draws[s.name] for s in sites}
    if getattr(model, "implicit", ()):  # a GAN: its draws are the generator's, and it has no log joint
        assert all(draws[x].shape == (2, *data[x].shape) for x in model.implicit)
        with pytest.raises(ModelError, match="has no density"):
            model.log_joint(values, data)
        return
    with torch.no_grad():
        lp = model.log_joint(values, data)
    assert lp.shape == (2,) and torch.isfinite(lp).all()
    for gname in cm.guide_names:
        guide = cm.guide(gname, data)
        gvalues, log_q, _ = guide.sample_and_log_prob(data, (3,))
        assert log_q.shape == (3,) and torch.isfinite(log_q).all()
        assert set(gvalues) == {s.name for s in sites}
        assert torch.isfinite(model.log_joint(gvalues, data)).all()


def test_generated_block_and_posterior_predictive():
    cm = zsdsl.loads(
        "data:\n  N: int\n  y: real[N]\nmu ~ Normal(0, 10)\nsigma ~ HalfNormal(5)\nplate n in N:\n"
        "  y[n] ~ Normal(mu, sigma)\ngenerated:\n  y_rep ~ Normal(mu, sigma), event=[N]\n  z = (mu - 1) / sigma\n",
        "gen.zs",
    )
    data = cm.prepare_data({"N": 5, "y": torch.zeros(5)})
    model = cm.model(data)
    values = {"mu": torch.tensor([0.0, 100.0]), "sigma": torch.tensor([1.0, 2.0])}
    out = model.generate(values, data)
    assert out["y_rep"].shape == (2, 5)
    assert out["y_rep"][1].mean() > 80  # draws around mu = 100
    torch.testing.assert_close(out["z"], torch.tensor([-1.0, 49.5]))
    fixed = model.sample(data, n=2, values=values)
    torch.testing.assert_close(fixed["mu"], values["mu"])


def test_hidden_intermediates_are_computed_but_not_reported(tmp_path):
    from zsdsl.cli import main

    spec = tmp_path / "hid.zs"
    spec.write_text(
        "data:\n  y: real[N]\nmu ~ Normal(0, 1)\nerr = y - mu, hidden\nshown = 2 * mu\n"
        "factor logpdf(Normal(0, 1), err)\ngenerated:\n  tmp = mu + 1, hidden\n  g = 2 * tmp\n"
    )
    data = tmp_path / "hid.json"
    data.write_text('{"y": [0.1, 0.5, -0.3]}')
    run = tmp_path / "run"
    from click.testing import CliRunner

    args = ["sample", spec, "--data", data, "--chains", "1", "--warmup", "30", "--draws", "20", "--out", run]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    header = next(line for line in (run / "chain_1.csv").read_text().splitlines() if not line.startswith("#"))
    columns = header.split(",")
    assert columns[-3:] == ["mu", "shown", "g"]  # err and tmp were used, not reported
    rows = [line.split(",") for line in (run / "chain_1.csv").read_text().splitlines()[1:] if line[:1] not in "#l"]
    assert len(rows) == 20
    for row in rows:  # g = 2 * (mu + 1): the hidden tmp was computed
        assert float(row[-1]) == pytest.approx(2 * (float(row[-3]) + 1), rel=1e-5)


def test_tracebacks_show_generated_lines():
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    data = cm.prepare_data(SMALL_DATA["eight_schools_noncentered"])
    model = cm.model(data)
    with pytest.raises(KeyError) as info:
        model.log_joint({"mu": torch.zeros(())}, data)  # tau is missing
    frame = info.traceback[-1]
    assert frame.path.startswith("<zsdsl:")
    line = linecache.getline(str(frame.path), frame.lineno + 1)
    assert "values['tau']" in line or 'values["tau"]' in line


def test_ordered_and_truncated_prior_draws_respect_declarations():
    cm = zsdsl.load(ROOT / "specs" / "gmm.zs")
    data = cm.prepare_data({"N": 3, "y": torch.zeros(3)})
    draws = cm.model(data).sample(data, n=500)
    assert (draws["mu"][:, 1] > draws["mu"][:, 0]).all()
    assert (draws["sigma"] > 0).all() and ((draws["theta"] > 0) & (draws["theta"] < 1)).all()
