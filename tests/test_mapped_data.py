"""Data larger than memory: memory-mapped NPY/NPZ fields, gathered a minibatch at a time
(``zsdsl.runtime.mapped``), give the in-memory fit; a run in a memory cgroup half the data's size
completes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.errors import DataError
from zsdsl.runtime.data import load_data
from zsdsl.runtime.mapped import MappedField
from zsdsl.runtime.rundir import data_digest

LR = """
model lr
data:
  x: real[N, D]
  y: int[N] in {0, 1}
w ~ Normal(0, 1), event=[D]
plate n in N, subsample=64:
  y[n] ~ Bernoulli(logits=x[n] @ w)
"""


def _write(folder: Path, n: int = 2000, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-x @ rng.normal(size=d)))).astype(np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    np.savez(folder.with_suffix(".npz"), x=x, y=y)
    np.savez_compressed(folder.parent / "packed.npz", x=x, y=y)
    return x, y


@pytest.fixture
def mapped(monkeypatch):
    monkeypatch.setenv("ZSDSL_MMAP_MIN_BYTES", "0")


def test_npy_folders_and_stored_npz_members_are_mapped_not_read(tmp_path, mapped):
    x, y = _write(tmp_path / "data")
    for source in (tmp_path / "data", tmp_path / "data.npz"):
        raw = load_data(source)
        assert isinstance(raw["x"], np.memmap) and np.array_equal(raw["x"], x) and np.array_equal(raw["y"], y)
    packed = load_data(tmp_path / "packed.npz")  # a compressed member cannot be mapped: it is read
    assert not isinstance(packed["x"], np.memmap) and np.array_equal(packed["x"], x)
    one = load_data(tmp_path / "data" / "x.npy")
    assert list(one) == ["x"]


def test_the_mapped_fit_is_the_in_memory_fit(tmp_path, monkeypatch):
    torch.set_default_dtype(torch.float64)
    _write(tmp_path / "data")
    cm = zsdsl.loads(LR, "lr.zs")
    kw = dict(steps=50, draws=0, lr=0.05, progress=False)
    monkeypatch.setenv("ZSDSL_MMAP_MIN_BYTES", "0")
    prepared = cm.load_data(str(tmp_path / "data"), mapped=True)
    assert isinstance(prepared["x"], MappedField) and prepared["x"].dtype == torch.float64
    on_disk = cm.fit(str(tmp_path / "data"), **kw)
    monkeypatch.setenv("ZSDSL_MMAP_MIN_BYTES", str(1 << 40))
    in_memory = cm.fit(str(tmp_path / "data"), **kw)
    assert not isinstance(in_memory.data["x"], MappedField)
    assert [h[2] for h in on_disk.history] == [h[2] for h in in_memory.history]
    torch.testing.assert_close(on_disk.guide.state_dict(), in_memory.guide.state_dict(), rtol=0, atol=0)
    assert data_digest(prepared) == data_digest(cm.load_data(str(tmp_path / "data")))  # a run's data check


def test_a_bad_value_deep_in_a_mapped_field_is_found_at_its_row(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSDSL_MMAP_MIN_BYTES", "0")
    monkeypatch.setattr("zsdsl.runtime.mapped.BLOCK_BYTES", 1024)
    x, y = _write(tmp_path / "data")
    x[1500, 3] = np.nan
    np.save(tmp_path / "data" / "x.npy", x)
    cm = zsdsl.loads(LR, "lr.zs")
    with pytest.raises(Exception, match=r"Field 'x' holds NaN at index \[1500, 3\]"):
        cm.load_data(str(tmp_path / "data"))


def test_a_field_used_whole_is_read_into_memory_with_a_note(tmp_path, mapped, capsys):
    _write(tmp_path / "data")
    cm = zsdsl.loads(LR.replace(", subsample=64", ""), "lr.zs")
    result = cm.fit(str(tmp_path / "data"), steps=2, draws=0, progress=False)
    assert torch.is_tensor(result.data["x"])
    assert "note: the data field 'x' (0 MiB) is read into memory: its rows are not those of a subsampled plate" in (
        capsys.readouterr().err
    )
    assert torch.is_tensor(cm.load_data(str(tmp_path / "data"))["x"])  # other engines read maps whole
    field = cm.load_data(str(tmp_path / "data"), mapped=True)["x"]
    with pytest.raises(DataError, match="The data field 'x' is memory-mapped .* needs the whole field"):
        torch.exp(field)


def _cgroup(limit: int) -> Path | None:
    root = Path("/sys/fs/cgroup/memory")
    group = root / f"zsdsl-test-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(limit))
    except OSError:
        return None
    return group


@pytest.mark.slow
def test_a_run_in_memory_half_the_data_completes_and_equals_the_in_memory_run(tmp_path):
    limit = 768 << 20
    group = _cgroup(limit)
    if group is None:
        pytest.skip("no writable memory cgroup (v1) here to limit a process's memory")
    try:
        n, d = 2 * limit // (64 * 4), 64  # float32 rows: x is twice the limit
        folder = tmp_path / "big"
        folder.mkdir()
        x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(n, d))
        rng = np.random.default_rng(0)
        w = rng.normal(size=d) / 8
        y = np.empty(n, dtype=np.int64)
        for start in range(0, n, 1 << 18):
            block = rng.normal(size=(min(1 << 18, n - start), d)).astype(np.float32)
            x[start : start + len(block)] = block
            y[start : start + len(block)] = rng.random(len(block)) < 1 / (1 + np.exp(-block @ w))
        x.flush()
        del x
        np.save(folder / "y.npy", y)
        spec = tmp_path / "lr.zs"
        spec.write_text(LR)

        def fit(out, env, limited):
            args = [sys.executable, "-m", "zsdsl.cli", "fit", str(spec), "--data", str(folder), "--steps", "100",
                    "--draws", "0", "--no-plots", "--lr", "0.05", "--out", str(tmp_path / out)]  # fmt: skip
            join = (lambda: (group / "cgroup.procs").write_text(str(os.getpid()))) if limited else None
            return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **env}, preexec_fn=join)

        limited = fit("mapped", {}, True)
        assert limited.returncode == 0, limited.stderr
        peak = int((group / "memory.max_usage_in_bytes").read_text())
        assert peak <= limit
        whole = {"ZSDSL_MMAP_MIN_BYTES": str(1 << 40)}
        refused = fit("whole-limited", whole, True)  # read whole, the same data does not fit the limit
        assert refused.returncode != 0
        in_memory = fit("whole", whole, False)
        assert in_memory.returncode == 0, in_memory.stderr
        rows = [(tmp_path / r / "metrics.csv").read_text().splitlines() for r in ("mapped", "whole")]
        assert rows[0][1:] and [r.split(",")[:4] for r in rows[0]] == [r.split(",")[:4] for r in rows[1]]
        print(json.dumps({"data_bytes": n * d * 4, "limit": limit, "peak": peak}))
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            (Path("/sys/fs/cgroup/memory/cgroup.procs")).write_text(pid)
        group.rmdir()
