"""Python functions that run inside Flink's Python workers on an example's text: parsing its
lines into typed records, and formatting the records of an output example into its text.

``ParseFunction`` applies the example's schema by the local engine's rules, so both engines
accept and reject the same records (``aiflow check``): Arrow parses a batch in one call when it
vouches for the exact answer, Python's csv and json modules record by record otherwise.

``FormatFunction`` writes an output example's records as the local engine's writer does
(``io.write_text``): the Flink job writes the example's own text, and the job process only
puts a header before it. It returns a whole bundle's text on the bundle's first row and null
on the others (one Arrow string instead of a Python string a row); the sink keeps the
non-null rows, each followed by a newline.
"""

from __future__ import annotations

import csv
import io as _io
import json
import re
from collections.abc import Sequence
from typing import Any

import fsspec
import numpy as np
import pandas as pd
from pyflink.table.udf import FunctionContext

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.errors import InvalidInput
from aiflow.translators import io
from aiflow.translators.flink.udfs import (
    PANDAS_TYPES,
    NodeFunction,
    UserFunction,
    as_objects,
    bridged,
    to_flink_frame,
)

STATUS, ERROR, RECORD, PATH = "__af_status", "__af_error", "__af_record", "__af_path"
LINE = "__af_line"  # a bad record's line in its file (null for Kafka messages)
OK, SKIP, BAD = 0, 1, 2  # parse status: a record, a header/blank line, a bad record
TEXT = "__af_text"  # FormatFunction's result column
# where a line may be blank: one that starts with whitespace (str.strip's), the next line's
# start included; a search for a literal '\n' first, ~40x faster than one for ^\s*$
_SPACE_AFTER_NEWLINE = re.compile(r"\n\s")


class ParseFunction(NodeFunction):
    """Lines of a csv or json-lines file (with the file's path) -> typed records, by the same
    conversion rules as the local engine. A header or blank line gets status SKIP; a record
    that does not fit the schema gets status BAD and its error (policy ``fail`` raises
    instead), so the job can route it to a dead-letter sink: nothing is dropped unseen.

    ``file``: the one file the lines come from, when Flink hands over lines only."""

    def __init__(
        self, node: str, fmt: str, columns: dict[str, str], on_error: str, file: str | None = None
    ) -> None:
        super().__init__(node, ["line"] if file else ["line", "path"])
        self.file = file
        self.fmt = fmt
        self.columns = columns
        self.on_error = on_error
        self.lines: LineFinder | None = None

    def open(self, function_context: FunctionContext) -> None:
        self.lines = LineFinder()

    def close(self) -> None:
        if self.lines is not None:
            self.lines.close()

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        fast = self._apply_fast(frame)
        return fast if fast is not None else self._apply_exact(frame)

    def records(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The batch's records that fit, as the next function gets them when Flink carries
        them there (``udfs.bridged``): for a writer that runs this function in its own
        (``FormatFunction.parse``). A bad record raises, as policy ``fail`` does."""
        fast = self._records_fast(frame)
        if fast is not None:
            return bridged(to_flink_frame(fast[0], self.columns, "record"), self.columns)
        rows = self._apply_exact(frame)
        return bridged(rows[rows[STATUS] == OK], self.columns)

    def _apply_fast(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """``_records_fast`` as this function's rows: the records' values and each row's
        status."""
        fast = self._records_fast(frame)
        if fast is None:
            return None
        parsed, skip = fast
        typed = self._flink_rows(parsed, frame.index)
        status = np.where(skip, SKIP, OK) if skip is not None else np.full(len(frame), OK)
        typed[STATUS] = pd.Series(status, index=frame.index, dtype="int32")
        nothing = [None] * len(frame)
        typed[ERROR] = pd.Series(nothing, index=frame.index, dtype=object)
        typed[LINE] = pd.Series(nothing, index=frame.index, dtype=object)
        return typed

    def _records_fast(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None] | None:
        """The batch's records parsed by Arrow in one call (``io.read_text_fast``; index:
        their rows), and which rows were a header or blank (None: no row), when Arrow vouches
        for what the record-by-record path below would answer; None (take that path) otherwise.

        Arrow reads the batch's records as one text: the lines that are not blank or the
        header, each without a trailing '\r' (which the csv and json modules ignore there).
        Anything that might read otherwise goes the exact way: a quote (a csv field may span
        what Flink split into two lines), a '\r' inside a line (Arrow ends a row there), a
        record Arrow rejects or a value the exact rules might read differently (``arrow_io``),
        so a batch holding a bad record is the exact path's, errors and dead letters alike."""
        header = self._header
        skip: np.ndarray | None = None
        text = self._joined(frame["line"], header)
        if text is None:  # a header or blank line, or a '\r' inside one: line by line
            lines = [str(line) for line in frame["line"]]
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
            skip = np.fromiter((not ln.strip() or ln == header for ln in lines), bool, len(lines))
            text = "\n".join(line for line, skipped in zip(lines, skip, strict=True) if not skipped)
            if skip.all() or "\r" in text:
                return None  # only blank lines and headers, or a '\r' Arrow would end a row at
        count = len(frame) - (int(skip.sum()) if skip is not None else 0)
        if header is not None and self._header_like(frame["line"], header):
            return None  # a header the exact path refuses
        if self.fmt == "csv" and '"' in text:
            return None
        if self.fmt == "csv":
            text = f"{header}\n{text}"
        parsed = io.read_text_fast(f"{text}\n".encode(), self.fmt, self.columns)
        if parsed is None or len(parsed) != count:
            return None
        parsed.index = frame.index if skip is None else frame.index[~skip]
        return parsed, skip

    @staticmethod
    def _joined(lines: pd.Series, header: str | None) -> str | None:
        """The lines as one text, each without a trailing '\r', when none is blank or the
        header and none holds another '\r' (most batches: a join and a few searches in C
        instead of a Python step per line); None otherwise, or for a value that is no text."""
        try:
            text = "\n".join(lines)
        except TypeError:
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n").removesuffix("\r")
            if "\r" in text:
                return None
        if not text or text[0].isspace() or _SPACE_AFTER_NEWLINE.search(text):
            return None  # maybe a blank line (or one that starts with a space: rare)
        if header is not None and (
            text == header
            or text.startswith(f"{header}\n")
            or text.endswith(f"\n{header}")
            or f"\n{header}\n" in text
        ):
            return None
        return text

    @property
    def _header(self) -> str | None:
        """A csv header line as the exact path recognizes it (None: json, or names the csv
        module would quote, whose header only the exact path parses)."""
        if self.fmt != "csv" or any(set(name) & set(',"\r\n') for name in self.columns):
            return None
        return ",".join(self.columns)

    def _header_like(self, lines: pd.Series, header: str) -> bool:
        """Whether a record holds the schema's names in another order: the exact path's error
        (a schema of strings would read it as a record). Only lines of the header's length
        (or one more: a '\r') can, found without a Python step per line."""
        names = sorted(self.columns)
        values = lines.to_numpy()
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        near = np.flatnonzero((lengths == len(header)) | (lengths == len(header) + 1))
        for line in (str(values[i]).removesuffix("\r") for i in near):
            if line != header and sorted(line.split(",")) == names:
                return True
        return False

    def _apply_exact(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Record by record with Python's csv and json modules: any batch."""
        names = list(self.columns)
        fields: list[list[str | None] | None] = []
        status: list[int] = []
        errors: list[str | None] = []
        if "path" not in frame:
            frame = frame.assign(path=str(self.file))  # lines only: one file
        for line, path in zip(frame["line"], frame["path"], strict=True):
            parsed, state, error = self._split(str(line), str(path), names)
            fields.append(parsed)
            status.append(state)
            errors.append(error)
        raw = pd.DataFrame(
            [f if f is not None else [None] * len(names) for f in fields],
            columns=names,
            index=frame.index,
            dtype=object,
        )
        ok = pd.Series([s == OK for s in status], index=frame.index)
        typed, bad = self._convert(raw, ok, frame["path"])
        for position, message in bad.items():
            status[position] = BAD
            errors[position] = message
        numbers: list[int | None] = [None] * len(status)
        finder = self.lines if self.lines is not None else LineFinder()
        for position, state in enumerate(status):
            if state != BAD:
                continue
            path = str(frame["path"].iloc[position])
            numbers[position] = finder.number(path, str(frame["line"].iloc[position]))
            if self.on_error == "fail":
                at = f"line {numbers[position]}: " if numbers[position] is not None else ""
                raise InvalidInput(f"{path}: {at}{errors[position]}")
        typed[STATUS] = pd.Series(status, index=frame.index, dtype="int32")
        typed[ERROR] = pd.Series(errors, index=frame.index, dtype=object)
        typed[LINE] = pd.Series(numbers, index=frame.index, dtype=object)
        return typed

    def _split(
        self, line: str, path: str, names: list[str]
    ) -> tuple[list[str | None] | None, int, str | None]:
        if not line.strip():
            return None, SKIP, None
        if self.fmt == "json":
            try:
                record = json.loads(line)
            except ValueError as exc:
                return None, BAD, f"record {line[:200]!r} is not JSON: {exc}"
            if not isinstance(record, dict):
                return None, BAD, f"record {line[:200]!r} is not a JSON object"
            missing = [n for n in names if n not in record]
            if missing:
                return None, BAD, f"record {line[:200]!r} lacks field(s) {missing}"
            return [_text(record[n]) for n in names], OK, None
        try:
            values = next(csv.reader([line]))
        except csv.Error as exc:  # a '\r' inside the line: Flink's lines end at '\n' only
            return None, BAD, f"record {line[:200]!r} is not one csv record: {exc}"
        if values == names:
            return None, SKIP, None
        if sorted(values) == sorted(names):
            raise InvalidInput(
                f"{path}: header {values} lists the schema's columns in another order; the "
                f"flink engine reads csv columns by position: {names}"
            )
        if len(values) != len(names):
            found = f"{len(values)} field{'s' * (len(values) != 1)}"
            return None, BAD, f"record {line[:200]!r} has {found}, the schema has {len(names)}"
        return [v if v != "" else None for v in values], OK, None

    def _convert(
        self, raw: pd.DataFrame, ok: pd.Series, paths: pd.Series
    ) -> tuple[pd.DataFrame, dict[int, str]]:
        """Typed rows (nulls where a row is not a good record) and the bad ones' errors, by
        the local engine's lenient conversion."""
        good = raw[ok]
        converted, bad_in_good = io.apply_schema_lenient(good, self.columns)
        positions = [i for i, flag in enumerate(ok) if flag]
        bad = {}
        for index, message in bad_in_good.items():
            position = positions[index]
            values = ",".join("" if v is None else str(v) for v in raw.iloc[position])
            bad[position] = f"record {values!r}: {message}"
        return self._flink_rows(converted, raw.index), bad

    def _flink_rows(self, converted: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
        """The good records' typed values on every row of ``index`` (nulls on the others),
        in the dtypes the Arrow bridge takes."""
        typed = to_flink_frame(converted, self.columns, "record")
        if len(typed) != len(index):
            typed = typed.reindex(index)
        for column, type_name in self.columns.items():
            _, nullable = PANDAS_TYPES.get(type_name, (None, None))
            series = typed[column]
            if (nullable == "object" and series.isna().any()) or type_name == "string":
                typed[column] = as_objects(series)
        return typed


class LineFinder:
    """The line number of a bad record in its file. Flink's file source hands over lines
    without their positions, so the file is scanned for the line — only when a record is bad,
    from where the last search in that file stopped (records arrive in file order), so a file
    is read about once however many bad records it holds. Kafka messages have no lines."""

    KEEP = 4  # files kept open: a stream job moves on to new files

    def __init__(self) -> None:
        self._open: dict[str, tuple[Any, int]] = {}  # path -> (text file, lines read)

    def number(self, path: str, line: str) -> int | None:
        if "://" in path and not path.startswith("file:"):
            return None
        wanted = line.rstrip("\r\n")
        for restart in (False, True):
            file, read = self._cursor(path, restart)
            if file is None:
                return None
            for text in file:
                read += 1
                if text.rstrip("\r\n") == wanted:
                    self._open[path] = (file, read)
                    return read
        return None

    def _cursor(self, path: str, restart: bool) -> tuple[Any, int]:
        if path in self._open and not restart:
            return self._open[path]
        if path in self._open:
            self._open.pop(path)[0].close()
        while len(self._open) >= self.KEEP:
            self._open.pop(next(iter(self._open)))[0].close()
        try:
            file = fsspec.open(path, "rt", encoding="utf-8-sig", errors="replace").open()
        except OSError:
            return None, 0
        self._open[path] = (file, 0)
        return file, 0

    def close(self) -> None:
        for file, _ in self._open.values():
            file.close()
        self._open.clear()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FormatFunction(NodeFunction):
    """Records -> the output example's text as the local engine writes it (csv without its
    header, or json lines), converted by the same rules first: the columns Flink carries
    (``in_columns``), then the example's schema when it declares one (``out_columns``).

    ``upstream``: the transform and predict functions feeding only this output, applied first
    in this one call (each failure still names its node). Every function Flink calls on its
    own is a round trip of all its columns between the JVM and Python; chained, the records
    cross once each way, and between the functions go through the same Arrow conversions
    (``udfs.bridged``).

    ``parse``: the read example's parse function, applied before them when the writer takes
    it in too (``outputs.WriteExample._parse``): the function then gets raw lines and keeps
    the records that fit; a bad record fails the call (policy ``fail``), naming its file and
    line as the read's own function would."""

    def __init__(
        self,
        node: str,
        in_columns: dict[str, str],
        out_columns: dict[str, str] | None,
        fmt: str,
        upstream: Sequence[UserFunction] = (),
        parse: ParseFunction | None = None,
    ) -> None:
        first = parse or (upstream[0] if upstream else None)
        super().__init__(node, first.in_columns if first else list(in_columns))
        self.types = in_columns
        self.out_columns = out_columns
        self.fmt = fmt
        self.upstream = list(upstream)
        self.parse = parse

    def _functions(self) -> list[NodeFunction]:
        return [*([self.parse] if self.parse else []), *self.upstream]

    def open(self, function_context: FunctionContext) -> None:
        for function in self._functions():
            function.open(function_context)

    def close(self) -> None:
        for function in self._functions():
            function.close()

    def apply(self, frame: pd.DataFrame) -> pd.Series:
        index = frame.index  # the result's: one text or null per row Flink handed over
        if self.parse is not None:
            frame = self.parse.call(frame, self.parse.records)
            if not len(frame):  # headers and blank lines only
                return pd.Series(np.full(len(index), None, dtype=object), index=index)
        for function in self.upstream:
            rows = function.call(frame)
            assert isinstance(rows, pd.DataFrame)  # a ROW's fields
            frame = bridged(rows, function.out_columns)
        typed = io.apply_schema(frame, self.types, f"node '{self.node}' input")
        if self.out_columns:
            typed = io.apply_schema(typed, self.out_columns, f"node '{self.node}' output")
        out = _io.BytesIO()
        io.write_text(typed, out, self.fmt, header=False)
        texts = np.full(len(index), None, dtype=object)
        texts[0] = out.getvalue().decode().removesuffix("\n")  # the sink ends it with one
        return pd.Series(texts, index=index)
