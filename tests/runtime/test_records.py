"""Record-level reading (issue 8, defect 4): a record with a field too many or too few is a bad
record like one whose value does not fit, errors and dead letters carry the file's line number
and the raw line, a header without a schema column names the file, an empty file is zero
records. And (defect 2) the schema recorded beside a materialized intermediate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from aiflow.errors import InvalidInput
from aiflow.translators import io

SCHEMA = {"x": "double", "label": "int"}


def test_extra_and_missing_fields_fail_a_strict_read_naming_the_line(tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("x,label\n1.5,0\n2.5,1,surplus\n")
    with pytest.raises(InvalidInput, match=r"extra.csv: line 3: record '2.5,1,surplus' has 3 "):
        io.read_example_file(str(extra), "csv", SCHEMA)
    missing = tmp_path / "missing.csv"
    missing.write_text("x,label\n1.5,0\n\n2.5\n")  # a blank line does not shift the count
    with pytest.raises(InvalidInput, match=r"missing.csv: line 4: record '2.5' has 1 field"):
        io.read_example_file(str(missing), "csv", SCHEMA)


def test_lenient_read_keeps_every_bad_record_with_its_line_and_raw_text(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('x,label\n1.5,0\n"2.5",1,surplus\noops,1\n3.5\n4.5,1\n')
    good, bad = io.read_example_lenient(str(path), "csv", SCHEMA)
    assert good["x"].tolist() == [1.5, 4.5] and good["label"].tolist() == [0, 1]
    assert [(b.line, b.record) for b in bad] == [(3, '"2.5",1,surplus'), (4, "oops,1"), (5, "3.5")]
    assert "has 3 fields" in bad[0].error and "'oops' is not a double" in bad[1].error
    assert bad[0].entry(str(path)) == {
        "path": str(path),
        "line": 3,
        "record": '"2.5",1,surplus',
        "error": bad[0].error,
    }


def test_value_errors_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("x,label\n\n1.5,0\n2.5,x\n")
    with pytest.raises(InvalidInput, match=r"v.csv: line 4, row 2, column 'label': 'x'"):
        io.read_example_file(str(path), "csv", SCHEMA)


def test_json_record_lacking_a_field_is_a_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"x": 1.5, "label": 0}\n{"x": 2.5}\n{not json\n{"x": 3.5, "label": null}\n')
    good, bad = io.read_example_lenient(str(path), "json", SCHEMA)
    assert good["x"].tolist() == [1.5, 3.5] and good["label"].isna().tolist() == [False, True]
    assert [(b.line, b.record) for b in bad] == [(2, '{"x": 2.5}'), (3, "{not json")]
    assert "lacks field(s) ['label']" in bad[0].error and "is not JSON" in bad[1].error
    with pytest.raises(InvalidInput, match=r"in.jsonl: line 2: record .* lacks field"):
        io.read_example_file(str(path), "json", SCHEMA)


@pytest.mark.parametrize("lenient", [False, True])
def test_a_header_without_a_schema_column_names_the_file(tmp_path: Path, lenient: bool) -> None:
    path = tmp_path / "h.csv"
    path.write_text("x,other\n1.5,0\n")
    with pytest.raises(InvalidInput, match=r"h.csv: missing column\(s\) \['label'\]"):
        if lenient:
            io.read_example_lenient(str(path), "csv", SCHEMA)
        else:
            io.read_example_file(str(path), "csv", SCHEMA)


@pytest.mark.parametrize(("fmt", "text"), [("csv", ""), ("csv", "\n\n"), ("json", "")])
def test_an_empty_file_is_zero_records(tmp_path: Path, fmt: str, text: str) -> None:
    path = tmp_path / f"empty{io.EXTENSIONS[fmt]}"
    path.write_text(text)
    frame = io.read_example_file(str(path), fmt, SCHEMA)
    assert len(frame) == 0 and list(frame.columns) == ["x", "label"]
    assert len(io.read_example_file(str(path), fmt, None)) == 0
    good, bad = io.read_example_lenient(str(path), fmt, SCHEMA)
    assert len(good) == 0 and bad == []


def test_multi_line_quoted_fields_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('x,name\n1.5,"two\nlines"\nbad,c\n')
    good, bad = io.read_example_lenient(str(path), "csv", {"x": "double", "name": "string"})
    assert good["name"].tolist() == ["two\nlines"]
    assert [(b.line, b.record) for b in bad] == [(4, "bad,c")]


def test_schema_of_an_intermediate_is_recorded_and_inferred(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, None],
            "n": [1, 2],
            "f": pd.Series([1.0, 2.0], dtype="float32"),
            "ok": [True, False],
            "s": ["a", None],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "maybe": pd.Series([1, None], dtype="Int64"),
        }
    )
    columns = io.infer_columns(frame)
    assert columns == {
        "x": "double",
        "n": "bigint",
        "f": "float",
        "ok": "bool",
        "s": "string",
        "t": "timestamp",
        "maybe": "bigint",
    }
    directory = tmp_path / "inter"
    assert io.read_schema(str(directory)) is None
    io.write_schema(str(directory), columns)
    assert io.read_schema(str(directory)) == columns
    assert json.loads((directory / io.SCHEMA_FILE).read_text())["columns"] == columns
    assert io.list_data_files(str(directory)) == []  # bookkeeping, never records
