"""The Flink engine's text functions, called as Flink's workers call them (a batch of rows as
pandas series), without a JVM: ``ParseFunction``'s Arrow path answers exactly what its record by
record path answers, or hands the batch over; ``FormatFunction`` writes the local writer's text,
and the job process joins staged parts under the header, counting records."""

from __future__ import annotations

import io as _io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyflink")

from aiflow.errors import InvalidInput
from aiflow.translators import io
from aiflow.translators.flink import outputs
from aiflow.translators.flink.text_udfs import (
    BAD,
    ERROR,
    LINE,
    OK,
    SKIP,
    STATUS,
    FormatFunction,
    ParseFunction,
)
from aiflow.translators.flink.udfs import FlinkUdfError, UserFunction, bridged, unpack_error

NUMBERS = {"x": "double", "n": "int", "b": "bool", "f": "float"}
STRINGS = {"name": "string", "kind": "string"}


def _batch(lines: list[str], path: str = "/data/in.csv") -> pd.DataFrame:
    return pd.DataFrame({"line": lines, "path": [path] * len(lines)}, dtype=object)


def _both(parse: ParseFunction, lines: list[str]) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    frame = _batch(lines)
    return parse._apply_fast(frame), parse._apply_exact(frame)


def _same(fast: pd.DataFrame, exact: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, exact, check_exact=True)
    for name in (ERROR, LINE):  # None, not NaN, as the exact path has them
        assert fast[name].map(type).tolist() == exact[name].map(type).tolist()


def test_arrow_parses_a_clean_csv_batch_as_the_exact_path_does() -> None:
    parse = ParseFunction("read", "csv", NUMBERS, "fail")
    lines = ["x,n,b,f", "1.5,2,true,0.25", "", "-3e-05,7,False,1e3\r", ",,,", "2.0,-1,1,"]
    fast, exact = _both(parse, lines)
    assert fast is not None  # Arrow answered
    _same(fast, exact)
    assert list(fast[STATUS]) == [SKIP, OK, SKIP, OK, OK, OK]


def test_arrow_parses_json_lines_as_the_exact_path_does() -> None:
    parse = ParseFunction("read", "json", {"x": "double", "n": "bigint"}, "fail")
    fast, exact = _both(parse, ['{"x": 1.5, "n": 2}', "  ", '{"n": -4, "x": 3}'])
    assert fast is not None
    _same(fast, exact)


@pytest.mark.parametrize(
    "lines",
    [
        ["x,n,b,f", "1.5,2,true,0.25", "oops,2,true,0.25"],  # a bad value
        ["1.5,2,true"],  # a record of the wrong shape
        ['"1.5",2,true,0.25'],  # a quote: a csv field may span lines Flink split
        ["x,n,b,f", "", " "],  # nothing but a header and blank lines
    ],
)
def test_a_batch_arrow_cannot_vouch_for_goes_the_exact_way(lines: list[str]) -> None:
    parse = ParseFunction("read", "csv", NUMBERS, "skip")
    fast, exact = _both(parse, lines)
    assert fast is None
    _same(parse.apply(_batch(lines)), exact)


def test_a_line_holding_a_carriage_return_is_a_bad_record() -> None:
    parse = ParseFunction("read", "csv", NUMBERS, "skip")
    lines = ["1.5,2,true,0.25\r2.5,3,false,1", "1.5,2,true,0.25"]
    assert parse._apply_fast(_batch(lines)) is None  # Arrow would read two rows
    parsed = parse.apply(_batch(lines))
    assert list(parsed[STATUS]) == [BAD, OK]
    assert "is not one csv record" in parsed[ERROR][0]


def test_numbers_pandas_reads_otherwise_are_converted_by_the_exact_rules() -> None:
    parse = ParseFunction("read", "csv", NUMBERS, "fail")
    fast, exact = _both(parse, ["0.30000000000000004,2,true,0.25", "1.5,2,true,0.25"])
    assert fast is not None
    _same(fast, exact)


def test_a_header_in_another_order_is_refused_even_where_strings_would_read_it() -> None:
    parse = ParseFunction("read", "csv", STRINGS, "fail")
    assert parse._apply_fast(_batch(["kind,name", "a,b"])) is None
    with pytest.raises(InvalidInput, match="lists the schema's columns in another order"):
        parse.apply(_batch(["kind,name", "a,b"]))
    fast, exact = _both(parse, ["name,kind", "a,b", "c,"])
    assert fast is not None
    _same(fast, exact)


def test_random_batches_parse_alike_either_way() -> None:
    rng = random.Random(7)
    parse = ParseFunction("read", "csv", NUMBERS, "skip")
    answered = 0
    for _ in range(60):
        lines = []
        for _ in range(rng.randint(1, 40)):
            kind = rng.random()
            if kind < 0.05:
                lines.append("x,n,b,f")
            elif kind < 0.1:
                lines.append("")
            else:
                x = rng.choice(["", f"{rng.uniform(-1e6, 1e6):.6g}", str(rng.randint(-9, 9))])
                n = rng.choice(["", str(rng.randint(-(10**6), 10**6))] + ["1.5"] * (kind < 0.12))
                b = rng.choice(["", "true", "False", "1", "0", "TRUE"])
                f = rng.choice(["", "0.5", "1e-3", "nan" if kind < 0.11 else "2"])
                lines.append(f"{x},{n},{b},{f}")
        fast, exact = _both(parse, lines)
        if fast is not None:
            answered += 1
            _same(fast, exact)
    assert answered > 30  # most batches are Arrow's


def _formatted(frame: pd.DataFrame, types: dict[str, str], fmt: str, out=None) -> str:  # type: ignore[no-untyped-def]
    texts = FormatFunction("write", types, out, fmt).apply(frame)
    assert texts.iloc[1:].isna().all()  # the bundle's text is on its first row
    return str(texts.iloc[0])


def test_the_format_function_writes_the_local_writers_text_without_its_header() -> None:
    types = {"x": "double", "n": "int", "s": "string", "b": "bool"}
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, 1e-7, 123456789.0],
            "n": pd.Series([1, None, 3, -4], dtype=object),  # as Flink's Arrow bridge has them
            "s": ["a", 'say "hi", twice', None, "two\nlines"],
            "b": pd.Series([True, False, None, True], dtype=object),
        }
    )
    for fmt in ("csv", "json"):
        local = _io.BytesIO()
        io.write_text(io.apply_schema(frame, types, ""), local, fmt)
        text = _formatted(frame, types, fmt)
        if fmt == "csv":
            header, _, body = local.getvalue().decode().partition("\n")
            assert header == "x,n,s,b"
        else:
            body = local.getvalue().decode()
        assert text + "\n" == body


def test_the_format_function_applies_the_examples_schema() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    text = _formatted(frame, {"x": "double", "y": "double"}, "csv", {"y": "int"})
    assert text == "3\n4"


def test_staged_parts_join_under_the_header_and_count_records(tmp_path: Path) -> None:
    parts = [tmp_path / "part-0", tmp_path / "part-1"]
    parts[0].write_text("1,a\n2,b\n")
    parts[1].write_text('3,"two\nlines"\n4,"x ""y"""\n')  # a quoted newline is one record
    out = tmp_path / "out" / "scored.csv"
    head = b"n,s\n"
    rows = outputs._join([str(p) for p in parts], str(out), head, "csv")
    assert rows == 4
    read = pd.read_csv(out)
    assert list(read["n"]) == [1, 2, 3, 4] and read["s"][2] == "two\nlines"
    assert outputs._join([], str(tmp_path / "empty.csv"), head, "csv") == 0
    assert (tmp_path / "empty.csv").read_bytes() == head


class _AddOne(UserFunction):
    """A user function without user code: adds 1 to ``x`` (and fails on a negative one)."""

    def open(self, function_context: object) -> None:
        self.opened = True

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        if (frame["x"] < 0).any():
            raise ValueError("negative x")
        return self.checked(frame.assign(x=frame["x"] + 1), len(frame), "transform()")


def _add_one(node: str) -> _AddOne:
    return _AddOne(node, ["x", "n"], {"x": "double", "n": "int"}, {}, (None, None))


def test_functions_chained_into_the_writer_run_in_order_as_flink_would_hand_them_over() -> None:
    first, second = _add_one("first"), _add_one("second")
    writer = FormatFunction("write", {"x": "double", "n": "int"}, None, "csv", [first, second])
    assert writer.in_columns == ["x", "n"]  # the chain reads what the first function reads
    writer.open(None)  # type: ignore[arg-type]
    assert first.opened and second.opened
    frame = pd.DataFrame({"x": [1.0, 2.5], "n": pd.Series([3, None], dtype=object)})
    assert writer.call(frame).iloc[0] == "3.0,3\n4.5,"
    # between functions the rows are what Flink's Arrow bridge gives: an int column with a
    # null arrives as float64, as it would at an unchained function
    handed = bridged(first.call(frame), first.out_columns)
    assert str(handed["n"].dtype) == "float64" and str(handed["x"].dtype) == "float64"
    no_nulls = bridged(first.call(frame.assign(n=[3, 4])), first.out_columns)
    assert str(no_nulls["n"].dtype) == "int32"


def test_a_failure_in_a_chained_function_names_its_node() -> None:
    writer = FormatFunction("write", {"x": "double", "n": "int"}, None, "csv", [_add_one("plus")])
    with pytest.raises(FlinkUdfError) as failed:
        writer.eval(pd.Series([-1.0]), pd.Series([1]))
    error = unpack_error(str(failed.value))
    assert error is not None and error.node == "plus" and "negative x" in error.message


# ---- the read's parse run inside the writer's function (a read feeding only a text output) ----


def _lines_frame(lines: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(lines, dtype=object)})


def _fused(parse: ParseFunction, upstream: list[UserFunction] | None = None) -> FormatFunction:
    columns = upstream[-1].out_columns if upstream else parse.columns
    return FormatFunction("write", columns, None, "csv", upstream or [], parse)


def test_a_writer_taking_the_parse_in_writes_what_flink_would_carry_between_them() -> None:
    file = "file:/data/in.csv"
    parse = ParseFunction("read", "csv", NUMBERS, "fail", file)
    assert parse.in_columns == ["line"]  # one file: Flink hands over lines only
    batches = [
        ["x,n,b,f", "1.5,2,true,0.25", "", "-3e-05,7,False,1e3\r", ",,,"],  # header, blank, CRLF
        ["2.0,-1,1,", "0.30000000000000004,2,true,0.25"],  # clean; a number Arrow may misread
        ["  ", "4.5,1,0,2"],  # a line of spaces
    ]
    for lines in batches:
        writer = _fused(parse)
        assert writer.in_columns == ["line"]
        text = writer.call(_lines_frame(lines))
        assert len(text) == len(lines) and text.iloc[1:].isna().all()
        # unfused: the parse's rows through the barrier (status OK) into the format function
        rows = parse.apply(_batch(lines, file))
        carried = bridged(rows[rows[STATUS] == OK], NUMBERS)
        assert text.iloc[0] == _formatted(carried, NUMBERS, "csv")


def test_a_fused_writer_passes_each_user_function_the_frame_flink_would() -> None:
    parse = ParseFunction("read", "csv", {"x": "double", "n": "int"}, "fail", "file:/in.csv")
    first = _add_one("first")
    writer = _fused(parse, [first])
    writer.open(None)  # type: ignore[arg-type]
    assert writer.call(_lines_frame(["x,n", "1.5,2", "0.5,"])).iloc[0] == "2.5,2\n1.5,"


def test_a_batch_of_headers_and_blank_lines_gives_a_fused_writer_no_text() -> None:
    parse = ParseFunction("read", "csv", NUMBERS, "fail", "file:/in.csv")
    text = _fused(parse).call(_lines_frame(["x,n,b,f", "", "x,n,b,f"]))
    assert text.isna().all() and len(text) == 3


def test_a_bad_record_fails_a_fused_writer_naming_the_read_its_file_and_line(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x,n,b,f\n1.5,2,true,0.25\nnope,2,true,0.25\n")
    parse = ParseFunction("read", "csv", NUMBERS, "fail", f"file:{source}")
    writer = _fused(parse)
    writer.open(None)  # type: ignore[arg-type]
    with pytest.raises(FlinkUdfError) as failed:
        writer.call(_lines_frame(source.read_text().splitlines()))
    error = unpack_error(str(failed.value))
    assert isinstance(error, InvalidInput) and error.message.startswith("node 'read': ")
    assert f"{source}: line 3:" in error.message and "'nope' is not a double" in error.message


def test_random_batches_read_alike_whether_joined_in_one_text_or_line_by_line() -> None:
    rng = random.Random(11)
    parse = ParseFunction("read", "csv", NUMBERS, "skip")
    joined = 0
    for _ in range(80):
        lines, odd = [], rng.random() < 0.5  # half the batches may hold odd lines
        for _ in range(rng.randint(1, 30)):
            kind = rng.random() if odd else 1.0
            line = f"{rng.uniform(-9, 9):.4g},{rng.randint(-9, 9)},true,0.5"
            if kind < 0.04:
                line = "x,n,b,f"
            elif kind < 0.08:
                line = rng.choice(["", " ", "\t", "\u00a0"])
            elif kind < 0.12:
                line += "\r"
            elif kind < 0.14:
                line = " " + line
            lines.append(line)
        joined += parse._joined(_batch(lines)["line"], parse._header) is not None
        fast, exact = _both(parse, lines)
        if fast is not None:
            _same(fast, exact)
    assert joined > 20  # batches without a header or blank line take the one-text way


# ---- conversions with nothing to do -----------------------------------------------------------


def test_columns_of_the_schemas_dtype_convert_to_what_the_rules_give_from_text() -> None:
    types = {"x": "double", "f": "float", "n": "int", "b": "bigint", "ok": "bool"}
    typed = pd.DataFrame(
        {
            "x": [1.5, np.nan, -0.0],
            "f": np.array([0.5, np.nan, 2.0], dtype="float32"),
            "n": np.array([1, 2, 3], dtype="int64"),
            "b": np.array([-(2**40), 0, 7], dtype="int64"),
            "ok": [True, False, True],
        }
    )
    as_text = typed.astype(object).where(typed.notna(), None).astype(str).replace("None", None)
    fast, slow = io.apply_schema(typed, types, "t"), io.apply_schema(as_text, types, "t")
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert np.signbit(fast["x"].iloc[2])  # -0.0 kept


def test_the_bridge_hands_over_dense_columns_as_they_are_and_converts_the_others() -> None:
    columns = {"x": "double", "n": "int"}
    dense = pd.DataFrame({"x": [1.0, np.nan], "n": np.array([1, 2], dtype="int32")})
    assert bridged(dense, columns) is dense  # nothing the Arrow bridge would change
    nullable = pd.DataFrame({"x": [1.0, 2.0], "n": pd.Series([1, None], dtype=object)})
    out = bridged(nullable, columns)
    assert str(out["n"].dtype) == "float64" and out["n"].isna().tolist() == [False, True]
    shifted = dense.set_axis([5, 6])  # not the bridge's 0.. index: a new frame
    assert list(bridged(shifted, columns).index) == [0, 1]
