"""What the CLI prints off a terminal (progress lines, closing lines), with --quiet, and on Ctrl-C."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import zsdsl.runtime.progress as progress
from zsdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = str(ROOT / "specs" / "eight_schools_noncentered.zs")
DATA = str(ROOT / "specs" / "data" / "eight_schools.json")


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])  # CliRunner's stderr is not a terminal
    return result.exit_code, result.output


def test_off_a_terminal_sampling_prints_progress_lines_and_a_closing_line(monkeypatch, tmp_path):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)  # a line at every report (every 10 iterations)
    code, out = cli("sample", SPEC, "--data", DATA, "--chains", "2", "--cores", "1", "--warmup", "40", "--draws", "40",
                    "--out", tmp_path / "r")  # fmt: skip
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    step = r" \(step [0-9.e+-]+, depth \d+\)"
    assert re.fullmatch(rf"\[\d+ s\] chain 1 warmup 10/40{step}; chain 2 warmup 0/40", lines[0]), lines[0]
    assert any("chain 1 sampling 20/40" in ln for ln in lines) and lines[-1].endswith("chain 1 done; chain 2 done")
    closing = next(ln for ln in out.splitlines() if ln.startswith("nuts: 2 chains x 40 draws"))
    assert re.search(r"\d+ divergent; min ESS \d+ \([\d.]+/s\)", closing), closing


def test_off_a_terminal_a_fit_prints_its_bound_in_total_and_per_point(monkeypatch, tmp_path):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    code, out = cli("fit", SPEC, "--data", DATA, "--steps", "30", "--out", tmp_path / "r")
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert len(lines) == 30 and re.fullmatch(r"\[\d+ s\] fit step 30/30: ELBO -?[\d.]+ \(-?[\d.]+ per data point\)",
                                             lines[-1])  # fmt: skip


def test_quiet_prints_the_closing_line_only(tmp_path):
    code, out = cli("sample", SPEC, "--data", DATA, "--chains", "1", "--warmup", "30", "--draws", "30", "--quiet",
                    "--out", tmp_path / "r")  # fmt: skip
    assert code == 0 and out.splitlines()[0].startswith("nuts: 1 chains x 30 draws")
    assert "mcse_mean" not in out and not any(ln.startswith("[") for ln in out.splitlines())


@pytest.mark.parametrize("saved", [True, False])
def test_ctrl_c_names_the_command_that_resumes(monkeypatch, tmp_path, saved):
    from zsdsl.runtime.compiled import CompiledModel

    def interrupted(self, data=None, *args, out=None, **kwargs):
        if saved:
            (Path(out) / "checkpoints").mkdir(parents=True)
            (Path(out) / "checkpoints" / "step-000000010.pt").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(CompiledModel, "fit", interrupted)
    code, out = cli("fit", SPEC, "--data", DATA, "--out", tmp_path / "r")
    assert code == 130
    if saved:
        assert out.strip().endswith(f"Resume: zsdsl fit --resume {tmp_path / 'r'}")
    else:
        assert "interrupted before the first checkpoint; nothing was kept: run the same command again." in out
