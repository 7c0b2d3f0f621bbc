"""The benchmark scripts run end to end on tiny settings (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


# vi_ssl_m2.py --quick runs in test_m2_curve_scores_each_epoch_checkpoint; the two longest (about 30 s and 19 s)
# run in the slow set, to keep the default run under 10 minutes
SLOW = pytest.mark.slow
NEEDS_PDB = pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "posteriordb").is_dir(),
                               reason="shared posteriordb not present")  # fmt: skip
NEEDS_MOVIELENS = pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "movielens").is_dir(),
                                    reason="shared MovieLens not present")  # fmt: skip
SCRIPTS = ["vi_uci_bnn.py", "vi_mnist.py", "vi_parallel.py", pytest.param("vae_step.py", marks=SLOW), "sbn_step.py",
           "gradient.py",
           pytest.param("nuts.py", marks=SLOW), "compile.py",
           pytest.param("posteriordb.py", marks=NEEDS_PDB),
           "arma_far_start.py", pytest.param("pmf_movielens.py", marks=NEEDS_MOVIELENS), "gp_uci.py",
           "lda_ap.py", pytest.param("gan_mnist.py", marks=SLOW)]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_quick_mode(script):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"], capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["benchmark"] == script.removesuffix(".py")


def test_report_renders_the_committed_results():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import report

    text = report.render()
    for heading in ("The model library", "One training step", "Log density + gradient", "NUTS: min bulk ESS"):
        assert heading in text
    # every model of MISSION.md §5 has its row, measured or not
    library = text.split("### The model library", 1)[1].split("###", 1)[0]
    for model in ("eight schools", "BNN regression", "planar / IAF flow VAE", "LDA topic model",
                  "probabilistic matrix factorization", "sparse variational GP", "GAN (DCGAN-style)"):  # fmt: skip
        assert f"| {model}" in library, model
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    assert text.strip() in readme, "benchmarks/README.md is stale: run python benchmarks/report.py --write"


MNIST = ROOT.parent / "shared" / "data" / "mnist" / "binarized_mnist.npz"


@pytest.mark.skipif(not MNIST.exists(), reason="shared MNIST not present")
def test_checkpoint_selection_evaluates_the_best_on_valid(tmp_path):
    import zsdsl
    from zsdsl.runtime.data import load_data

    cm = zsdsl.load(ROOT / "specs" / "vae.zs")
    cm.fit({"x": load_data(f"{MNIST}:train")["x"][:512]}, epochs=3, checkpoint_every=4, keep=10, out=tmp_path / "run")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "vi_select.py"), str(tmp_path / "run"), "--eval-n", "16",
           "--eval-particles", "4"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["valid_steps"] == [4, 8, 12] and r["eval_n"] == 16
    best = max(range(3), key=r["valid_curve"].__getitem__)
    assert r["steps"] == r["valid_steps"][best] and round(r["best_valid"], 3) == r["valid_curve"][best]
    # 512 images in minibatches of 128: 4 steps an epoch, a checkpoint at the end of each
    assert r["best_epoch"] == best + 1 and r["stopped_epoch"] == 3


@pytest.mark.skipif(not (MNIST.parent / "mnist.npz").exists(), reason="shared MNIST with labels not present")
def test_m2_curve_scores_each_epoch_checkpoint(tmp_path):
    script = [sys.executable, str(ROOT / "benchmarks" / "vi_ssl_m2.py"), "--quick"]
    fit = subprocess.run([*script, "--analytic-kl", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    curve = subprocess.run([*script, "--curve", str(tmp_path / "run")], capture_output=True, text=True, timeout=600)
    assert curve.returncode == 0, curve.stderr
    r, c = json.loads(fit.stdout), json.loads(curve.stdout)
    # 500 unlabelled images in minibatches of 100: a checkpoint every 5 steps; the last is the fitted state
    assert r["analytic_kl"] is True and c["steps"] == [5, 10]
    assert c["test_error"][-1] == r["test_error"]


def test_the_frechet_distance_of_two_gaussians_matches_its_closed_form():
    # N(0, I) against N(m, diag(s^2)) in 4 dims: |m|^2 + sum(1 + s^2 - 2 s); with 200000 draws each the
    # estimate's sampling sd is about 0.02 (mostly the s = 2 coordinate's variance), so 0.08 is 4 sd
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gan_mnist import frechet

    rng = np.random.default_rng(0)
    m, s = np.array([1.0, -0.5, 0.0, 2.0]), np.array([1.0, 2.0, 0.5, 1.5])
    a, b = rng.normal(size=(200000, 4)), m + s * rng.normal(size=(200000, 4))
    assert abs(frechet(a, b) - ((m**2).sum() + (1 + s**2 - 2 * s).sum())) < 0.08
    assert abs(frechet(a, a)) < 1e-6
