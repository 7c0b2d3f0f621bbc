"""Which maths evaluates NUTS's gradients is reported with its reason, never chosen silently: in
``adaptation.json`` and in ``zsdsl sample``'s closing line (with -v also when it is the emitted NumPy code)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.runtime.mcmc.potential import Potential

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"
QUICK = ["--chains", "1", "--warmup", "30", "--draws", "30", "--quiet", "--no-plots"]


def _potential(text: str, data: dict) -> Potential:
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(text, "m.zs")
    prepared = cm.load_data(data)
    return Potential(cm.model(prepared), prepared)


def test_the_numpy_path_and_why_are_in_the_run(tmp_path):
    result = CliRunner().invoke(main, ["sample", str(SPEC), "--data", str(DATA), *QUICK, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "(gradients: numba)" in result.output
    gradients = json.loads((tmp_path / "r" / "adaptation.json").read_text())["gradients"]
    assert gradients["backend"] == "numba"
    assert gradients["reason"] == (
        "the emitted code compiled by numba (zsdsl compile --emit kernel), checked against PyTorch autograd"
    )


def test_when_pytorch_stays_the_closing_line_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSDSL_NUMPY_POTENTIAL", "0")
    result = CliRunner().invoke(main, ["sample", str(SPEC), "--data", str(DATA), *QUICK, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and "(gradients: torch, because ZSDSL_NUMPY_POTENTIAL=0 is set)" in result.output


def test_a_model_the_emitted_path_cannot_take_names_the_construct_and_line():
    pot = _potential("data:\n  y: int[N] in [0, 3)\nw: simplex[3] ~ Dirichlet(ones(3))\nplate n in N:\n"
                     "  y[n] ~ Categorical(probs=w)\n", {"y": [0, 1, 2]})  # fmt: skip
    assert pot.backend == "torch"
    assert pot.backend_reason == (
        "the emitted gradient has no rule for the density of Categorical(probs) (in 'y', m.zs:5:3)"
    )


def test_an_enumerated_model_says_it_stays_on_pytorch():
    pot = _potential("data:\n  y: real[N]\ntheta: real in (0, 1) ~ Beta(2, 2)\nloc: ordered[2] ~ Normal(0, 3)\n"
                     "plate n in N:\n  z[n] ~ Categorical(probs=stack(theta, 1 - theta)), enumerate\n"
                     "  y[n] ~ Normal(loc[z[n]], 1)\n", {"y": [0.1, 2.0]})  # fmt: skip
    assert pot.backend == "torch" and "enumerated site" in pot.backend_reason


def test_sample_verbose_names_the_emitted_path(tmp_path):
    result = CliRunner().invoke(
        main, ["sample", str(SPEC), "--data", str(DATA), *QUICK, "-v", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "(gradients: numba: the emitted code compiled by numba (zsdsl compile --emit kernel), checked against "
        "PyTorch autograd)" in result.output
    )


def test_sg_mcmc_over_minibatches_says_its_gradients_are_pytorchs(tmp_path):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(
        "data:\n  y: real[N]\nmu ~ Normal(0, 1)\nplate n in N, subsample=2:\n  y[n] ~ Normal(mu, 1)\n", "m.zs"
    )
    result = cm.sample({"y": [0.1, 0.4, -0.2, 1.0, 0.3, 0.5]}, method="sgld", burnin=10, draws=10, out=tmp_path / "r")
    assert result.potential.backend == "torch"
    gradients = json.loads((tmp_path / "r" / "adaptation.json").read_text())["gradients"]
    assert gradients == {"backend": "torch", "reason": "minibatch gradients by PyTorch autograd (the emitted NumPy "
                         "code evaluates the whole data)"}  # fmt: skip


def _schools_potential():
    from zsdsl.runtime.data import load_data

    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(SPEC)
    data = cm.prepare_data(load_data(DATA))
    return cm.model(data), data


def test_with_zsdsl_jit_0_the_numpy_code_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSDSL_JIT", "0")
    result = CliRunner().invoke(main, ["sample", str(SPEC), "--data", str(DATA), *QUICK, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and "(gradients: numpy)" in result.output
    gradients = json.loads((tmp_path / "r" / "adaptation.json").read_text())["gradients"]
    assert gradients == {
        "backend": "numpy",
        "reason": "emitted straight-line NumPy code (zsdsl compile --emit gradient), checked against PyTorch "
        "autograd; not compiled by numba: ZSDSL_JIT=0 is set",
    }


def test_a_kernel_numba_cannot_compile_leaves_the_numpy_code_with_numbas_reason():
    import dataclasses

    model, data = _schools_potential()
    program = model.gradient_program
    kernel = program.kernel.replace("np.exp(v7)", "np.einsum('->', v7)")
    model.gradient_program = dataclasses.replace(program, kernel=kernel)
    line = next(i for i, text in enumerate(kernel.splitlines(), 1) if "einsum" in text)
    pot = Potential(model, data)
    assert pot.backend == "numpy"
    assert pot.backend_reason == (
        "emitted straight-line NumPy code (zsdsl compile --emit gradient), checked against PyTorch autograd; not "
        f"compiled by numba: numba did not compile the kernel (TypingError at the kernel's line {line}: Unknown "
        "attribute 'einsum' of type Module(<module 'zsdsl.runtime.lib.jitnp.np'>))"
    )


def test_a_wrong_kernel_is_refused_at_the_check_points():
    import dataclasses

    model, data = _schools_potential()
    program = model.gradient_program
    model.gradient_program = dataclasses.replace(program, kernel=program.kernel.replace("gr[0] = -", "gr[0] = 1.0 - "))
    pot = Potential(model, data)
    assert pot.backend == "torch"
    assert pot.backend_reason.startswith("the emitted gradient disagreed with PyTorch autograd at a check point (U ")
