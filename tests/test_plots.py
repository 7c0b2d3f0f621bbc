"""``zsdsl plot`` and the plots a run writes when it ends: every kind that applies to an MCMC and a VI run."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pytest
from click.testing import CliRunner

from zsdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"
MCMC_KINDS = ["trace", "rank", "posterior", "pair", "forest", "energy", "ppc", "loo-pit"]
VI_KINDS = ["posterior", "pair", "forest", "ppc", "loo-pit", "elbo"]


def cli(*args, plots=False):
    env = {"ZSDSL_PLOTS": "1" if plots else "0"}
    result = CliRunner(env=env).invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("plots")
    code, out = cli("sample", SPEC, "--data", DATA, "--chains", "2", "--warmup", "150", "--draws", "150",
                    "--out", base / "mcmc", plots=True)  # fmt: skip
    assert code == 0, out
    mcmc_out = out
    code, out = cli("fit", SPEC, "--data", DATA, "--steps", "300", "--lr", "0.05", "--draws", "300",
                    "--out", base / "vi", plots=True)  # fmt: skip
    assert code == 0, out
    return base / "mcmc", mcmc_out, base / "vi", out


def test_a_run_writes_its_main_plots_and_says_where(runs):
    mcmc, mcmc_out, vi, vi_out = runs
    assert sorted(p.name for p in (mcmc / "plots").iterdir()) == ["energy.png", "ppc.png", "trace.png"]
    assert f"plots: trace.png, energy.png, ppc.png in {mcmc / 'plots'}" in mcmc_out
    assert f"next: zsdsl loo {mcmc}" in mcmc_out
    assert sorted(p.name for p in (vi / "plots").iterdir()) == ["elbo.png", "posterior.png", "ppc.png"]


@pytest.mark.parametrize("which, kinds", [(0, MCMC_KINDS), (2, VI_KINDS)])
def test_every_kind_that_applies_is_drawn_as_a_readable_png(runs, which, kinds):
    run = runs[which]
    code, out = cli("plot", run)
    assert code == 0, out
    assert [line.rsplit("/", 1)[1] for line in out.splitlines()] == [f"{k}.png" for k in kinds]
    for kind in kinds:
        img = mpimg.imread(run / "plots" / f"{kind}.png")
        assert 400 <= img.shape[1] <= 2000 and 250 <= img.shape[0] <= 2000, (kind, img.shape)  # neither tiny nor huge


def test_a_kind_that_does_not_apply_is_refused_naming_those_that_do(runs):
    code, out = cli("plot", runs[2], "--kind", "trace")
    assert code == 1
    assert "option error: --kind trace does not apply" in out and "(MCMC chains only); it has: posterior" in out
    code, out = cli("plot", runs[0], "--kind", "violin")
    assert code == 1 and "Unknown plot kind 'violin'" in out


def test_no_plots_skips_them(tmp_path):
    code, out = cli("sample", SPEC, "--data", DATA, "--chains", "1", "--warmup", "50", "--draws", "50", "--no-plots",
                    "--out", tmp_path / "r", plots=True)  # fmt: skip
    assert code == 0 and not (tmp_path / "r" / "plots").exists() and "plots:" not in out
