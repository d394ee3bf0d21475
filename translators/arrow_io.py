"""Arrow fast path for reading example files: csv and json lines into typed frames.

The exact reader (``records`` splitting, ``io.apply_schema`` converting) goes through Python's
csv and json modules, a Python step per record. pyarrow parses in C, in parallel blocks. Its
answer must be the exact reader's — the same frame (columns, dtypes, nulls, values) and, for a
file with a bad record, the same error or dead letters — so the fast path answers only when it
can vouch for that. Whatever Arrow rejects (a record of the wrong shape, a value not of its
column's type) or might read otherwise (a header it would name differently, a json null that
may stand for a missing field, ...) makes it return None, and the caller reads that file the
exact way, whose errors and dead letters name lines and keep raw records.

Values: csv numbers are read as text and parsed by Arrow only where pandas' parser (the exact
rules') gives the same double — short numbers in range, which it rounds correctly; a column
holding a longer one ('0.30000000000000004', pandas is then off by a unit at times) is
converted by the exact rules' own function (``convert``), as are strings and timestamps. A
schema of numbers and bools is read block by block (``_read_csv_streamed``); ``csv_chunks`` hands
the blocks out one by one (a local batch chain, ``translators/local/chunks.py``); writing:
csv_writer.
"""

from __future__ import annotations

import codecs
import csv
import io as _io
import re
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson

if TYPE_CHECKING:
    Convert = Callable[[pd.Series, str], tuple[pd.Series, pd.Series]]

_NUMBERS = ("double", "float", "int", "bigint")
# csv numbers are read as text, converted below: pandas' parser (the exact rules') does not
# round every number as Arrow does, so which ones may be read otherwise is told by their text
_CSV_TYPES = {"bool": pa.bool_()}
_JSON_TYPES = {"double": pa.float64(), "float": pa.float64(), "int": pa.int64()}
_JSON_TYPES |= {"bigint": pa.int64(), "bool": pa.bool_()}
_TEXT = pa.string()  # string and timestamp: converted by the exact rules
_TRUE, _FALSE = ["1", "True", "TRUE", "true"], ["0", "False", "FALSE", "false"]
# pandas reads a number of at most 15 characters whose value is within [1e-7, 1e15] with one
# correctly rounded operation (at most 15 digits, a power of ten at most 22), as Arrow does
_SHORT, _RANGE = 15, (1e-7, 1e15)
_PEEK = 1 << 16
_STREAMED = {"double", "float", "int", "bigint", "bool"}  # read block by block (no text kept)
_BLOCK = 1 << 22  # bytes of csv a block: its text lives only while it is converted
_SLACK = 1024  # rows beyond the estimate of a file's rows
_BOM = codecs.BOM_UTF8
_TWO_OBJECTS = re.compile(rb"\}[ \t\r\f\v]*\{")  # json records sharing a line: bad ones


def read_typed(
    f: IO[bytes], fmt: str, columns: dict[str, str], convert: Convert, rows: int | None = None
) -> pd.DataFrame | None:
    """The records of ``f`` (csv or json lines; its first ``rows``, if given: csv only) with
    ``columns`` applied, as the exact reader would return them; None when the fast path cannot
    vouch for that (the caller then reads the file the exact way). Needs at least one record:
    an empty file is the exact reader's."""
    try:
        if fmt == "csv" and set(columns.values()) <= _STREAMED:
            frame = _read_csv_streamed(f, columns, rows)
            if frame is not None:
                return frame
            f.seek(0)  # a column the exact rules convert: the whole table's way below
        table = _read_csv(f, columns, rows) if fmt == "csv" else _read_json(f, columns)
        if table is None or table.num_rows == 0:
            return None
        return _frame(table, columns, convert, from_text=fmt == "csv")
    except (pa.ArrowException, OSError, UnicodeDecodeError, csv.Error):
        return None


def _read_csv(f: IO[bytes], columns: dict[str, str], rows: int | None) -> pa.Table | None:
    options = _csv_options(f, columns)
    if options is None:
        return None
    if rows is None:
        return pcsv.read_csv(_Utf8Checked(f), **options)
    # the first rows only (a sample): block by block, as the exact reader stops after them
    batches, count = [], 0
    for batch in pcsv.open_csv(_Utf8Checked(f), **options):
        batches.append(batch)
        count += batch.num_rows
        if count >= rows:
            break
    return pa.Table.from_batches(batches).slice(0, rows) if batches else None


def _read_csv_streamed(
    f: IO[bytes], columns: dict[str, str], rows: int | None
) -> pd.DataFrame | None:
    """``_frame`` of ``_read_csv`` for a schema of numbers and bools, read block by block into
    the frame's arrays: Arrow's text of a block lives only while it is converted, where the
    whole table's text would be ~1.5x the file, fresh memory being most of what a read costs
    on a VM. None when a value is not a number Arrow reads as the exact rules do (the caller
    then reads the whole table, whose columns the exact rules may convert) or no record."""
    size = f.seek(0, 2)
    f.seek(0)
    options = _csv_options(f, columns, _BLOCK)
    if options is None:
        return None
    reader = pcsv.open_csv(_Utf8Checked(f), **options)
    arrays: dict[str, np.ndarray] = {}
    nulls, count = dict.fromkeys(columns, 0), 0
    doubles = [name for name, type_name in columns.items() if type_name == "double"]
    for batch in reader:
        if rows is not None and count + batch.num_rows > rows:
            batch = batch.slice(0, rows - count)  # the first rows only (a sample)
        stop = count + batch.num_rows
        if not arrays or stop > len(next(iter(arrays.values()))):
            # room for the rows the file's size suggests (a block's rows per block's bytes)
            guess = stop + int(size * batch.num_rows / _BLOCK * 1.25) + _SLACK
            arrays = _grown(arrays, columns, doubles, max(stop, min(guess, rows or guess)))
        for name, type_name in columns.items():
            column = batch.column(name)
            nulls[name] += column.null_count
            if type_name == "bool":
                arrays[name][count:stop] = column.fill_null(False).to_numpy(zero_copy_only=False)
                arrays[f"{name}\0"][count:stop] = column.is_null().to_numpy(zero_copy_only=False)
                continue
            try:
                values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                return None
            if not _read_alike(pa.chunked_array([column]), values, from_text=True):
                return None
            arrays[name][count:stop] = values
        count = stop
        if rows is not None and count >= rows:
            break
    if not count:
        return None
    return _streamed_frame(arrays, columns, doubles, nulls, count)


def _grown(
    arrays: dict[str, np.ndarray], columns: dict[str, str], doubles: list[str], length: int
) -> dict[str, np.ndarray]:
    """The arrays of ``_read_csv_streamed`` with room for ``length`` rows (the doubles rows of
    one block), their values kept. Pages never written are never touched: room is cheap."""
    block = np.empty((len(doubles), length))
    out = dict(zip(doubles, block, strict=True))
    for name, type_name in columns.items():
        if type_name == "bool":
            out[name] = np.empty(length, np.bool_)
            out[f"{name}\0"] = np.empty(length, np.bool_)
        elif type_name != "double":
            out[name] = np.empty(length)
    for name, old in arrays.items():
        out[name][: len(old)] = old  # (rows past the last block's are copied unset: no harm)
    return out


def _streamed_frame(
    arrays: dict[str, np.ndarray],
    columns: dict[str, str],
    doubles: list[str],
    nulls: dict[str, int],
    count: int,
) -> pd.DataFrame | None:
    """The frame ``_frame`` makes of the same values: doubles in one block, the others typed
    as ``_column`` types them."""
    block = np.empty((0, count))
    if doubles:
        base = arrays[doubles[0]].base  # the block ``_grown`` made
        assert isinstance(base, np.ndarray)
        block = base[:, :count]
    frame = pd.DataFrame(block.T, columns=doubles, copy=False)
    for position, (name, type_name) in enumerate(columns.items()):
        if type_name == "double":
            continue
        values = arrays[name][:count]
        found: Any
        if type_name == "bool":
            missing = arrays[f"{name}\0"][:count]
            found = pd.arrays.BooleanArray(values, missing) if nulls[name] else values
        elif type_name == "float":
            found = values.astype(np.float32)
        else:
            whole = values if not nulls[name] else values[~np.isnan(values)]
            if (whole % 1 != 0).any():
                return None  # not an int: a bad value
            found = _ints(values.astype(np.int64) if not nulls[name] else values, nulls[name])
        frame.insert(position, name, found)
    return frame


def csv_chunks(
    f: IO[bytes], columns: dict[str, str], convert: Convert, rows: int
) -> Iterator[pd.DataFrame]:
    """``f``'s records about ``rows`` at a time (Arrow's blocks, sized from the first lines),
    each the frame ``read_typed`` gives for a file of those records alone; ``NotVouched``, at
    whichever chunk meets it, where ``read_typed`` would return None (or where ``convert``,
    given each column the exact rules convert, raises it: a caller keeping each chunk's types
    independent of the others refuses the rules that type a column by all of its values)."""
    head = f.read(_PEEK)
    f.seek(0)
    line = max(1, len(head) // max(1, head.count(b"\n")))
    options = _csv_options(f, columns, max(1 << 12, rows * line))
    if options is None:
        raise NotVouched("the header is the exact reader's to read")
    # one thread: the chunks' consumer keeps the other core busy, and Arrow's readahead and
    # parallel conversion of one block cost more CPU (0.48 s of a 1M-row file's text, not 0.34)
    options["read_options"].use_threads = False
    try:
        for batch in pcsv.open_csv(_Utf8Checked(f), **options):
            if batch.num_rows:
                frame = _frame(pa.Table.from_batches([batch]), columns, convert, from_text=True)
                if frame is None:
                    raise NotVouched("a value is the exact reader's to read")
                yield frame
    except (pa.ArrowException, OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NotVouched(f"{type(exc).__name__}: {exc}") from exc


class NotVouched(Exception):
    """A chunked read met what only the exact reader answers: read the file whole instead."""


def _csv_options(
    f: IO[bytes], columns: dict[str, str], block_size: int | None = None
) -> dict[str, Any] | None:
    """Arrow's options to read ``f`` (rewound) as the exact reader reads it: the header line
    skipped, names from it; None when the header is the exact reader's (it names a missing
    column, see ``_csv_header``)."""
    header = _csv_header(f.read(_PEEK))
    f.seek(0)
    if header is None or any(c not in header for c in columns):
        return None
    types = {c: _CSV_TYPES.get(t, _TEXT) for c, t in columns.items()}
    read = pcsv.ReadOptions(skip_rows=1, column_names=header)
    if block_size is not None:
        read.block_size = block_size
    return {
        "read_options": read,
        "parse_options": pcsv.ParseOptions(newlines_in_values=True),
        "convert_options": pcsv.ConvertOptions(
            column_types=types, include_columns=list(columns), null_values=[""],
            true_values=_TRUE, false_values=_FALSE,
            strings_can_be_null=True, quoted_strings_can_be_null=True,
        ),
    }  # fmt: skip


def _csv_header(head: bytes) -> list[str] | None:
    """The header's names, when it is the file's first line and Arrow can be told to skip that
    one line; None for what only the exact reader handles: blank lines before the header, a
    header spanning lines (quoted newlines), duplicate names (made unique), or a single column
    (a whitespace-only line is a blank line there, not a value)."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    end = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
    if end <= 0:
        return None
    line = text[:end]
    if '"' in line:
        return None  # a quoted name may hold a newline: where the header ends is the csv module's
    names = line.split(",")
    if len(names) < 2 or len(set(names)) != len(names):
        return None
    return names


class _Utf8Checked:
    """``f`` as Arrow reads it, each block checked to be UTF-8: the exact reader decodes the
    whole file, Arrow only the string columns it keeps (ASCII blocks cost one scan)."""

    closed = False

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        if not data.isascii() or self.decoder.getstate()[0]:
            self.decoder.decode(data, final=not data)  # UnicodeDecodeError: not UTF-8
        elif not data:
            self.decoder.decode(b"", final=True)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _read_json(f: IO[bytes], columns: dict[str, str]) -> pa.Table | None:
    data = f.read()
    if not data.isascii():
        data.decode("utf-8-sig")  # UnicodeDecodeError: not UTF-8, as the exact reader says
    # the exact reader's lines end at '\r' too (where json sees a space), a BOM inside the
    # file or two objects on one line are bad records: all of them the exact reader's
    if data.count(b"\r") != data.count(b"\r\n") or data.find(_BOM, 1) >= 0:
        return None
    if _TWO_OBJECTS.search(data):
        return None
    schema = pa.schema([(c, _JSON_TYPES.get(t, _TEXT)) for c, t in columns.items()])
    table = pjson.read_json(
        _io.BytesIO(data),
        parse_options=pjson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"
        ),
    )
    if any(table.column(c).null_count for c in columns):
        return None  # Arrow reads a missing field as null: a bad record to the exact reader
    return table


def _frame(
    table: pa.Table, columns: dict[str, str], convert: Convert, from_text: bool
) -> pd.DataFrame | None:
    """The table as the exact reader's frame (values, nulls, dtypes); None if a value is bad by
    the exact rules (they say which and where) or one Arrow may read otherwise. The double
    columns are filled into one block: pandas would otherwise merge them at the user's first
    ``copy()``."""
    doubles = [name for name, type_name in columns.items() if type_name == "double"]
    block = np.empty((len(doubles), table.num_rows))
    for row, name in zip(block, doubles, strict=True):
        values = _numbers(table[name], "double", convert, from_text, out=row)
        if values is None:
            return None
        if values is not row:
            row[:] = values
    frame = pd.DataFrame(block.T, columns=doubles, copy=False)
    for position, (name, type_name) in enumerate(columns.items()):
        if type_name != "double":
            found = _column(table[name], type_name, convert, from_text)
            if found is None:
                return None
            frame.insert(position, name, found)
    return frame


def _column(column: pa.ChunkedArray, type_name: str, convert: Convert, from_text: bool) -> Any:
    """One column other than a double, typed as the exact rules type it; None as ``_frame``."""
    if type_name in _NUMBERS and column.type != pa.int64():
        values = _numbers(column, type_name, convert, from_text)
        if not isinstance(values, np.ndarray):
            return values  # None, or the exact rules' conversion
        if type_name == "float":
            return values.astype(np.float32)
        nulls = column.null_count
        whole = values if not nulls else values[~np.isnan(values)]
        if (whole % 1 != 0).any():
            return None  # not an int: a bad value
        return _ints(values.astype(np.int64) if not nulls else values, nulls)
    if column.type == pa.int64():
        return column.to_numpy()  # json: no nulls here (see _read_json)
    if column.type == pa.bool_():
        if column.null_count:
            mask = column.is_null().to_numpy(zero_copy_only=False)
            filled = column.fill_null(False).to_numpy(zero_copy_only=False)
            return pd.arrays.BooleanArray(filled, mask)
        return column.to_numpy(zero_copy_only=False)
    converted, bad = convert(_objects(column), type_name)
    return None if bad.any() else converted


def _numbers(
    column: pa.ChunkedArray,
    type_name: str,
    convert: Convert,
    from_text: bool,
    out: np.ndarray | None = None,
) -> Any:
    """A number column's float64 values (NaN for nulls; in ``out`` if given) when the exact
    rules read each of them alike; else the exact rules' conversion of the whole column (pandas
    types a column by all its values), or None when they find a bad value."""
    try:
        values = _fill(pc.cast(column, pa.float64()) if from_text else column, out)
    except pa.ArrowInvalid:
        values = None  # a value Arrow does not read as a number: the rules' question
    if values is not None and _read_alike(column, values, from_text):
        return values
    if not from_text:
        return None  # the exact reader has json's own ints and floats, not Arrow's
    converted, bad = convert(_objects(column), type_name)
    return None if bad.any() else converted


def _read_alike(column: pa.ChunkedArray, values: np.ndarray, from_text: bool) -> bool:
    """Whether pandas reads every value of ``column`` as Arrow read ``values``. From text:
    numbers short and within range (``_SHORT``, ``_RANGE``), zeros with no exponent ('0e999'
    is no number to pandas) and no sign (pandas reads '-0' as an int). From json, where the
    exact reader has Python's floats and ints: finite values, zeros with no sign."""
    nulls = column.null_count
    size = np.abs(values)
    zero = size == 0
    if zero.any() and np.signbit(values[zero]).any():
        return False
    if not from_text:
        return int(np.isfinite(values).sum()) == len(values) - nulls
    lengths = pc.binary_length(column).to_numpy()
    with np.errstate(invalid="ignore"):
        plain = (lengths <= _SHORT) & (zero | ((size >= _RANGE[0]) & (size <= _RANGE[1])))
    if int(plain.sum()) != len(values) - nulls:
        return False
    if zero.any():
        zeros = pc.filter(column, pa.array(zero))
        return not pc.any(pc.match_substring_regex(zeros, "[eE]")).as_py()
    return True


def _fill(column: pa.ChunkedArray, out: np.ndarray | None) -> np.ndarray:
    """The column's values as float64, NaN for nulls; written into ``out`` chunk by chunk."""
    if out is None:
        return np.asarray(column.to_numpy(), dtype=np.float64)
    start = 0
    for chunk in column.chunks:
        out[start : start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        start += len(chunk)
    return out


def _objects(column: pa.ChunkedArray) -> pd.Series:
    """The column as the exact reader has it: Python objects, None for nulls."""
    return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)


def _ints(values: np.ndarray, nulls: int) -> object:
    """int64, or nullable Int64 when there are nulls, as the exact rules type an int column."""
    if not nulls:
        return values
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
