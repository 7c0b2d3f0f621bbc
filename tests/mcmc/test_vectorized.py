"""``--chain-method vectorized``: the batched potential equals the flat one, the lockstep tree makes the
recursion's decisions, both chain methods match the same reference posterior, resume gives the same
draws, and options that do not apply are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import OptionError
from zsdsl.runtime.checkpoint import atomic_save, load_checkpoint
from zsdsl.runtime.mcmc import batched
from zsdsl.runtime.mcmc.batched import BatchedPotential, BatchMetric, nuts_batch
from zsdsl.runtime.mcmc.nuts import Metric, State, nuts_transition
from zsdsl.runtime.mcmc.output import summarize
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.reference import check_reference
from zsdsl.runtime.mcmc.sampler import SamplerConfig, chain_seed, sample
from zsdsl.runtime.mcmc.vectorized import VectorizedChains

torch.set_default_dtype(torch.float64)
ROOT = Path(__file__).resolve().parents[2]
PDB = ROOT.parent / "shared" / "data" / "posteriordb"
SCHOOLS = ROOT / "specs" / "eight_schools_noncentered.zs"
SCHOOLS_DATA = ROOT / "specs" / "data" / "eight_schools.json"
# a funnel (divergences at large steps), a correlated pair and a bounded scale: every branch of the tree
FUNNEL = "v ~ Normal(0, 3)\nx ~ Normal(0, exp(v / 2)), event=[3]\nc: real in (0, inf) ~ Gamma(2, 1)\n"


def _potential(text, data=None):
    cm = zsdsl.loads(text, "m.zs")
    data = cm.prepare_data(data or {})
    return Potential(cm.model(data), data)


def _schools():
    cm = zsdsl.load(SCHOOLS)
    data = cm.load_data(SCHOOLS_DATA)
    return cm.model(data), data


def test_batched_potential_equals_the_one_point_potential():
    model, data = _schools()
    pot = Potential(model, data)
    z = torch.randn(6, pot.dim, generator=torch.Generator().manual_seed(0)) * 2
    U, g = BatchedPotential(pot)(z)
    for i in range(6):
        Ui, gi = pot.value_and_grad(z[i])
        assert abs(float(U[i]) - Ui) < 1e-10 * max(1.0, abs(Ui))
        assert torch.allclose(g[i], gi, rtol=1e-10, atol=1e-10)


def test_a_failing_row_gets_infinite_energy_and_the_others_their_values():
    pot = _potential(FUNNEL)
    z = torch.zeros(3, pot.dim)
    bp = BatchedPotential(pot)
    U, g = bp(z)
    assert torch.isfinite(U).all()
    z[1, -1] = 800.0  # c = exp(800) overflows: the row's energy is not finite
    U2, g2 = bp(z)
    assert U2[1] == float("inf") and torch.equal(g2[1], torch.zeros(pot.dim))
    assert torch.allclose(U2[[0, 2]], U[[0, 2]]) and torch.allclose(g2[[0, 2]], g[[0, 2]])


class _FixedRng:
    """The recursion's random numbers: the given momentum, and one constant for every uniform draw."""

    def __init__(self, r, u):
        self.r, self.u = r, u

    def standard_normal(self, n):
        return self.r

    def random(self):
        return self.u


@pytest.mark.parametrize("u", [0.9, 0.1], ids=["forward", "backward"])
@pytest.mark.parametrize("eps", [0.3, 1.7], ids=["small-step", "divergent-step"])
def test_the_lockstep_tree_makes_the_recursions_decisions(monkeypatch, u, eps):
    # with the same momenta and directions both trees are the same trajectory: they must stop at the same
    # depth after the same leapfrogs (U-turns of inner nodes, Stan's extra checks, divergences)
    pot = _potential(FUNNEL)
    C = 256
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(C, pot.dim, generator=gen) * 1.5
    r = torch.randn(C, pot.dim, generator=gen)
    inv = torch.rand(pot.dim, generator=gen) + 0.5
    bp = BatchedPotential(pot)
    U, g = bp(z)
    metric = BatchMetric(inv.expand(C, -1).clone())
    monkeypatch.setattr(metric, "momentum", lambda gen: metric.chol * r)
    monkeypatch.setattr(batched, "_uniform", lambda gen, like: torch.full((like.shape[0],), u))
    _, stats = nuts_batch(bp, z, U, g, torch.full((C,), eps), metric, gen, max_depth=8)
    m = Metric(inv.numpy())
    depths, steps, divergent = [], [], []
    for c in range(C):
        zc = z[c].numpy()
        Uc, gc = pot.value_and_grad_np(zc)
        _, st = nuts_transition(pot, State(zc, Uc, gc), eps, m, _FixedRng(r[c].numpy(), u), max_depth=8)
        depths.append(st["treedepth__"]), steps.append(st["n_leapfrog__"]), divergent.append(st["divergent__"])
    assert stats["treedepth__"].tolist() == depths
    assert stats["n_leapfrog__"].tolist() == steps
    assert stats["divergent__"].tolist() == divergent
    assert len(set(depths)) > 2  # the chains' trees differ: the masks were exercised
    if eps > 1:
        assert 0 < sum(divergent) < C


@pytest.mark.parametrize("method", ["processes", "vectorized"])
def test_both_chain_methods_match_the_same_reference_posterior(method):
    # posteriordb's reference for eight schools, with the criterion of the posteriordb tests (3 Monte Carlo
    # standard errors of each mean and sd): the two methods draw from the same distribution
    folder = PDB / "eight_schools-eight_schools_noncentered"
    failures, result = check_reference(ROOT / "specs" / "posteriordb" / f"{folder.name}.zs", folder,
                                       chain_method=method)  # fmt: skip
    assert not failures, failures
    assert int(result.stat("divergent__").sum()) < 10
    assert 0.7 < float(result.stat("accept_stat__").mean()) < 0.95  # dual averaging per chain aims at 0.8


def test_vectorized_hmc_and_dense_metric_on_a_correlated_gaussian():
    # var(a) = 100, var(b) = 25.09, corr 0.998; 4 chains x 1000 draws: the variances' relative Monte Carlo
    # error is about sqrt(2 / ESS) (ESS > 400 here: < 0.07), so 25 % is over 3 of those errors
    cm = zsdsl.loads("a ~ Normal(0, 10)\nb ~ Normal(0.5 * a, 0.3)\n", "m.zs")
    data = cm.prepare_data({})
    for method, extra in (("nuts", {"metric": "dense"}), ("hmc", {"metric": "dense", "hmc_steps": 10})):
        cfg = SamplerConfig(method=method, chains=4, warmup=600, draws=1000, seed=2, chain_method="vectorized",
                            **extra)  # fmt: skip
        r = sample(cm.model(data), data, cfg)
        v = r.values()
        a, b = v["a"].reshape(-1), v["b"].reshape(-1)
        assert abs(float(a.var()) / 100 - 1) < 0.25, method
        assert abs(float(b.var()) / 25.09 - 1) < 0.25, method
        s = summarize({"a": v["a"].numpy()})["a"]
        assert abs(s["mean"]) < 4 * s["mcse_mean"], method
        assert r.chains[0].inv_metric.shape == (2, 2)


def test_initial_points_are_the_process_chains_and_stats_have_stans_names():
    model, data = _schools()
    pot = Potential(model, data)
    cfg = SamplerConfig(chains=3, warmup=0, draws=5, seed=7, chain_method="vectorized")
    chains = VectorizedChains(pot, cfg, lambda c: chain_seed(cfg, c))
    from zsdsl.runtime.mcmc.inits import initial_point

    for c in range(3):
        want = initial_point(pot, np.random.default_rng(chain_seed(cfg, c)), 2.0).z
        assert np.array_equal(chains.z[c].numpy(), want)
    while not chains.done:
        chains.step()
    res = chains.results()
    assert len(res) == 3 and res[0].u.shape == (5, pot.dim)
    assert set(res[0].stats) == {"lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__",
                                 "divergent__", "energy__"}  # fmt: skip
    assert torch.allclose(res[1].stats["lp__"], -torch.tensor([pot.value_and_grad(u)[0] for u in res[1].u]))


def test_a_checkpointed_batch_resumes_to_the_same_draws(tmp_path):
    model, data = _schools()
    pot = Potential(model, data)
    pot.batched_reason = "test"
    cfg = SamplerConfig(chains=3, warmup=150, draws=100, seed=3, chain_method="vectorized", save_warmup=True)
    seed_of = lambda c: chain_seed(cfg, c)  # noqa: E731
    whole = VectorizedChains(pot, cfg, seed_of)
    while not whole.done:
        whole.step()
    part = VectorizedChains(pot, cfg, seed_of)
    for _ in range(120):  # stopped inside a metric window, between adaptation steps
        part.step()
    atomic_save(part.state_dict(), tmp_path / "chains.pt")
    again = VectorizedChains(pot, cfg, seed_of)
    again.load_state_dict(load_checkpoint(tmp_path / "chains.pt"))
    while not again.done:
        again.step()
    assert torch.equal(again.draws, whole.draws)
    assert torch.equal(again.stats["n_leapfrog__"], whole.stats["n_leapfrog__"])
    assert torch.equal(again.eps, whole.eps)


def test_the_cli_runs_vectorized_chains_and_says_so(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "zsdsl.cli", "sample", str(SCHOOLS), "--data", str(SCHOOLS_DATA), "--chains", "3",
           "--warmup", "200", "--draws", "200", "--chain-method", "vectorized", "--out", str(run), "--no-plots",
           "--quiet"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "gradients: torch, because batched autograd over the chains (--chain-method vectorized)" in out.stdout
    adaptation = json.loads((run / "adaptation.json").read_text())
    assert adaptation["nuts_tree"].startswith("vectorized:")
    assert (run / "checkpoints" / "chains.pt").exists() and (run / "chain_3.csv").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["chain_method"] == "vectorized" and config["device"] == "cpu"
    resumed = subprocess.run([sys.executable, "-m", "zsdsl.cli", "sample", "--resume", str(run), "--chain-method",
                              "processes", "--no-plots"], capture_output=True, text=True,
                             env={"PYTHONPATH": str(ROOT), "PATH": ""})  # fmt: skip
    assert resumed.returncode == 1
    assert "chain_method" in resumed.stderr or "chain-method" in resumed.stderr, resumed.stderr


@pytest.mark.parametrize(
    "options, message",
    [
        ({"chain_method": "vectorized", "cores": 2}, "--cores sets the processes of --chain-method processes"),
        ({"chain_method": "vectorized", "compile": True}, "leave --compile out"),
        (
            {"device": "cuda"} if not torch.cuda.is_available() else {"device": "cpu", "chain_method": "loops"},
            "CUDA is not available" if not torch.cuda.is_available() else "Unknown chain method",
        ),
        ({"chain_method": "threads"}, "Unknown chain method 'threads'; use processes or vectorized."),
    ],
)
def test_options_that_do_not_apply_to_vectorized_chains_are_refused(options, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SamplerConfig(**options).validate()


def test_a_gpu_on_process_chains_is_refused_with_the_way_to_use_it():
    if not torch.cuda.is_available():
        pytest.skip("no GPU: the CUDA path of vectorized chains runs where one is")
    with pytest.raises(OptionError, match="needs --chain-method vectorized"):
        SamplerConfig(device="cuda").validate()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU: the CUDA path runs where one is")
def test_vectorized_chains_on_the_gpu_match_the_reference():
    folder = PDB / "eight_schools-eight_schools_noncentered"
    failures, result = check_reference(ROOT / "specs" / "posteriordb" / f"{folder.name}.zs", folder, chains=64,
                                       chain_method="vectorized", device="cuda")  # fmt: skip
    assert not failures, failures
    assert result.u.device.type == "cpu"  # the outputs are on the CPU


def test_an_interrupted_vectorized_run_resumes_from_its_checkpoint(tmp_path):
    # stopped at iteration 100 (checkpointed every step), then resumed through sample(resume=True); the
    # previous checkpoint kept beside the latest is what a truncated latest falls back to
    model, data = _schools()
    cfg = dict(chains=3, warmup=150, draws=100, seed=4, chain_method="vectorized")
    whole = sample(model, data, SamplerConfig(**cfg))

    def stop(c, it, eps, depth):
        if it == 100:
            raise KeyboardInterrupt

    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(KeyboardInterrupt):
        sample(model, data, SamplerConfig(**cfg), progress=stop, run=tmp_path, checkpoint_every_s=0.0)
    latest = tmp_path / "checkpoints" / "chains.pt"
    assert load_checkpoint(latest)["it"] == 100
    assert load_checkpoint(latest.with_name("chains.prev.pt"))["it"] == 99
    resumed = sample(model, data, SamplerConfig(**cfg), run=tmp_path, resume=True)
    assert torch.equal(resumed.u, whole.u)
    latest.write_bytes(latest.read_bytes()[:100])  # a truncated latest: the one kept before it is read
    again = sample(model, data, SamplerConfig(**cfg), run=tmp_path, resume=True)
    assert torch.equal(again.u, whole.u)
