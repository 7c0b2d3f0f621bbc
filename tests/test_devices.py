"""``--device cpu|cuda|cuda:N|auto`` and ``--precision``: resolution, refusals, mixed precision, and
the CUDA path (these run where a GPU is present and skip cleanly where none is)."""

import numpy as np
import pytest
import torch

import zsdsl
from tests.vi.test_distributed import SMALL
from zsdsl.errors import OptionError
from zsdsl.runtime.checkpoint import latest_checkpoint, load_checkpoint
from zsdsl.runtime.devices import resolve_device

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.fixture
def data():
    return {"x": np.random.default_rng(0).normal(size=(64, 3))}


def test_devices_resolve_or_are_refused_with_what_there_is():
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(OptionError, match="Unknown device 'tpu'; use cpu, cuda, cuda:N or auto."):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="--device cuda:1: CUDA is not available on this machine"):
            resolve_device("cuda:1")
    else:
        n = torch.cuda.device_count()
        with pytest.raises(OptionError, match=f"this machine has {n} GPU"):
            resolve_device(f"cuda:{n}")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_near_full_precision(precision, data, tmp_path):
    torch.set_default_dtype(torch.float32)
    cm = zsdsl.loads(SMALL, "m.zs")
    kw = dict(steps=200, draws=0, progress=False, lr=0.01)
    full = cm.fit(data, **kw)
    mixed = cm.fit(data, precision=precision, out=tmp_path / precision, **kw)
    assert mixed.config.precision == precision
    # the last 50 steps' mean ELBO: within a few percent of fp32's (bf16 keeps 8 bits of mantissa)
    tail = lambda r: np.mean([h[2] for h in r.history[-5:]])  # noqa: E731
    assert tail(mixed) == pytest.approx(tail(full), rel=0.05)
    with pytest.raises(OptionError, match="Unknown precision 'fp8'"):
        cm.fit(data, steps=1, precision="fp8", draws=0, progress=False)


@GPU
def test_a_gpu_fit_resumes_exactly_and_reads_on_the_cpu(data, tmp_path):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(SMALL, "m.zs")
    whole = cm.fit(data, device="auto", steps=40, draws=0, checkpoint_every=10, out=tmp_path / "whole",
                   progress=False)  # fmt: skip
    assert whole.config.device == "cuda:0" and next(whole.guide.parameters()).is_cuda
    cm.fit(data, device="cuda", steps=20, draws=0, checkpoint_every=10, out=tmp_path / "cut", progress=False)
    resumed = cm.fit(data, out=tmp_path / "cut", resume=True, steps=40, draws=0, progress=False)
    assert [h[2] for h in resumed.history] == [h[2] for h in whole.history]
    state = load_checkpoint(latest_checkpoint(tmp_path / "whole"))
    assert all(t.device.type == "cpu" for t in state["guide"].values())
    on_cpu = cm.fit(data, out=tmp_path / "cut", resume=True, steps=50, device="cpu", draws=0, progress=False)
    assert next(on_cpu.guide.parameters()).device.type == "cpu"


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs (nccl)")
def test_two_gpus_give_the_one_gpu_fit(data, tmp_path):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(SMALL, "m.zs")
    one = cm.fit(data, device="cuda", steps=30, draws=0, progress=False)
    two = cm.fit(data, device="cuda", steps=30, draws=0, nprocs=2, progress=False)
    np.testing.assert_allclose([h[2] for h in two.history], [h[2] for h in one.history], rtol=1e-9)
