"""A killed `zsdsl sample` resumes from its chain checkpoints to the same draws; parallel chains
give the same draws as sequential ones; the chain object can be stepped by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import zsdsl
from zsdsl.runtime.data import load_data
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import Chain, SamplerConfig, sample

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"


def _cmd(*extra):
    return [sys.executable, "-m", "zsdsl.cli", "sample", str(SPEC), "--data", str(DATA), "--chains", "2",
            "--warmup", "300", "--draws", "400", "--seed", "3", *extra]  # fmt: skip


def _draws(run: Path) -> list[str]:
    return [(run / f"chain_{c}.csv").read_text().splitlines() for c in (1, 2)]


def test_killed_sample_resumes_to_the_same_draws(tmp_path):
    # the Python tree: numba's (the same draws, tests/mcmc/test_nuts_jit.py) ends 700 iterations of eight
    # schools before the first checkpoint could be killed; resuming numba's chains is tested by hand below
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZSDSL_JIT_NUTS": "0"}
    ref = tmp_path / "ref"
    subprocess.run(_cmd("--out", str(ref)), env=env, check=True, capture_output=True)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cmd("--out", str(run), "--checkpoint-every", "0.05"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    ck = [run / "checkpoints" / f"chain-{c}.pt" for c in (1, 2)]
    while time.time() < deadline and not all(p.exists() for p in ck):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # killed between moving a checkpoint aside and writing the next one, only the previous one is there:
    # --resume reads it (the sampler keeps it for that), so does this check
    its = [torch.load(p if p.exists() else p.with_name(p.stem + ".prev.pt"), weights_only=True)["it"] for p in ck]
    assert min(its) < 700, "the chains finished before the run could be killed"
    assert not (run / "chain_1.csv").exists()
    out = subprocess.run([sys.executable, "-m", "zsdsl.cli", "sample", "--resume", str(run)], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    ref_rows, rows = _draws(ref), _draws(run)
    for a, b in zip(ref_rows, rows):
        body_a = [r for r in a if not r.startswith("#")]
        body_b = [r for r in b if not r.startswith("#")]
        assert len(body_a) == 401 and body_a == body_b


def _model():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(SPEC)
    data = cm.prepare_data(load_data(DATA))
    return cm.model(data), data


def test_parallel_chains_equal_sequential_chains():
    model, data = _model()
    cfg = dict(chains=3, warmup=100, draws=100, seed=5)
    par = sample(model, data, SamplerConfig(**cfg, cores=2))
    seq = sample(model, data, SamplerConfig(**cfg, cores=1))
    assert torch.equal(par.u, seq.u)
    assert torch.equal(par.stat("n_leapfrog__"), seq.stat("n_leapfrog__"))


def test_chain_stepped_by_hand_and_restored_from_its_state():
    model, data = _model()
    pot = Potential(model, data)
    cfg = SamplerConfig(warmup=60, draws=40)
    a = Chain(pot, cfg, seed=11)
    for _ in range(70):
        a.step()
    saved = a.state_dict()
    rest_a = [a.step()[0] for _ in range(30)]
    b = Chain(pot, cfg, seed=999)
    b.load_state_dict(saved)
    rest_b = [b.step()[0] for _ in range(30)]
    np.testing.assert_array_equal(np.stack(rest_a), np.stack(rest_b))
    assert a.done and not a.warming_up and len(a.result().u) == 40


def test_python_api_samples_like_the_cli(tmp_path):
    cm = zsdsl.load(SPEC)
    raw = load_data(DATA)
    result = cm.sample(raw, method="nuts", chains=2, warmup=150, draws=150, seed=4, out=tmp_path / "run")
    table = result.summary()
    assert {"mu", "tau", "theta[0]", "theta_trans[7]"} <= set(table) and "theta[8]" not in table
    assert (tmp_path / "run" / "chain_2.csv").exists()
    assert result.to_inference_data().posterior["mu"].shape == (2, 150)
    sg = cm.sample(raw, method="sgld", chains=1, warmup=50, draws=40, lr=1e-3)
    assert sg.values()["mu"].shape == (1, 40)
