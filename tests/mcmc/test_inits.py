"""Initial values of NUTS/HMC chains (Stan's init): given values are where chains start; bad ones are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.errors import NumericalError, OptionError
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import Chain, SamplerConfig

ROOT = Path(__file__).resolve().parents[2]
TEXT = "data:\n  y: real[3]\n\nmu ~ Normal(0, 10)\nsigma: real in (0, inf) ~ HalfCauchy(2.5)\ny ~ Normal(mu, sigma)\n"
DATA = {"y": [0.1, -0.4, 0.7]}


def _chain(init, chains=1, chain=0):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(TEXT, "m.zs")
    data = cm.prepare_data(DATA)
    pot = Potential(cm.model(data), data)
    return Chain(pot, SamplerConfig(chains=chains, warmup=10, draws=10, init=init), seed=1, chain=chain)


def test_a_chain_starts_at_the_given_values_mapped_to_the_unconstrained_scale():
    chain = _chain({"mu": 3.0, "sigma": 2.0})
    np.testing.assert_allclose(chain.state.z, [3.0, np.log(2.0)], rtol=1e-12)


def test_latents_left_out_start_at_random_and_a_list_gives_each_chain_its_own():
    z = _chain({"sigma": 2.0}).state.z
    assert z[1] == pytest.approx(np.log(2.0)) and -2 <= z[0] <= 2
    assert _chain([{"mu": 1.0}, {"mu": -1.0}], chains=2, chain=1).state.z[0] == -1.0


@pytest.mark.parametrize(("init", "message"), [
    ({"tau": 1.0}, "--init gives 'tau', which is not a continuous latent of the model; its latents: mu, sigma."),
    ({"sigma": -1.0}, "--init gives 'sigma' = -1.0, outside its support (positive)."),
    ({"mu": [1.0, 2.0]}, "--init gives 'mu' of shape [2]; the latent has shape []."),
    ({"mu": "a"}, "--init gives 'mu' = 'a'; expected numbers."),
    ([{"mu": 1.0}], "--init gives a list of 1 entries; give one mapping of latent names to values for every chain"),
])  # fmt: skip
def test_bad_initial_values_are_refused_with_the_latent_and_what_was_expected(init, message):
    with pytest.raises(OptionError) as err:
        _chain(init, chains=2)
    assert str(err.value).startswith(message)


def test_a_point_with_no_finite_density_is_refused():
    with pytest.raises(NumericalError, match="not finite at the initial values --init gives"):
        _chain({"mu": 1e200, "sigma": 1e-200})


def test_the_cli_reads_init_from_yaml_and_records_it_in_the_run(tmp_path):
    spec, data, init = tmp_path / "m.zs", tmp_path / "d.json", tmp_path / "init.yaml"
    spec.write_text(TEXT)
    data.write_text(json.dumps(DATA))
    init.write_text("mu: 3.0\nsigma: 2.0\n")
    out = tmp_path / "run"
    args = ["sample", spec, "--data", data, "--init", init, "--chains", "1", "--warmup", "0", "--draws", "2", "--out",
            out, "--no-plots", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["init"] == {"mu": 3.0, "sigma": 2.0}
    sgld_out = out.parent / "sgld"
    sgld = CliRunner().invoke(main, [str(a) for a in ["sample", spec, "--data", data, "--sgld", "--lr", "1e-3",
                                                      "--chains", "1", "--init", init, "--out", sgld_out]])  # fmt: skip
    assert sgld.exit_code == 0, sgld.output  # SG-MCMC starts there too
    assert json.loads((sgld_out / "config.json").read_text())["init"] == {"mu": 3.0, "sigma": 2.0}


def test_a_malformed_init_file_is_a_data_error_at_its_line_and_column(tmp_path):
    spec, data, init = tmp_path / "m.zs", tmp_path / "d.json", tmp_path / "init.json"
    spec.write_text(TEXT)
    data.write_text(json.dumps(DATA))
    init.write_text('{"mu": 1,}')
    result = CliRunner().invoke(main, [str(a) for a in ["sample", spec, "--data", data, "--init", init, "--out",
                                                        tmp_path / "run"]])  # fmt: skip
    assert result.exit_code == 1 and f"{init}:1:10: data error" in result.output
    assert "Invalid JSON at line 1, column 10: Expecting property name enclosed in double quotes." in result.output
    assert not (tmp_path / "run").exists()
