"""Data-parallel VI (``nprocs``, ``torchrun``): the same seed gives the same fit for any number of
processes, to rounding (``zsdsl.runtime.distributed``); errors and a dying process end cleanly."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import OptionError

SMALL = """
model small
data:
  x: real[N, 3]
nets:
  dec = MLP(2 -> 8 -> 3, act=tanh)
params:
  s: real in (0, inf)
plate n in N, subsample=8:
  z[n] ~ Normal(0, 1), event=[2]
  x[n] ~ Normal(dec(z[n]), s), event=[3]
guide q:
  nets:
    enc = MLP(3 -> 8 -> 4, act=tanh)
  plate n in N:
    h = enc(x[n])
    z[n] ~ Normal(h[:2], softplus(h[2:])), event=[2]
"""

# discrete local latents (score-function estimators) and a global latent (the same draw in every process)
DISCRETE = """
model sbnish
data:
  x: real[N, 3]
nets:
  dec = MLP(2 -> 8 -> 3, act=tanh)
mu ~ Normal(0, 1)
plate n in N, subsample=8:
  z[n] ~ Bernoulli(0.5), event=[2]
  x[n] ~ Normal(dec(z[n]) + mu, 1), event=[3]
guide q:
  params:
    m: real
  nets:
    enc = MLP(3 -> 8 -> 2, act=tanh)
  mu ~ Normal(m, 0.3)
  plate n in N:
    z[n] ~ Bernoulli(logits=enc(x[n])), event=[2]
"""

# every latent local to the plate: IWAE's and VIMCO's per-element bounds
LOCAL = DISCRETE.replace("mu ~ Normal(0, 1)\n", "").replace(" + mu", "").replace("  params:\n    m: real\n", "")
LOCAL = LOCAL.replace("  mu ~ Normal(m, 0.3)\n", "")


@pytest.fixture(scope="module")
def data():
    return {"x": np.random.default_rng(0).normal(size=(64, 3))}


def _fit(text, data, tmp, nprocs, **options):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(text, "m.zs")
    out = tmp / f"run{nprocs}-{options.get('infer', 'sgvb')}"
    result = cm.fit(data, out=out, steps=30, draws=0, nprocs=nprocs, checkpoint_every=10, progress=False,
                    **options)  # fmt: skip
    return result, out


def _same_fit(a, b, rtol=1e-10):
    va = np.array([h[2] for h in a.history])
    vb = np.array([h[2] for h in b.history])
    np.testing.assert_allclose(vb, va, rtol=rtol)
    for name, p in {**a.model.state_dict(), **a.guide.state_dict()}.items():
        q = {**b.model.state_dict(), **b.guide.state_dict()}[name]
        torch.testing.assert_close(q, p, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize(
    "text,infer", [(SMALL, "sgvb"), (DISCRETE, "nvil"), (DISCRETE, "sgvb"), (LOCAL, "iwae"), (LOCAL, "vimco")]
)
def test_two_processes_give_the_one_process_fit(text, infer, data, tmp_path):
    one, run1 = _fit(text, data, tmp_path, 1, infer=infer)
    two, run2 = _fit(text, data, tmp_path, 2, infer=infer)
    assert len(one.history) == len(two.history) == 3
    _same_fit(one, two)
    m1 = (run1 / "metrics.csv").read_text().splitlines()
    m2 = (run2 / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in m1] == [r.split(",")[:3] for r in m2]  # the run rank 0 wrote
    assert json.loads((run2 / "config.json").read_text())["nprocs"] == 2


def test_a_two_process_run_resumes_in_one_process(data, tmp_path):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(SMALL, "m.zs")
    whole = cm.fit(data, out=tmp_path / "whole", steps=40, draws=0, checkpoint_every=10, progress=False)
    cm.fit(data, out=tmp_path / "split", steps=20, draws=0, checkpoint_every=10, nprocs=2, progress=False)
    resumed = cm.fit(data, out=tmp_path / "split", resume=True, steps=40, draws=0, progress=False)
    _same_fit(whole, resumed)


def test_refused_where_the_minibatch_cannot_be_split(data, tmp_path):
    cm = zsdsl.loads(SMALL, "m.zs")
    with pytest.raises(OptionError, match=r"plate 'n' \(subsample=8\) does not split evenly over 3 processes"):
        cm.fit(data, steps=2, nprocs=3, draws=0, progress=False)
    coupled = zsdsl.loads(DISCRETE, "m.zs")
    with pytest.raises(OptionError, match="--infer iwae over several processes needs every latent local"):
        coupled.fit(data, steps=2, nprocs=2, infer="iwae", draws=0, progress=False)
    whole = zsdsl.loads(SMALL.replace(", subsample=8", ""), "m.zs")
    with pytest.raises(OptionError, match="this model has none"):
        whole.fit(data, steps=2, nprocs=2, draws=0, progress=False)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "zsdsl.cli", *args], capture_output=True, text=True, **kw)


def test_torchrun_launch_writes_the_one_process_run(data, tmp_path):
    spec, data_file = tmp_path / "small.zs", tmp_path / "small.json"
    spec.write_text(SMALL)
    data_file.write_text(json.dumps({"x": data["x"].tolist()}))
    one = _cli("fit", str(spec), "--data", str(data_file), "--steps", "20", "--out", str(tmp_path / "one"),
               "--draws", "50", "--no-plots")  # fmt: skip
    assert one.returncode == 0, one.stderr
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
              "zsdsl.cli", "fit", str(spec), "--data", str(data_file), "--steps", "20", "--draws", "50",
              "--no-plots", "--out", str(tmp_path / "two")]  # fmt: skip
    two = subprocess.run(launch, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("sgvb with guide q") == 1  # rank 0 reports, once
    assert (tmp_path / "one" / "metrics.csv").read_text().splitlines()[-1].split(",")[:3] == (
        tmp_path / "two" / "metrics.csv"
    ).read_text().splitlines()[-1].split(",")[:3]
    assert (
        json.loads((tmp_path / "two" / "summary.json").read_text()).keys()
        == json.loads((tmp_path / "one" / "summary.json").read_text()).keys()
    )
    wrong = dict(os.environ, WORLD_SIZE="2")
    refused = _cli("fit", str(spec), "--data", str(data_file), "--nprocs", "3", "--steps", "2", env=wrong)
    assert refused.returncode == 1
    assert "launched as one of 2 (WORLD_SIZE=2): leave out --nprocs" in refused.stderr


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_a_process_that_dies_ends_the_run_with_its_checkpoint_intact(data, tmp_path):
    spec, data_file, run = tmp_path / "small.zs", tmp_path / "small.json", tmp_path / "run"
    spec.write_text(SMALL)
    data_file.write_text(json.dumps({"x": data["x"].tolist()}))
    args = [sys.executable, "-m", "zsdsl.cli", "fit", str(spec), "--data", str(data_file), "--steps", "100000",
            "--checkpoint-every", "50", "--nprocs", "2", "--out", str(run), "--no-plots", "--draws", "0"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list((run / "checkpoints").glob("step-*.pt")) and time.time() < deadline:
        time.sleep(0.2)
    ranks = [c for c in _children(proc.pid) if "spawn" in open(f"/proc/{c}/cmdline").read()]
    assert len(ranks) >= 2, ranks
    os.kill(max(ranks), signal.SIGKILL)  # the later-spawned process: rank 1
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "was killed by signal 9 (SIGKILL); the run was stopped in every process. The last checkpoint, step-" in err
    assert f"is intact: continue with zsdsl fit --resume {run}" in err
    assert "Traceback" not in err
    resumed = _cli("fit", "--resume", str(run), "--steps", str(_last_step(run) + 20), "--no-plots")
    assert resumed.returncode == 0, resumed.stderr


def _last_step(run) -> int:
    return max(int(p.stem.split("-")[1]) for p in (run / "checkpoints").glob("step-*.pt"))


def test_validation_and_early_stopping_are_the_one_process_runs(data, tmp_path):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(SMALL, "m.zs")
    held_out = {"x": np.random.default_rng(1).normal(size=(16, 3))}
    kw = dict(steps=60, draws=0, valid=held_out, valid_every=5, early_stop=2, lr=0.05, progress=False)
    one = cm.fit(data, out=tmp_path / "one", **kw)
    two = cm.fit(data, out=tmp_path / "two", nprocs=2, **kw)
    assert one.stopped_step is not None and two.stopped_step == one.stopped_step
    assert two.best_step == one.best_step
    np.testing.assert_allclose([v[2] for v in two.validation], [v[2] for v in one.validation], rtol=1e-10)
    _same_fit(one, two)  # the best parameters, kept
