"""Shared test set-up: the tests' own helpers on the path, and ../shared/data required where CI says so.

With ``ZSDSL_REQUIRE_SHARED=1`` (set by ``.ci/run``) a missing ``../shared/data`` fails the session
instead of letting the statistical tests skip. ``ZSDSL_PLOTS=0``: the CLI's end-of-run plots (seconds per
run) are drawn only by the tests that check them (``tests/test_plots.py``).
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("ZSDSL_PLOTS", "0")


def pytest_sessionstart(session):
    if os.environ.get("ZSDSL_REQUIRE_SHARED") == "1" and not (SHARED / "posteriordb").is_dir():
        pytest.exit(f"ZSDSL_REQUIRE_SHARED=1 but {SHARED} (posteriordb, MNIST, UCI) is missing: the statistical "
                    "tests would skip.", returncode=1)  # fmt: skip
