"""Implicit models and adversarial training: `x ~ Implicit(G(z))`, `critic NAME:` blocks, and
`--infer gan` / `--infer wgan-gp` (their checks, what they learn, resume, the CLI and its refusals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.compiler.pipeline import compile_text
from zsdsl.errors import ErrorGroup, OptionError, SyntaxError_

SPECS = Path(__file__).resolve().parents[2] / "specs"
TOY = """
data:
  x: real[N, 2]
params:
  a: real[2] = 0.0
  b: real[2] in (0, inf) = 1.0
plate n in N, subsample=100:
  z[n] ~ Normal(0, 1), event=[2]
  x[n] ~ Implicit(a + b * z[n]), event=[2]
critic d:
  nets:
    disc = MLP(2 -> 32 -> 1, act=leaky_relu)
  plate n in N:
    score disc(x[n])[0]
"""


def _toy_data(n: int = 2000) -> dict:
    gen = torch.Generator().manual_seed(0)
    return {"x": torch.tensor([3.0, -1.0]) + 0.5 * torch.randn(n, 2, generator=gen)}


@pytest.mark.parametrize("infer", ["gan", "wgan-gp"])
def test_adversarial_training_moves_the_generator_onto_the_data(infer):
    # the generator starts at N(0, I); the data's mean is (3, -1). 5000 draws: the mean's Monte Carlo
    # error is about 0.01, so 0.25 is the fit's own error (seeded), not sampling noise
    cm = zsdsl.loads(TOY, "toy.zs")
    result = cm.fit(_toy_data(), infer=infer, steps=1000, lr=0.003, seed=0)
    draws = result.draw(5000)
    assert draws.shape == (5000, 2)
    assert torch.allclose(draws.mean(0), torch.tensor([3.0, -1.0]), atol=0.25), draws.mean(0)
    step, epoch, loss_d, loss_g, real, fake = result.history[-1]
    assert step == 1000 and epoch == (1000 * (1 if infer == "gan" else 5) - 1) // 20
    if infer == "gan":  # at the equilibrium the critic cannot tell them apart: loss 2 log 2
        assert abs(loss_d - 2 * np.log(2)) < 0.1


def test_a_resumed_adversarial_run_continues_as_the_uninterrupted_one(tmp_path):
    cm = zsdsl.loads(TOY, "toy.zs")
    data = _toy_data(400)
    whole = cm.fit(data, infer="wgan-gp", steps=40, lr=0.003, seed=1, out=tmp_path / "a", checkpoint_every=20)
    cm.fit(data, infer="wgan-gp", steps=20, lr=0.003, seed=1, out=tmp_path / "b", checkpoint_every=20)
    with pytest.raises(OptionError, match="was fitted on data given as a dict; give it again"):
        cm.fit(None, infer="wgan-gp", steps=40, out=tmp_path / "b", resume=True)
    resumed = cm.fit(data, infer="wgan-gp", steps=40, out=tmp_path / "b", resume=True)
    assert [r[:2] for r in resumed.history] == [(s, e) for s, e, *_ in whole.history[20:]]
    assert np.allclose([r[2:] for r in resumed.history], [r[2:] for r in whole.history[20:]], rtol=0, atol=1e-6)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    metrics = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert metrics[0] == "step,epoch,loss_critic,loss_generator,score_real,score_fake,wall_s"
    assert [int(line.split(",")[0]) for line in metrics[1:]] == [20, 40]  # log_every 50: each run's last step


CHECKS = [
    (TOY.replace("x[n] ~ Implicit", "w[n] ~ Implicit"), "Implicit(...) is for observed data"),
    (TOY.replace("    score disc(x[n])[0]\n", "    h = disc(x[n])\n"), "Critic 'd' has no score line"),
    (TOY.replace("score disc(x[n])[0]", "score disc(x[n])"), "A critic's score is one real number per element; "
     "this one is shape [1]"),
    (TOY.replace("  plate n in N:\n    score disc(x[n])[0]\n", "  score 1.0\n"),
     "The score belongs in plate(s) n, where the implicit site 'x' is."),
    (TOY.replace("data:\n  x: real[N, 2]", "data:\n  x: real[N, 2]\n  c: real[N]").replace(
        "score disc(x[n])[0]", "score disc(x[n])[0] + c[n]"),
     "Critic 'd' reads the data 'c'; a critic reads the implicit site(s) 'x' only"),
    (TOY.replace("Implicit(a + b * z[n])", "Normal(a + b * z[n], 1.0)"), "Critic 'd' has nothing to judge"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", CHECKS)
def test_implicit_sites_and_critics_are_checked(text, message):
    with pytest.raises(ErrorGroup) as info:
        compile_text(text, "toy.zs")
    assert any(message in str(e) for e in info.value.errors), [str(e) for e in info.value.errors]


def test_a_critic_holds_no_draws():
    text = TOY.replace("    score disc(x[n])[0]", "    y[n] ~ Normal(0, 1)\n    score disc(x[n])[0]")
    with pytest.raises(SyntaxError_, match="Unexpected '~'"):
        compile_text(text, "toy.zs")


def test_likelihood_engines_refuse_an_implicit_model_with_the_way_to_fit_it():
    cm = zsdsl.loads(TOY, "toy.zs")
    expected = "needs a likelihood, and 'x' ~ Implicit(...) has none: fit it with --infer gan or --infer wgan-gp"
    with pytest.raises(OptionError, match=r"--infer sgvb " + expected.replace("(...)", r"\(\.\.\.\)")):
        cm.fit(_toy_data(), infer="sgvb", steps=2)
    with pytest.raises(OptionError, match=r"zsdsl sample \(nuts\) " + expected.replace("(...)", r"\(\.\.\.\)")):
        cm.sample(_toy_data(), method="nuts")
    with pytest.raises(OptionError, match="Option.s. particles do not apply to --infer gan"):
        cm.fit(_toy_data(), infer="gan", particles=3)


def test_the_dcgan_spec_trains_from_the_cli_and_writes_its_sample_grid(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "x.npz", x=rng.random((128, 784)))
    run = tmp_path / "run"
    out = CliRunner().invoke(main, ["fit", str(SPECS / "dcgan.zs"), "--data", str(tmp_path / "x.npz"),
                                    "--infer", "gan", "--steps", "3", "--out", str(run)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "gan with critic d: after 3 steps (epoch 2)" in out.output  # 2 steps an epoch
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000000002.png", "step-000000003.png"]
    assert (run / "checkpoints" / "step-000000003.pt").exists()
    refused = CliRunner().invoke(main, ["fit", str(SPECS / "dcgan.zs"), "--data", str(tmp_path / "x.npz"), "--infer",
                                        "sgvb", "--critic-lr", "1e-3", "--out", str(tmp_path / "r2")])  # fmt: skip
    assert refused.exit_code == 1
    assert "--critic-lr apply to --infer gan / wgan-gp only, not --infer sgvb." in refused.output
    assert not (tmp_path / "r2").exists()
