"""Validation during a fit: scores on held-out data, the best parameters kept, early stopping, resume."""

from __future__ import annotations

import shutil

import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.runtime.vi.evaluate import evaluate, rebind

# A small VAE on pure-noise bits: the best a model can do on new bits is log p(x) = -16 log 2 = -11.09,
# and a decoder that memorises the 32 training vectors gets worse on the validation ones (run for
# 3000 steps, the training bound climbs from -11 to -6 per vector while the validation score falls
# from -11.4 to -27), so the validation score peaks early and then falls: what early stopping is for.
TINY_VAE = """
data:
  x: real[N, 16] in [0, 1]
nets:
  dec = MLP(2 -> 64 -> 16, act=relu)
plate n in N, subsample=16:
  z[n] ~ Normal(0, 1), event=[2]
  x[n] ~ Bernoulli(logits=dec(z[n])), event=[16]
guide q:
  nets:
    enc = MLP(16 -> 32 -> 4, act=relu)
  plate n in N:
    h = enc(x[n])
    z[n] ~ Normal(h[:2], softplus(h[2:])), event=[2]
"""


@pytest.fixture(scope="module")
def vae():
    g = torch.Generator().manual_seed(0)
    train = {"x": (torch.rand(32, 16, generator=g) < 0.5).double()}
    valid = {"x": (torch.rand(64, 16, generator=g) < 0.5).double()}
    return zsdsl.loads(TINY_VAE, "tiny_vae.zs"), train, valid


def _state(result):
    return {k: v.detach().clone() for k, v in [*result.model.state_dict().items(), *result.guide.state_dict().items()]}


def _valid_score(cm, result, valid, particles=1):
    data = cm.prepare_data(valid)
    model, guide = rebind(cm, data, result)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(result.config.seed + 104729)  # the validator's fixed seed
        return evaluate(model, guide, data, particles=particles, batch=500)["log_likelihood"]


def test_early_stopping_keeps_the_best_parameters(vae, tmp_path):
    cm, train, valid = vae
    kw = dict(steps=3000, lr=0.01, seed=1, valid_every=20, valid_particles=20, checkpoint_every=100, log_every=7)
    r = cm.fit(train, valid=valid, early_stop=4, out=tmp_path / "run", **kw)
    scores = [s for _, _, s in r.validation]
    best = max(range(len(scores)), key=scores.__getitem__)
    # it stopped 4 validations after the best, long before 3000 steps
    assert r.stopped_step == r.validation[-1][0] == r.best_step + 4 * 20 < 3000
    assert r.validation[best][0] == r.best_step and len(scores) == best + 5
    assert all(s < scores[best] for s in scores[best + 1 :]) and scores[-1] < scores[best] - 0.1
    assert r.history[-1][0] == r.stopped_step  # no steps after the stop
    # the returned parameters are the best ones: re-scoring them gives the best score, and best.pt holds them
    assert _valid_score(cm, r, valid, particles=20) == pytest.approx(scores[best], abs=1e-4)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    assert saved["step"] == r.best_step
    for key, value in saved["model"].items():
        assert torch.equal(value, r.model.state_dict()[key]), key
    lines = (tmp_path / "run" / "valid.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,valid,best,best_step,wall_s" and len(lines) == 1 + len(scores)


def test_validation_does_not_change_the_training_trajectory(vae):
    cm, train, valid = vae
    kw = dict(steps=200, lr=0.01, seed=2, log_every=10)
    plain = cm.fit(train, **kw)
    scored = cm.fit(train, valid=valid, valid_every=25, valid_particles=3, **kw)
    assert [h[2] for h in plain.history] == [h[2] for h in scored.history]
    assert len(scored.validation) == 8 and scored.stopped_step is None


def test_a_stopped_run_resumes_to_the_same_result(vae, tmp_path):
    cm, train, valid = vae
    kw = dict(steps=3000, lr=0.01, seed=1, valid_every=20, valid_particles=20, early_stop=4, checkpoint_every=50,
              keep=100)  # fmt: skip
    full = cm.fit(train, valid=valid, out=tmp_path / "full", **kw)
    # a copy of the run as if killed right after its second-to-last checkpoint
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    (cut / "checkpoints" / "best.pt").unlink()
    checkpoints = sorted((cut / "checkpoints").glob("step-*.pt"))
    for path in checkpoints[-2:]:
        path.unlink()
    resumed = cm.fit(train, valid=valid, out=cut, resume=True, **kw)
    assert resumed.validation == full.validation and resumed.stopped_step == full.stopped_step
    a, b = _state(full), _state(resumed)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert torch.load(cut / "checkpoints" / "best.pt", weights_only=True)["step"] == full.best_step
    assert (cut / "valid.csv").read_text().count("\n") == (tmp_path / "full" / "valid.csv").read_text().count("\n")
    # resuming a run that has stopped does nothing more
    again = cm.fit(train, valid=valid, out=cut, resume=True, **kw)
    assert again.validation == full.validation and again.history[-1][0] == full.stopped_step


def test_global_latents_are_scored_by_the_predictive_log_likelihood():
    cm = zsdsl.loads("data:\n  N: int\n  y: real[N]\nmu ~ Normal(0, 10)\nplate n in N:\n  y[n] ~ Normal(mu, 1)\n",
                     "mean.zs")  # fmt: skip
    g = torch.Generator().manual_seed(3)
    train = {"N": 50, "y": 2 + torch.randn(50, generator=g)}
    valid = {"N": 40, "y": 2 + torch.randn(40, generator=g)}
    r = cm.fit(train, steps=300, lr=0.05, valid=valid, valid_every=100, valid_particles=200)
    # the posterior of mu is N(mean(y), 1/50): the predictive density of new y is ~N(mean, 1 + 1/50)
    mean = train["y"].mean()
    exact = torch.distributions.Normal(mean, (1 + 1 / 50) ** 0.5).log_prob(valid["y"]).mean()
    assert r.validation[-1][2] == pytest.approx(float(exact), abs=0.02)


def test_cli_early_stop_and_evaluate_use_the_best_checkpoint(vae, tmp_path):
    cm, train, valid = vae
    import numpy as np

    np.savez(tmp_path / "bits.npz", x=train["x"].numpy())
    np.savez(tmp_path / "valid.npz", x=valid["x"].numpy())
    spec = tmp_path / "tiny_vae.zs"
    spec.write_text(TINY_VAE)
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(spec), "--early-stop", "3", "--out", str(tmp_path / "x"),
                               "--data", str(tmp_path / "bits.npz")])  # fmt: skip
    assert res.exit_code == 1 and "--early-stop needs validation data (--valid)." in res.output
    run = tmp_path / "run"
    res = runner.invoke(main, ["fit", str(spec), "--data", str(tmp_path / "bits.npz"), "--valid",
                               str(tmp_path / "valid.npz"), "--valid-every", "20", "--early-stop", "5", "--lr",
                               "0.01", "--steps", "3000", "--seed", "1", "--out", str(run)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "validation: best" in res.output and "stopped early at step" in res.output
    stopped_at = res.output.split("stopped early at step ")[1].split()[0]
    res = runner.invoke(main, ["fit", "--resume", str(run)])  # reloads --valid from config.json; nothing left to do
    assert res.exit_code == 0, res.output
    assert f"stopped early at step {stopped_at}" in res.output
    res = runner.invoke(main, ["evaluate", str(run), "--data", str(tmp_path / "valid.npz"), "--particles", "10"])
    assert res.exit_code == 0, res.output
    assert '"checkpoint": "best.pt"' in res.output
    res = runner.invoke(main, ["fit", str(spec), "--data", str(tmp_path / "bits.npz"), "--valid-every", "0",
                               "--valid", str(tmp_path / "valid.npz"), "--out", str(tmp_path / "y")])  # fmt: skip
    assert res.exit_code == 1 and "--valid-every must be at least 1." in res.output
