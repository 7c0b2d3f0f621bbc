"""Golden-file helpers: compare text with ``tests/golden/expected/*``; refresh with ZSDSL_UPDATE_GOLDEN=1.

Refresh every golden file with:  ZSDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def assert_golden(actual: str, expected_path: Path) -> None:
    if os.environ.get("ZSDSL_UPDATE_GOLDEN"):
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_text(actual)
        return
    assert expected_path.exists(), f"missing golden file {expected_path}; run with ZSDSL_UPDATE_GOLDEN=1"
    expected = expected_path.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "expected", "actual", n=2)
        )
        raise AssertionError(f"{expected_path.name} differs from the golden file:\n{diff[:4000]}")
