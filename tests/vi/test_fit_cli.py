"""`zsdsl fit` from the command line: a killed run resumes to the same parameters; bad options are errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from click.testing import CliRunner

from zsdsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"


def _fit_cmd(*extra):
    return [sys.executable, "-m", "zsdsl.cli", "fit", str(SPEC), "--data", str(DATA), "--lr", "0.02",
            "--particles", "2", "--seed", "3", *extra]  # fmt: skip


def _final_state(run: Path, step: int) -> dict:
    state = torch.load(run / "checkpoints" / f"step-{step:09d}.pt", weights_only=True)
    return {**{f"m.{k}": v for k, v in state["model"].items()}, **{f"g.{k}": v for k, v in state["guide"].items()}}


def test_killed_fit_resumes_to_the_same_parameters(tmp_path):
    steps = "1200"  # killed after step 300: 900 steps to resume
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ref = tmp_path / "ref"
    subprocess.run(_fit_cmd("--steps", steps, "--checkpoint-every", "100", "--out", str(ref)), env=env, check=True,
                   capture_output=True)  # fmt: skip
    run = tmp_path / "killed"
    proc = subprocess.Popen(_fit_cmd("--steps", steps, "--checkpoint-every", "100", "--out", str(run)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "checkpoints" / "step-000000300.pt").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted((run / "checkpoints").glob("step-*.pt"))
    assert done and done[-1].name != "step-000001200.pt", "the run finished before it could be killed"
    out = subprocess.run([sys.executable, "-m", "zsdsl.cli", "fit", "--resume", str(run)], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    a, b = _final_state(ref, 1200), _final_state(run, 1200)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_fit_reports_bad_options_without_traceback(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(SPEC), "--data", str(DATA), "--infer", "sgvbb", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "Unknown inference 'sgvbb'" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["fit", str(SPEC), "--data", str(DATA), "--guide", "qq", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "Unknown guide 'qq'" in res.output
    res = runner.invoke(main, ["fit", str(ROOT / "specs" / "gmm_enum.zs"), "--data", str(tmp_path / "none.json")])
    assert res.exit_code == 1 and "No such data file" in res.output
    res = runner.invoke(main, ["fit", "--resume", str(tmp_path / "nothing")])
    assert res.exit_code == 1 and "not a run directory" in res.output


def test_fit_auto_normal_refuses_discrete_latents(tmp_path):
    spec = tmp_path / "m.zs"
    spec.write_text("data:\n  y: real\nz ~ Bernoulli(probs=0.5)\ny ~ Normal(z, 1)\n")
    data = tmp_path / "d.json"
    data.write_text('{"y": 0.3}')
    res = CliRunner().invoke(main, ["fit", str(spec), "--data", str(data), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "The latent 'z' is discrete; auto-normal covers continuous latents only." in res.output


def test_fit_prints_a_posterior_table(tmp_path):
    res = CliRunner().invoke(main, ["fit", str(SPEC), "--data", str(DATA), "--steps", "300", "--lr", "0.05",
                                    "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "sgvb with guide auto-normal" in res.output
    assert "theta_trans[7]" in res.output
    assert (tmp_path / "r" / "config.json").exists() and (tmp_path / "r" / "metrics.csv").exists()


def test_generate_writes_an_image_grid_and_npz(tmp_path):
    import numpy as np

    spec = tmp_path / "tiny_vae.zs"
    spec.write_text(
        "data:\n  x: int[N, 16] in {0, 1}\nnets:\n  dec = MLP(2 -> 8 -> 16, act=tanh)\n"
        "plate n in N, subsample=8:\n  z[n] ~ Normal(0, 1), event=[2]\n"
        "  x[n] ~ Bernoulli(logits=dec(z[n])), event=[16]\n"
        "guide q:\n  nets:\n    enc = MLP(16 -> 8 -> 4, act=tanh)\n  plate n in N:\n    h = enc(x[n])\n"
        "    z[n] ~ Normal(h[:2], softplus(h[2:])), event=[2]\n"
    )
    np.savez(tmp_path / "d.npz", x=(np.random.default_rng(0).random((32, 16)) < 0.5).astype(np.int64))
    run = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(spec), "--data", str(tmp_path / "d.npz"), "--steps", "20", "--out", str(run)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["generate", str(run), "-n", "9", "-o", str(tmp_path / "g.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(main, ["generate", str(run), "-n", "5", "-o", str(tmp_path / "g.npz")])
    assert res.exit_code == 0, res.output
    draws = np.load(tmp_path / "g.npz")
    assert draws["x"].shape == (5, 16) and set(np.unique(draws["x"])) <= {0, 1}


def test_cuda_device_without_cuda_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        return
    res = CliRunner().invoke(main, ["fit", str(SPEC), "--data", str(DATA), "--device", "cuda", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "CUDA is not available" in res.output
