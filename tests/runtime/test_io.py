"""Example IO: strict schema application (bad values named, never dropped) and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aiflow.errors import InvalidInput
from aiflow.translators import io

SCHEMA = {"x": "double", "n": "int", "ok": "bool", "name": "string"}


def test_csv_is_read_with_schema_types(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x,n,ok,name,extra\n1.5,2,true,a,zz\n-0.25,3,0,b,yy\n")
    frame = io.read_example_file(str(path), "csv", SCHEMA)
    assert list(frame.columns) == ["x", "n", "ok", "name"]  # projected to the schema
    assert frame["x"].dtype == "float64" and frame["x"].tolist() == [1.5, -0.25]
    assert frame["n"].dtype == "int64" and frame["ok"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("abc,2,true,a", r"row 2, column 'x': 'abc' is not a double"),
        ("1.0,2.5,true,a", r"row 2, column 'n': '2.5' is not a int"),
        ("1.0,2,maybe,a", r"row 2, column 'ok': 'maybe' is not a bool"),
    ],
)
def test_bad_values_name_file_row_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"x,n,ok,name\n1,1,true,a\n{row}\n")
    with pytest.raises(InvalidInput, match=message) as err:
        io.read_example_file(str(path), "csv", SCHEMA)
    assert str(path) in str(err.value)


def test_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("x,n\n1,2\n")
    with pytest.raises(InvalidInput, match=r"missing column\(s\) \['ok', 'name'\]"):
        io.read_example_file(str(path), "csv", SCHEMA)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"x": 1}\n{not json\n')
    with pytest.raises(InvalidInput, match=r"b.jsonl: cannot be read as json"):
        io.read_example_file(str(broken), "json", None)


def test_nulls_are_kept_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("x,n,ok,name\n,1,true,a\n2,,false,\n")
    frame = io.read_example_file(str(path), "csv", SCHEMA)
    assert len(frame) == 2
    assert frame["x"].isna().tolist() == [True, False]
    assert frame["n"].isna().tolist() == [False, True]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_write_then_read_round_trip(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame({"x": [0.1, 1 / 3], "n": [1, 2], "ok": [True, False], "name": ["a", "b"]})
    target = str(tmp_path / "deep" / f"out{io.EXTENSIONS[fmt]}")
    io.write_frame(frame, target, fmt)
    back = io.read_example_file(target, fmt, SCHEMA)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame, check_dtype=False)
    assert [p.name for p in (tmp_path / "deep").iterdir()] == [Path(target).name]  # no temp left


def test_directory_listing_skips_in_flight_files(tmp_path: Path) -> None:
    for name in ["b.csv", "a.csv", ".a.csv.tmp", "_SUCCESS", "c.csv.tmp"]:
        (tmp_path / name).write_text("x\n1\n")
    assert [Path(f).name for f in io.list_data_files(str(tmp_path))] == ["a.csv", "b.csv"]


def test_stream_naming_helpers() -> None:
    assert io.batch_id_of("/d/wine_001.csv") == "wine_001"
    assert io.batch_id_of("/d/wine_001.parquet") == "wine_001"
    assert io.stream_dir(None, "/out/preds.csv") == "/out/preds_stream"
    assert io.stream_dir("/out/s/", "/out/preds.csv") == "/out/s"
