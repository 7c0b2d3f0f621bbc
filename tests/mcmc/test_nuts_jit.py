"""NUTS compiled by numba with the model's kernel (``nuts_jit``) gives the draws of the Python tree
(``nuts.nuts_transition``): the same random numbers in the same order and the same arithmetic, so a chain
is the same chain to rounding; and the run says which tree built it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"
# |s| > 1 is not positive definite: the kernel raises there and both trees reject the point (infinite energy)
PD = ("data:\n  y: real[2]\ns ~ Normal(0, 1)\nK = eye(2) + s * (ones(2, 2) - eye(2))\n"
      "y ~ MultivariateNormal(zeros(2), scale_tril=cholesky(K))\n")  # fmt: skip


def _chain(model_data, monkeypatch, jit: str, **cfg):
    monkeypatch.setenv("ZSDSL_JIT_NUTS", jit)
    torch.set_default_dtype(torch.float64)
    model, data = model_data()
    result = sample(model, data, SamplerConfig(chains=1, warmup=150, draws=150, seed=3, **cfg))
    tree = result.potential.nuts_tree()[1]
    return result.chains[0], tree


def _schools():
    cm = zsdsl.load(SPEC)
    data = cm.load_data(DATA)
    return cm.model(data), data


def _not_always_positive_definite():
    cm = zsdsl.loads(PD, "pd.zs")
    data = cm.load_data({"y": [1.2, 1.0]})
    return cm.model(data), data


@pytest.mark.parametrize("model_data", [_schools, _not_always_positive_definite], ids=["eight_schools", "cholesky"])
def test_the_compiled_tree_gives_the_python_trees_draws(model_data, monkeypatch):
    compiled, how = _chain(model_data, monkeypatch, "1")
    python, why = _chain(model_data, monkeypatch, "0")
    assert how == "numba: NUTS compiled with the model's kernel (zsdsl.runtime.mcmc.nuts_jit)"
    assert why == "python: ZSDSL_JIT_NUTS=0 is set"
    np.testing.assert_allclose(compiled.u.numpy(), python.u.numpy(), rtol=1e-9, atol=1e-12)
    for name in ("n_leapfrog__", "treedepth__", "divergent__"):
        assert compiled.stats[name].tolist() == python.stats[name].tolist()
    if model_data is _not_always_positive_definite:  # the chain did meet the rejected region
        assert python.stats["divergent__"].sum() > 0
    np.testing.assert_allclose(compiled.stats["accept_stat__"].numpy(), python.stats["accept_stat__"].numpy(),
                               rtol=1e-9)  # fmt: skip
    assert compiled.step_size == pytest.approx(python.step_size, rel=1e-9)


def test_the_run_says_which_tree_built_it(tmp_path, monkeypatch):
    quick = ["--chains", "1", "--warmup", "30", "--draws", "30", "--quiet", "--no-plots"]
    for args, tree in ((["--metric", "diag"], "numba: NUTS compiled with the model's kernel (zsdsl.runtime.mcmc."
                        "nuts_jit)"), (["--metric", "dense"], "python: a dense metric")):  # fmt: skip
        out = tmp_path / args[1]
        result = CliRunner().invoke(main, ["sample", str(SPEC), "--data", str(DATA), *quick, *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "adaptation.json").read_text())["nuts_tree"] == tree
    monkeypatch.setenv("ZSDSL_JIT", "0")
    result = CliRunner().invoke(main, ["sample", str(SPEC), "--data", str(DATA), *quick, "--out", str(tmp_path / "n")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "n" / "adaptation.json").read_text())["nuts_tree"] == (
        "python: the gradients are numpy's"
    )
