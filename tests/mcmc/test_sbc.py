"""Simulation-based calibration: the rank statistics, the uniformity test, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from zsdsl.cli import main
from zsdsl.runtime.mcmc.sbc import uniformity_p_value

SPEC = """
data:
  y: real[N]
mu ~ Normal(0, 1)
sigma: real in (0, inf) ~ HalfNormal(1)
plate n in N:
  y[n] ~ Normal(mu, sigma)
"""


def test_uniformity_test_accepts_uniform_and_rejects_skewed_ranks():
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 100, 2000)
    assert uniformity_p_value(uniform, 99, 20) > 0.01
    # an overdispersed posterior puts the truth in the middle too often
    middle = np.clip(rng.normal(50, 15, 2000).round().astype(int), 0, 99)
    assert uniformity_p_value(middle, 99, 20) < 1e-6
    with pytest.raises(ValueError, match="multiple of the number of bins"):
        uniformity_p_value(uniform, 98, 20)


def test_sbc_cli_ranks_a_correct_sampler_as_uniform(tmp_path):
    spec, data = tmp_path / "m.zs", tmp_path / "d.json"
    spec.write_text(SPEC)
    data.write_text(json.dumps({"y": [0.0] * 5}))
    out = tmp_path / "sbc"
    res = CliRunner().invoke(main, ["sbc", str(spec), "--data", str(data), "--sims", "40", "--draws", "19",
                                    "--thin", "2", "--warmup", "150", "--bins", "5", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads((out / "sbc.json").read_text())
    assert set(report["parameters"]) == {"mu", "sigma"} and report["sims"] == 40
    for p in report["parameters"].values():
        assert all(0 <= r <= 19 for r in p["ranks"]) and len(p["ranks"]) == 40
        # a fixed seed; with a correct sampler a p-value below 0.001 has probability 0.001
        assert p["p_value"] > 0.001
    assert (out / "ranks.png").stat().st_size > 1000
    assert "p-value" in res.output


@pytest.mark.slow  # about 17 s: the default run stays under 10 minutes
def test_sbc_on_eight_schools_noncentered_is_uniform():
    """The issue's check: seed 7, 60 simulations, ranks 0..19 in 5 bins, 200 warmup iterations."""
    from pathlib import Path

    import torch

    import zsdsl
    from zsdsl.runtime.data import load_data
    from zsdsl.runtime.mcmc.sbc import run_sbc

    root = Path(__file__).resolve().parents[2]
    torch.set_default_dtype(torch.float64)
    try:
        cm = zsdsl.load(root / "specs" / "eight_schools_noncentered.zs")
        data = cm.prepare_data(load_data(root / "specs" / "data" / "eight_schools.json"))
        result = run_sbc(cm, data, sims=60, L=19, thin=2, warmup=200, bins=5, seed=7)
    finally:
        torch.set_default_dtype(torch.float32)
    assert set(result.p_values) == {"mu", "tau", *(f"theta_trans[{j}]" for j in range(8))}
    # 10 tests at level 0.001 each: a false alarm has probability about 0.01
    assert min(result.p_values.values()) > 0.001, result.p_values
