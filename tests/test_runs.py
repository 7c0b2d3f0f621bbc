"""Runs you can trust: each case of issue 15 reproduced, now exit 1 with a one-line message naming the
cause, and nothing lost (a refused run leaves the directory byte for byte as it was)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.errors import DataError, ErrorGroup, OptionError, RunDirError
from zsdsl.runtime.checkpoint import CheckpointError, UnsafeCheckpointError, load_checkpoint
from zsdsl.runtime.rundir import open_run

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "eight_schools_noncentered.zs"
DATA = ROOT / "specs" / "data" / "eight_schools.json"
QUICK_SAMPLE = ["--warmup", "30", "--draws", "20", "--cores", "1"]
QUICK_FIT = ["--steps", "40", "--checkpoint-every", "10", "--particles", "2", "--lr", "0.02"]

HIER = """model hier

data:
  J: int in [0, inf)
  N: int in [0, inf)
  g: int[N]
  y: real[N]

mu ~ Normal(0, 5)
a ~ Normal(mu, 1), event=[J]
plate n in N:
  y[n] ~ Normal(a[g[n]], 1)
"""


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.output


def snapshot(path: Path) -> dict:
    """Every file under ``path`` (the lock file included) with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def one_line_error(out: str, heading: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(heading + ":")]
    assert len(errors) == 1 and "Traceback" not in out, out
    return errors[0]


@pytest.fixture(scope="module")
def mcmc_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "four"
    code, out = run("sample", SPEC, "--data", DATA, "--chains", "4", *QUICK_SAMPLE, "--out", path)
    assert code == 0, out
    return path


@pytest.fixture(scope="module")
def vi_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "fit"
    code, out = run("fit", SPEC, "--data", DATA, *QUICK_FIT, "--out", path)
    assert code == 0, out
    return path


# 1 -------------------------------------------------------------------------------------------
def test_sampling_into_another_run_is_refused_and_leaves_it_as_it_was(mcmc_run):
    before = snapshot(mcmc_run)
    code, out = run("sample", SPEC, "--data", DATA, "--chains", "1", *QUICK_SAMPLE, "--out", mcmc_run)
    assert code == 1
    msg = one_line_error(out, "run directory error")
    assert f"{mcmc_run} already holds an MCMC run" in msg and "--overwrite" in msg and "Nothing was changed" in msg
    assert snapshot(mcmc_run) == before
    code, out = run("summary", mcmc_run)
    assert code == 0 and "theta[7]" in out


def test_overwrite_replaces_a_run_and_leaves_no_file_of_the_old_one(tmp_path):
    path = tmp_path / "r"
    assert run("sample", SPEC, "--data", DATA, "--chains", "3", *QUICK_SAMPLE, "--out", path)[0] == 0
    code, out = run("sample", SPEC, "--data", DATA, "--chains", "1", *QUICK_SAMPLE, "--out", path, "--overwrite")
    assert code == 0, out
    assert sorted(p.name for p in path.glob("chain_*.csv")) == ["chain_1.csv"]
    assert {p.name.split(".")[0] for p in (path / "checkpoints").iterdir()} == {"chain-1"}


def test_overwrite_never_empties_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, out = run("sample", SPEC, "--data", DATA, *QUICK_SAMPLE, "--out", tmp_path, "--overwrite")
    assert code == 1 and "not a zsdsl run" in one_line_error(out, "run directory error")
    assert snapshot(tmp_path) == {"notes.txt": b"mine"}


def test_default_run_directories_are_numbered_instead_of_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert run("sample", SPEC, "--data", DATA, "--chains", "1", *QUICK_SAMPLE)[0] == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "eight_schools_noncentered-nuts",
        "eight_schools_noncentered-nuts-2",
    ]


# 2 -------------------------------------------------------------------------------------------
def test_fitting_into_another_fit_is_refused_and_evaluate_reads_the_new_run_after_overwrite(vi_run, tmp_path):
    before = snapshot(vi_run)
    code, out = run("fit", SPEC, "--data", DATA, "--steps", "20", "--checkpoint-every", "5", "--out", vi_run)
    assert code == 1 and "already holds a variational fit" in one_line_error(out, "run directory error")
    assert snapshot(vi_run) == before
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, data in before.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    code, out = run("fit", SPEC, "--data", DATA, "--steps", "20", "--checkpoint-every", "5", "--out", copy,
                    "--overwrite")  # fmt: skip
    assert code == 0, out
    assert sorted(p.name for p in (copy / "checkpoints").glob("step-*.pt"))[-1] == "step-000000020.pt"
    code, out = run("evaluate", copy, "--data", DATA, "--particles", "10")
    assert code == 0 and json.loads(out)["checkpoint"] == "step-000000020.pt"


# 3 -------------------------------------------------------------------------------------------
def test_sample_resume_of_a_fit_is_refused(vi_run):
    before = snapshot(vi_run)
    code, out = run("sample", "--resume", vi_run)
    assert code == 1
    assert "holds a variational fit (zsdsl fit); zsdsl sample --resume continues an MCMC run" in out
    assert snapshot(vi_run) == before
    code, out = run("fit", "--resume", SPEC.parent)
    assert code == 1 and "not a zsdsl run directory" in one_line_error(out, "run directory error")


def test_resume_names_each_option_that_cannot_change(mcmc_run, vi_run):
    before = snapshot(mcmc_run)
    code, out = run("sample", "--resume", mcmc_run, "--chains", "2", "--max-depth", "5")
    msg = one_line_error(out, "run directory error")
    assert code == 1 and "--chains 2 (the run has 4)" in msg and "--max-depth 5 (the run has 10)" in msg
    assert snapshot(mcmc_run) == before
    code, out = run("fit", "--resume", vi_run, "--infer", "iwae", "--lr", "0.5")
    msg = one_line_error(out, "run directory error")
    assert code == 1 and "--infer iwae (the run has sgvb)" in msg and "--lr 0.5 (the run has 0.02)" in msg


def test_resume_refuses_another_model_or_other_data(vi_run, tmp_path):
    before = snapshot(vi_run)
    data = json.loads(DATA.read_text())
    data["y"][0] += 1.0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    code, out = run("fit", "--resume", vi_run, "--data", other)
    assert code == 1 and "the data differ from the run's" in one_line_error(out, "run directory error")
    spec = tmp_path / "m.zs"
    spec.write_text(SPEC.read_text().replace("Normal(0, 5)", "Normal(0, 4)"))
    code, out = run("fit", spec, "--resume", vi_run)
    assert code == 1 and "the model" in one_line_error(out, "run directory error")
    assert snapshot(vi_run) == before


def test_a_run_being_written_is_locked_against_a_second_writer(vi_run):
    holder = open_run(vi_run, ("vi",), "test").lock()
    try:
        code, out = run("fit", "--resume", vi_run, "--steps", "60")
        assert code == 1 and "is being written by another zsdsl process" in one_line_error(out, "run directory error")
    finally:
        holder.release()


def test_a_run_that_fails_before_saving_anything_leaves_no_directory_behind(tmp_path):
    spec = tmp_path / "m.zs"
    spec.write_text("data:\n  y: real\nz ~ Bernoulli(probs=0.5)\ny ~ Normal(z, 1)\n")
    data = tmp_path / "d.json"
    data.write_text('{"y": 0.3}')
    out = tmp_path / "r"
    for command in (("fit", "--steps", "5"), ("sample", *QUICK_SAMPLE)):
        code, text = run(command[0], spec, "--data", data, *command[1:], "--out", out)
        assert code == 1 and "The latent 'z' is discrete" in text
        assert not out.exists(), command  # the same command can run again once the spec is fixed


# 4 -------------------------------------------------------------------------------------------
def test_one_based_indices_are_a_data_error_naming_field_value_and_position(tmp_path):
    spec = tmp_path / "hier.zs"
    spec.write_text(HIER)
    data = tmp_path / "d.json"
    data.write_text(json.dumps({"J": 4, "N": 6, "g": [1, 2, 3, 4, 1, 2], "y": [0.1, 0.3, -0.2, 1.0, 0.5, 0.2]}))
    expected = (
        f"{data}: data error: Field 'g' indexes 'a' (size J = 4) and must give 0..3; found 4 at index [3]. "
        "Indices are 0-based (these look 1-based, as in Stan: subtract 1 in the data or in the spec)."
    )
    for args in (("check", spec, "--data", data), ("sample", spec, "--data", data, *QUICK_SAMPLE),
                 ("fit", spec, "--data", data, "--steps", "5")):  # fmt: skip
        code, out = run(*args, *(("--out", tmp_path / args[0]) if args[0] != "check" else ()))
        assert code == 1 and one_line_error(out, f"{data}: data error") == expected
    spec.write_text(HIER.replace("a[g[n]]", "a[g[n] - 1]"))
    assert run("check", spec, "--data", data)[0] == 0


SLICES = ("data:\n  K: int in [0, inf)\n  y: real[T]\nmu ~ Normal(0, 1)\n"
          "factor -sum(square(y[:K] - mu)) - sum(y[K:T - 1])\n")  # fmt: skip


@pytest.mark.parametrize(("K", "message"), [
    (5, "A slice of 'y' ends at K = 5, past the end of its axis 0 (size T = 4) with this data."),
    (4, "A slice of 'y' starts at K = 4, after it ends (axis 0, ending at 3, size T = 4) with this data."),
])  # fmt: skip
def test_slices_whose_bounds_are_sizes_are_checked_against_the_data(tmp_path, K, message):
    spec, data = tmp_path / "s.zs", tmp_path / "d.json"
    spec.write_text(SLICES)
    data.write_text(json.dumps({"K": K, "y": [0.1, 0.3, -0.2, 1.0]}))
    code, out = run("check", spec, "--data", data)
    assert code == 1 and message in out
    data.write_text(json.dumps({"K": 3, "y": [0.1, 0.3, -0.2, 1.0]}))
    assert run("check", spec, "--data", data)[0] == 0


# 5, 7 and options that do not apply ----------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (("fit", "--infer", "vimco", "--particles", "1"), "--infer vimco needs --particles of at least 2"),
        (("sample", "--max-depth", "0"), "--max-depth must be at least 1 (a tree of depth 0 never moves), not 0."),
        (("fit", "--baseline", "learned"), "--baseline applies to nvil, not sgvb; leave it out."),
        (("fit", "--infer", "vimco", "--signals", "joint"), "--signals applies to nvil, sgvb, not vimco"),
        (("sample", "--friction", "0.2"), "--friction applies to sghmc, sgnht, not nuts; leave it out."),
        (("sample", "--hmc", "--max-depth", "8"), "--max-depth applies to nuts, not hmc"),
        (("sample", "--sgld", "--metric", "dense"), "--metric applies to nuts, hmc, not sgld"),
        (("fit", "--early-stop", "3"), "--early-stop needs validation data (--valid)."),
        (("fit", "--guide", "auto-normal", "--infer", "map"), "--infer map fits point estimates"),
    ],
)
def test_options_are_validated_before_any_work(tmp_path, args, message):
    out_dir = tmp_path / "r"
    code, out = run(args[0], SPEC, "--data", DATA, *args[1:], "--out", out_dir)
    assert code == 1 and message in one_line_error(out, "option error")
    assert not out_dir.exists()


# 6 -------------------------------------------------------------------------------------------
def test_infinite_values_in_json_and_csv_are_data_errors(tmp_path):
    data = json.loads(DATA.read_text())
    bad = DATA.read_text().replace(str(data["y"][2]), "Infinity", 1)
    assert "Infinity" in bad
    path = tmp_path / "d.json"
    path.write_text(bad)
    code, out = run("check", SPEC, "--data", path)
    assert code == 1 and "Field 'y' holds inf at index [2]" in one_line_error(out, f"{path}: data error")
    spec = tmp_path / "reg.zs"
    spec.write_text("data:\n  N: int\n  x: real[N]\n  y: real[N]\nb ~ Normal(0, 1)\n"
                    "plate n in N:\n  y[n] ~ Normal(b * x[n], 1)\n")  # fmt: skip
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n1,2\n2,inf\n3,nan\n")
    code, out = run("fit", spec, "--data", csv, "--steps", "5", "--out", tmp_path / "f")
    assert code == 1 and "Field 'y' holds NaN at index [2]" in one_line_error(out, f"{csv}: data error")


UNCONSTRAINED_SCALE = (
    "data:\n  N: int\n  y: real[N]\nmu ~ Normal(0, 5)\ns ~ Normal(0, 1)\nplate n in N:\n  y[n] ~ Normal(mu, s)\n"
)


def test_an_unconstrained_latent_as_a_scale_warns_at_check_and_fails_naming_the_site(tmp_path):
    spec = tmp_path / "m.zs"
    spec.write_text(UNCONSTRAINED_SCALE)
    data = tmp_path / "d.json"
    data.write_text('{"N": 3, "y": [0.1, 0.3, -0.2]}')
    code, out = run("check", spec)
    assert code == 0
    assert f"{spec}:7:21: warning" in out and "the latent 's' is unconstrained" in out
    code, out = run("fit", spec, "--data", data, "--steps", "50", "--out", tmp_path / "f")
    msg = one_line_error(out, "support error")
    assert code == 1 and "the argument 'scale' of Normal at site 'y' is -" in msg and "--lr" not in msg


# 8 -------------------------------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_a_checkpoint_crafted_to_run_code_is_refused_unexecuted(vi_run, tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Exploit(marker)}, evil)
    with pytest.raises(UnsafeCheckpointError, match="Refused"):
        load_checkpoint(evil)
    assert not marker.exists()
    # the same crafted file as a run's latest checkpoint stops the resume: it is never passed over
    copy = tmp_path / "run"
    for name, data in snapshot(vi_run).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    (copy / "checkpoints" / "step-000000041.pt").write_bytes(evil.read_bytes())
    code, out = run("fit", "--resume", copy, "--steps", "50")
    assert code == 1 and "crafted to run code" in one_line_error(out, "run directory error")
    assert not marker.exists()
    assert pickle.dumps(1)  # (pickle imported for the exploit's protocol; nothing else uses it)


def test_no_checkpoint_is_read_with_weights_only_false():
    found = subprocess.run(["grep", "-rn", "weights_only=False", str(ROOT / "zsdsl")], capture_output=True, text=True)
    assert found.stdout == ""


def test_a_truncated_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    assert run("fit", SPEC, "--data", DATA, *QUICK_FIT, "--out", ref)[0] == 0
    args = [a if a != "40" else "30" for a in QUICK_FIT]
    assert run("fit", SPEC, "--data", DATA, *args, "--keep", "5", "--out", cut)[0] == 0
    latest = cut / "checkpoints" / "step-000000030.pt"
    latest.write_bytes(latest.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(latest)
    code, out = run("fit", "--resume", cut, "--steps", "40")
    assert code == 0, out
    assert (
        "step-000000030.pt cannot be read: it is truncated or corrupt" in out and "Using the checkpoint before" in out
    )
    a = torch.load(ref / "checkpoints" / "step-000000040.pt", weights_only=True)
    b = torch.load(cut / "checkpoints" / "step-000000040.pt", weights_only=True)
    for key in a["guide"]:
        assert torch.equal(a["guide"][key], b["guide"][key]), key


# 9 -------------------------------------------------------------------------------------------
def test_the_python_api_checks_data_against_the_declarations(tmp_path):
    cm = zsdsl.loads(HIER)
    with pytest.raises(ErrorGroup) as info:
        cm.fit({"J": 4, "N": 2, "g": [0, 4], "y": [0.1, 0.2]}, steps=5)
    assert isinstance(info.value.errors[0], DataError) and "Field 'g' indexes 'a'" in info.value.message
    with pytest.raises(ErrorGroup, match="Field 'y' is missing"):
        cm.sample({"J": 4, "N": 2, "g": [0, 1]}, chains=1, warmup=5, draws=5)
    with pytest.raises(OptionError, match="--baseline applies to nvil"):
        cm.fit({"J": 4, "N": 2, "g": [0, 1], "y": [0.1, 0.2]}, baseline="learned", steps=5)
    with pytest.raises(RunDirError, match="already holds"):
        (tmp_path / "x").write_text("")
        cm.fit({"J": 4, "N": 2, "g": [0, 1], "y": [0.1, 0.2]}, steps=5, out=tmp_path)


# 10 ------------------------------------------------------------------------------------------
def test_internal_errors_exit_3_and_ask_to_be_reported(monkeypatch, tmp_path):
    import zsdsl.runtime.compiled as compiled

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(compiled.CompiledModel, "load_data", broken)
    code, out = run("fit", SPEC, "--data", DATA, "--out", tmp_path / "r")
    assert code == 3
    assert out.splitlines()[0] == "internal error: ZeroDivisionError: boom"
    assert "This is a bug in zsdsl; please report it" in out and "ZSDSL_DEBUG=1" in out


def test_user_errors_are_headed_by_their_kind_and_none_is_a_bare_usage_error():
    found = subprocess.run(["grep", "-rn", "raise UsageError(", str(ROOT / "zsdsl")], capture_output=True, text=True)
    assert found.stdout == ""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "zsdsl.cli", "summary", str(ROOT / "specs")], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 1 and out.stderr.startswith("run directory error: ")
