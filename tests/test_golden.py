"""Golden tests per stage: AST, IR and emitted Python for good specs; rendered errors for bad ones."""

from __future__ import annotations

import json
import os

import pytest
from golden_util import GOLDEN, ROOT, assert_golden

from zsdsl.compiler.ir import dump_ir
from zsdsl.compiler.pipeline import compile_text, parse_file_text
from zsdsl.compiler.verify import verify_ir
from zsdsl.errors import ZsdslError, render_error
from zsdsl.grammar.ast import dump_ast

GOOD = sorted([*ROOT.glob("specs/*.zs"), *ROOT.glob("specs/**/*.zs"), *GOLDEN.glob("good/*.zs")])
GOOD = sorted(set(GOOD))
BAD = sorted(GOLDEN.glob("bad/*.zs"))


def _rel(path) -> str:
    return os.path.relpath(path, ROOT)


def _key(path) -> str:
    return _rel(path).replace("/", "__").removesuffix(".zs")


@pytest.mark.parametrize("path", GOOD, ids=_key)
def test_good_spec_stages(path):
    text = path.read_text()
    compiled = compile_text(text, _rel(path))
    verify_ir(compiled.ir)
    assert_golden(
        json.dumps(dump_ast(compiled.ast), indent=1, sort_keys=True) + "\n",
        GOLDEN / "expected" / f"{_key(path)}.ast.json",
    )
    assert_golden(dump_ir(compiled.ir) + "\n", GOLDEN / "expected" / f"{_key(path)}.ir.json")
    assert_golden(compiled.source, GOLDEN / "expected" / f"{_key(path)}.py")
    compile(compiled.source, "<golden>", "exec")  # the emitted source is valid Python
    gradient = compiled.gradient
    text = gradient.source if gradient.source is not None else f"# no emitted gradient: {gradient.reason}\n"
    assert_golden(text, GOLDEN / "expected" / f"{_key(path)}.grad.py")
    compile(text, "<golden>", "exec")
    if gradient.kernel is not None:  # the same code as numba's kernel
        assert_golden(gradient.kernel, GOLDEN / "expected" / f"{_key(path)}.kernel.py")
        compile(gradient.kernel, "<golden>", "exec")


@pytest.mark.parametrize("path", GOOD, ids=_key)
def test_emission_is_deterministic(path):
    text = path.read_text()
    a, b = compile_text(text, _rel(path)), compile_text(text, _rel(path))
    assert a.source == b.source
    assert a.gradient == b.gradient


def test_enough_bad_cases():
    assert len(BAD) >= 40


@pytest.mark.parametrize("path", BAD, ids=_key)
def test_bad_spec_error(path):
    text = path.read_text()
    with pytest.raises(ZsdslError) as info:
        compile_text(text, _rel(path))
    rendered = render_error(info.value, text)
    assert f"{_rel(path)}:" in rendered.splitlines()[0]
    assert "^" in rendered  # a caret under the span
    assert_golden(rendered + "\n", GOLDEN / "bad" / f"{path.stem}.expected")


def test_yaml_and_text_give_identical_ir():
    for stem in ("eight_schools_noncentered", "logistic_regression"):
        zs, yml = ROOT / "specs" / f"{stem}.zs", ROOT / "specs" / f"{stem}.zs.yaml"
        if not yml.exists():
            pytest.skip("YAML spec not written")
        a = compile_text(zs.read_text(), str(zs))
        b = compile_text(yml.read_text(), str(yml))
        assert dump_ir(a.ir) == dump_ir(b.ir)
        assert parse_file_text(yml.read_text(), str(yml)) == a.ast


def test_generated_code_has_no_undefined_names(tmp_path):
    """Static check of every emitted module with ruff (undefined names, redefinitions, syntax)."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    for path in GOOD:
        out = tmp_path / f"{_key(path)}.py"
        out.write_text(compile_text(path.read_text(), _rel(path)).source)
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821,F811,F401", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
