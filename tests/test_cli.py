"""CLI behaviour with click's runner: exit codes, no tracebacks, file:line:col in messages."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from golden_util import GOLDEN, ROOT

from zsdsl.cli import main

BAD = sorted(GOLDEN.glob("bad/*.zs"))
SPECS = sorted(ROOT.glob("specs/*.zs"))


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_exits_1_with_location_and_no_traceback(path):
    code, out = run("check", path)
    assert code == 1
    assert "Traceback" not in out
    first = out.splitlines()[0]
    assert first.startswith(f"{path}:")
    line, col = first.split(":")[1:3]
    assert int(line) >= 1 and int(col) >= 1


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_checks(path):
    code, out = run("check", path)
    assert code == 0, out
    assert ": ok" in out


def test_compile_emits_valid_python(tmp_path):
    code, out = run("compile", ROOT / "specs" / "eight_schools_noncentered.zs", "--emit", "python")
    assert code == 0
    compile(out, "<emitted>", "exec")
    assert "class EightSchoolsNoncenteredModel(zl.ModelBase)" in out


def test_compile_emits_ir_and_ast_json():
    for form, key in (("ir", "nodes"), ("ast", "body")):
        code, out = run("compile", ROOT / "specs" / "eight_schools_noncentered.zs", "--emit", form)
        assert code == 0
        assert key in json.loads(out)


def test_check_with_data_ok():
    code, out = run(
        "check",
        ROOT / "specs" / "eight_schools_noncentered.zs",
        "--data",
        ROOT / "specs" / "data" / "eight_schools.json",
    )
    assert code == 0, out
    assert "J=8" in out


@pytest.mark.parametrize(
    "data, message",
    [
        ({"J": 8, "y": [1] * 8}, "Field 'sigma' is missing from the data."),
        ({"J": 8, "y": [1] * 7, "sigma": [1] * 8}, "Field 'y' has shape [7] but is declared [J] = [8]."),
        (
            {"J": 8, "y": [1] * 8, "sigma": [1, 1, 1, -2, 1, 1, 1, 1]},
            "Field 'sigma' must lie in (0, inf); found -2 at index [3].",
        ),
        ({"J": 8.5, "y": [1] * 8, "sigma": [1] * 8}, "Field 'J' is a size and must be one integer."),
    ],
)
def test_check_data_errors_name_the_field(tmp_path, data, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(data))
    code, out = run("check", ROOT / "specs" / "eight_schools_noncentered.zs", "--data", path)
    assert code == 1
    assert message in out
    assert "Traceback" not in out


def test_data_dtype_error(tmp_path):
    spec = tmp_path / "m.zs"
    spec.write_text("data:\n  N: int\n  y: int[N] in {0, 1}\np ~ Beta(1, 1)\nplate n in N:\n  y[n] ~ Bernoulli(p)\n")
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"N": 3, "y": [0, 1, 0.5]}))
    code, out = run("check", spec, "--data", path)
    assert code == 1
    assert "Field 'y' must hold integers; found 0.5 at index [2]." in out


def test_missing_files_are_user_errors(tmp_path):
    code, out = run("check", tmp_path / "nope.zs")
    assert code == 1 and "No such model file" in out and "Traceback" not in out
    code, out = run("check", ROOT / "specs" / "eight_schools_noncentered.zs", "--data", tmp_path / "nope.json")
    assert code == 1 and "No such data file" in out


def test_bad_json_data_points_at_line(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"J": 8,\n "y": [1, 2,]}\n')
    code, out = run("check", ROOT / "specs" / "eight_schools_noncentered.zs", "--data", path)
    assert code == 1
    assert f"{path}:2:" in out


def test_graph_dot(tmp_path):
    out_file = tmp_path / "g.dot"
    code, out = run("graph", ROOT / "specs" / "eight_schools_noncentered.zs", "-o", out_file)
    assert code == 0, out
    dot = out_file.read_text()
    assert 'subgraph "cluster_j"' in dot
    assert '"y" [shape=ellipse, style=filled' in dot  # observed nodes shaded
    assert '"mu" -> "theta";' in dot


def test_graph_unknown_format(tmp_path):
    code, out = run("graph", ROOT / "specs" / "eight_schools_noncentered.zs", "-o", tmp_path / "g.jpg")
    assert code == 1 and "Unknown graph format" in out


def test_help_lists_commands():
    code, out = run("--help")
    assert code == 0
    for cmd in ("check", "compile", "graph"):
        assert cmd in out


def _defaults(command) -> dict:
    return {p.name: p.default for p in command.params if isinstance(p, click.Option) and not p.is_flag}


def test_the_cli_defaults_are_the_engine_configurations_defaults():
    """Options are passed to the engines only when given; the defaults --help shows must be theirs."""
    import dataclasses

    from zsdsl.runtime.mcmc.sampler import SamplerConfig
    from zsdsl.runtime.mcmc.sgmcmc import SGMCMCConfig
    from zsdsl.runtime.vi.train import FitConfig

    def check(command, *configs, rename=None):
        rename = rename or {}
        fields = {}
        for cfg in reversed(configs):
            fields.update({f.name: f.default for f in dataclasses.fields(cfg)})
        compared = 0
        for name, default in _defaults(command).items():
            field = rename.get(name, name)
            if field in fields and default is not None:
                assert default == fields[field], (command.name, name, default, fields[field])
                compared += 1
        return compared

    assert check(main.commands["fit"], FitConfig) >= 12
    assert check(main.commands["sample"], SamplerConfig) >= 7
    assert check(main.commands["sample"], SGMCMCConfig, rename={"warmup": "burnin", "chains": "-"}) >= 4
