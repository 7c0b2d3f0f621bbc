"""The docs run: every shell and Python block of README.md and docs/*.md (in order, per page, in a
scratch directory where ``specs/`` is the repository's), every ``zs`` block compiles, and the generated
reference pages (CLI, API, error catalogue) are up to date."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zsdsl

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(bash|python|zs)\n(.*?)^```", re.S | re.M)
# Parts of a shell line that are not run here: installing (checked in a fresh environment before each
# release, see the README) and the test suite itself.
NOT_RUN = ("pip install", "python -m pytest", "ZSDSL_UPDATE_GOLDEN=1 python -m pytest")


def blocks(page: Path, kind: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(page.read_text()) if lang == kind]


def runnable(code: str) -> str:
    lines = []
    for line in code.splitlines():
        parts = [p for p in line.split(" && ") if not p.strip().startswith(NOT_RUN)]
        lines.append(" && ".join(parts))
    return "\n".join(lines)


RUN_PAGES = [p for p in PAGES if blocks(p, "bash") or blocks(p, "python")]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=[p.name for p in RUN_PAGES])
def test_every_shell_and_python_block_runs(page, tmp_path):
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    env = dict(os.environ, ZSDSL_PLOTS="1", PYTHONPATH=str(ROOT))
    for lang, code in BLOCK.findall(page.read_text()):
        if lang == "zs":
            continue
        cmd = ["bash", "-e", "-c", runnable(code)] if lang == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{page.name}: block failed:\n{code}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


ZS = [(p, i, code) for p in PAGES for i, code in enumerate(blocks(p, "zs"))]


@pytest.mark.parametrize("page, index, code", ZS, ids=[f"{p.name}-{i}" for p, i, _ in ZS])
def test_every_model_block_compiles(page, index, code):
    zsdsl.loads(code, f"{page.name}-block-{index}.zs")


def test_every_builtin_example_compiles():
    sys.path.insert(0, str(ROOT / "docs"))
    import generate

    for name, (expr, _) in generate.FUNCTIONS.items():
        try:
            zsdsl.loads(generate.function_example(expr), f"{name}.zs")
        except Exception as exc:
            raise AssertionError(f"the example of {name}, {expr}, does not compile: {exc}") from exc


def test_the_generated_reference_pages_are_up_to_date():
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "generate.py"), "--check"], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_every_page_is_reachable_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if f"docs/{p.name}" not in readme]
    assert not missing, f"README.md does not link {missing}"
