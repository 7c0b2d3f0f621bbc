"""NUTS on a model with an enumerated discrete site: the marginal equals the hand-written mixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import UsageError
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _data(n=60):
    rng = np.random.default_rng(0)
    z = rng.random(n) < 0.4
    return {"N": n, "y": np.where(z, rng.normal(-2, 1, n), rng.normal(2, 0.7, n)).tolist()}


def _potential(spec: str, raw: dict) -> Potential:
    cm = zsdsl.load(ROOT / "specs" / spec)
    data = cm.prepare_data(raw)
    return Potential(cm.model(data), data)


def test_enumerated_marginal_equals_the_log_mix_model():
    raw = _data()
    enum, mix = _potential("gmm_enum.zs", raw), _potential("gmm.zs", raw)
    assert enum.dim == mix.dim == 5
    rng = np.random.default_rng(1)
    for _ in range(5):
        z = rng.normal(size=5)
        (Ue, ge), (Um, gm) = enum.value_and_grad_np(z), mix.value_and_grad_np(z)
        assert abs(Ue - Um) < 1e-9 * max(1, abs(Um))
        np.testing.assert_allclose(ge, gm, rtol=1e-9, atol=1e-10)
    u = torch.from_numpy(rng.normal(size=(3, 5)))
    torch.testing.assert_close(enum.log_density(u), mix.log_density(u))


@pytest.mark.slow  # about 20 s
def test_nuts_samples_the_enumerated_mixture():
    raw = _data(200)
    cm = zsdsl.load(ROOT / "specs" / "gmm_enum.zs")
    data = cm.prepare_data(raw)
    r = sample(cm.model(data), data, SamplerConfig(chains=2, warmup=200, draws=200, seed=2))
    mu = r.values()["mu"].reshape(-1, 2)
    assert set(r.values()) == {"mu", "sigma", "theta"}
    # the two components, ordered: means near the simulated -2 and 2 (posterior sd ~0.1-0.15)
    assert abs(float(mu[:, 0].mean()) + 2) < 0.5 and abs(float(mu[:, 1].mean()) - 2) < 0.5


def test_what_cannot_be_enumerated_is_named():
    two = (
        "data:\n  y: real[N]\nplate n in N:\n  a[n] ~ Bernoulli(probs=0.3), enumerate\n"
        "  b[n] ~ Bernoulli(probs=0.6), enumerate\n  y[n] ~ Normal(a[n] + b[n], 1)\n"
    )
    cm = zsdsl.loads(two)
    data = cm.prepare_data({"y": [0.1, 1.2]})
    with pytest.raises(UsageError, match="one enumerated site per model; this one has a, b"):
        Potential(cm.model(data), data)
    plain = "data:\n  y: real\nz ~ Bernoulli(probs=0.5)\ny ~ Normal(z, 1)\n"
    cm = zsdsl.loads(plain)
    with pytest.raises(UsageError, match="Mark it 'enumerate' to sum it out"):
        Potential(cm.model({"y": torch.tensor(0.3)}), {"y": torch.tensor(0.3)})
