"""The benchmark scripts run end to end on tiny settings (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


SCRIPTS = ["vi_uci_bnn.py", "vi_mnist.py", "vi_ssl_m2.py", "vae_step.py", "gradient.py", "nuts.py", "compile.py"]


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
    for heading in ("One training step", "Log density + gradient", "NUTS: min bulk ESS"):
        assert heading in text
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    assert text.strip() in readme, "benchmarks/README.md is stale: run python benchmarks/report.py --write"
