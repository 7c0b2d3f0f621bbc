"""Data ergonomics: several sources merged, --set, YAML, matrices from X.1.. columns, unused and text
columns, errors at the CSV cell, unknown formats refused, pandas DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.errors import DataError

REG = """data:
  N: int in [0, inf)
  D: int in [0, inf)
  x: real[N, D]
  y: real[N]
beta ~ Normal(0, 1), event=[D]
sigma: real in (0, inf) ~ HalfNormal(1)
plate n in N:
  y[n] ~ Normal(x[n] @ beta, sigma)
"""


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "reg.zs").write_text(REG)
    (tmp_path / "cols.csv").write_text("x.1,x.2,y,label\n1,2,3.5,a\n2,1,0.5,b\n0,0,1.0,c\n")
    (tmp_path / "sizes.json").write_text(json.dumps({"D": 2}))
    return tmp_path


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_a_csv_of_columns_and_a_json_of_sizes_merge_with_matrix_columns(files):
    cm = zsdsl.load(files / "reg.zs")
    data = cm.load_data(f"{files / 'cols.csv'},{files / 'sizes.json'}")
    np.testing.assert_array_equal(data["x"].numpy(), [[1, 2], [2, 1], [0, 0]])
    assert int(data["N"]) == 3 and int(data["D"]) == 2 and "label" not in data
    code, out = cli("check", files / "reg.zs", "--data", files / "cols.csv", "--data", files / "sizes.json")
    assert code == 0 and "ok (D=2, N=3)" in out, out
    code, out = cli("check", files / "reg.zs", "--data", files / "cols.csv", "--set", "D=2")
    assert code == 0 and "ok (D=2, N=3)" in out, out


def test_an_unused_text_column_is_left_out_with_a_note(files, capsys):
    zsdsl.load(files / "reg.zs").load_data(f"{files / 'cols.csv'},D=2")
    assert "label not used by the model (left out)" in capsys.readouterr().err


def test_a_bad_cell_is_reported_at_its_row_and_column(files):
    (files / "bad.csv").write_text("x.1,x.2,y\n1,2,3.5\n2,oops,0.5\n")
    code, out = cli("check", files / "reg.zs", "--data", files / "bad.csv", "--set", "D=2")
    assert code == 1
    assert (
        f"{files / 'bad.csv'}:3:3: data error" in out and "CSV row 3, column 2 ('x.2'): 'oops' is not a number." in out
    )
    assert "    |   ^^^^" in out


def test_conflicting_sources_and_bad_settings_are_refused(files):
    cm = zsdsl.load(files / "reg.zs")
    with pytest.raises(DataError, match="Field 'D' is given by both .*sizes.json and D=3 with different values"):
        cm.load_data(f"{files / 'cols.csv'},{files / 'sizes.json'},D=3")
    code, out = cli("check", files / "reg.zs", "--data", files / "cols.csv", "--set", "D=[1,2]")
    assert code == 1 and "the value must be a number (vectors and matrices go in a data file)" in out
    code, out = cli("check", files / "reg.zs", "--data", files / "cols.csv", "--set", "2=D")
    assert code == 1 and "option error: --set takes NAME=VALUE, not '2=D'." in out


def test_yaml_data_and_unknown_formats(files):
    (files / "d.yaml").write_text("D: 2\nN: 3\nx: [[1, 2], [2, 1], [0, 0]]\ny: [3.5, 0.5, 1.0]\n")
    code, out = cli("check", files / "reg.zs", "--data", files / "d.yaml")
    assert code == 0 and "ok (D=2, N=3)" in out
    (files / "d.yaml").write_text("D: [1, 2\n")
    code, out = cli("check", files / "reg.zs", "--data", files / "d.yaml")
    assert code == 1 and "data error" in out and "Invalid YAML" in out
    (files / "d.txt").write_text("D=2")
    code, out = cli("check", files / "reg.zs", "--data", files / "d.txt")
    assert code == 1 and "Unknown data format '.txt'; use .json, .yaml/.yml, .csv, .npz" in out


def test_a_pandas_dataframe_is_data(tmp_path):
    pd = pytest.importorskip("pandas")
    (tmp_path / "m.zs").write_text("data:\n  x: real[N, 2]\n  y: real[N]\nbeta ~ Normal(0, 1), event=[2]\n"
                                   "plate n in N:\n  y[n] ~ Normal(x[n] @ beta, 1)\n")  # fmt: skip
    frame = pd.DataFrame({"x.1": [1.0, 2, 0, 1], "x.2": [2.0, 1, 0, -1], "y": [3.5, 0.5, 1.0, 0.0]})
    data = zsdsl.load(tmp_path / "m.zs").load_data(frame)
    assert tuple(data["x"].shape) == (4, 2) and int(data["N"]) == 4
    np.testing.assert_allclose(data["x"][:, 1].numpy(), [2.0, 1, 0, -1])
