"""Writing a frame as csv, byte for byte what ``frame.to_csv(out, index=False)`` writes, fast.

pandas formats each value in Python and feeds the csv module row by row (~20 µs a row of the
wine example's 17 columns). Here each column is formatted as pandas formats it — numbers by
orjson or Arrow in C, then touched up to numpy's notation; ``True``/``False``; strings quoted as
the csv module's minimal quoting does — and rows are joined by Arrow's csv writer. Ints and the
doubles polars writes in numpy's notation (all finite ones but those below 1e-4) are left to
polars' csv writer instead, which formats them and joins the rows in Rust without the GIL
(~30 ns a value, where orjson takes ~20 with the GIL and its text's cutting up ~20 more): a
local batch job writes one chunk while it reads the next and runs the user's code on another
(``translators/local/chunks.py``). The bytes being pandas' own, every reader of a file (the
Flink engine's, a later job's, ``aiflow check``'s) reads what it read before. A frame holding a
column of another kind (dates, mixed objects, a single column, ...) is left to pandas:
``write_csv`` returns False having written nothing.

Fork: importing polars starts no thread (its pool starts on first use), so a fork server that
imports this module (``aiflow/runtime/preload.py``) forks sound children; one that *wrote* a
frame first would fork children whose first write waits forever on threads they do not have.
"""

from __future__ import annotations

import csv
import io as _io
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

import numpy as np
import orjson
import pandas as pd

# One polars thread unless the user asks for more: its writer runs beside the job's reader and
# the user's code (two more threads would compete for the same cores, ~0.4 s of CPU a 1M-row
# job). Imported here, not on first use: a first import on a writer thread races code that
# looks polars up in sys.modules meanwhile (scikit-learn's predict does, finding it half made).
os.environ.setdefault("POLARS_MAX_THREADS", "1")
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

_ROWS_PER_CHUNK = 1 << 16  # formatted text of a chunk stays a few MB
_SPECIAL = r'[,"\r\n]'  # what the csv module quotes (',', '"', '\n'), and '\r', which it does
_QUOTE = r'[,"\n]'  # not quote but Arrow's writer refuses to write unquoted
_PLAIN_WRITE = pcsv.WriteOptions(include_header=False, quoting_style="none")
_POSITIONAL = (1e-4, 1e16)  # numpy's repr: positional there, else '1e-05', '1e+16'


Format = Callable[[int, int], pa.Array]


def write_csv(frame: pd.DataFrame, out: IO[bytes], *, header: bool = True) -> bool:
    """Write ``frame`` as ``frame.to_csv(out, index=False, header=header)`` would; False,
    having written nothing, when a column is of a kind this writer does not format as pandas
    does."""
    names = list(frame.columns)
    if len(names) < 2 or not all(isinstance(c, str) for c in names) or len(set(names)) < len(names):
        return False  # one column: pandas quotes an empty field alone on its line
    fields: list[Format | np.ndarray] = []  # a column's text, or numbers polars writes
    plain = True  # no string needs quoting: Arrow's writer joins the rows
    for name in names:
        values = _polars_writes(frame[name])
        if values is not None:
            fields.append(values)
            continue
        found = _formatter(frame[name])
        if found is None:
            return False
        fmt, column_plain = found
        fields.append(fmt)
        plain &= column_plain
    if header:
        out.write(header_line(names))
    formats = [f for f in fields if not isinstance(f, np.ndarray)]
    if len(formats) < len(fields):
        _write_polars(len(frame), fields, out)
        return True
    labels = [str(i) for i in range(len(names))]

    def write(texts: list[pa.Array]) -> None:
        if plain:
            pcsv.write_csv(pa.Table.from_arrays(texts, labels), out, _PLAIN_WRITE)
        else:
            _write_joined(texts, out)

    # a chunk's rows are joined and written (Arrow, without the GIL) while the next one is
    # formatted (orjson, with it): on two cores the joining costs no time
    if len(frame) <= _ROWS_PER_CHUNK:
        write([fmt(0, len(frame)) for fmt in formats])
        return True
    with ThreadPoolExecutor(1, thread_name_prefix="csv-writer") as writer:
        pending: Future[None] | None = None
        for start in range(0, len(frame), _ROWS_PER_CHUNK):
            stop = min(start + _ROWS_PER_CHUNK, len(frame))
            texts = [fmt(start, stop) for fmt in formats]
            if pending is not None:
                pending.result()  # in order, and an error surfaces here
            pending = writer.submit(write, texts)
        if pending is not None:
            pending.result()
    return True


def _polars_writes(column: pd.Series) -> np.ndarray | None:
    """The column's values when polars writes each as pandas does: ints, and finite doubles of
    magnitude 0 or at least 1e-4 (polars writes the same shortest digits in the same notation,
    except '0.00001' for numpy's '1e-05' and 'NaN' for pandas' empty field); else None."""
    dtype = column.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf" or dtype.itemsize != 8:
        return None
    values = column.to_numpy()
    if dtype.kind == "f":
        size = np.abs(values)
        with np.errstate(invalid="ignore"):
            if not (size < np.inf).all() or ((size < _POSITIONAL[0]) & (size != 0)).any():
                return None
    return values


def _write_polars(rows: int, fields: list[Format | np.ndarray], out: IO[bytes]) -> None:
    """Rows ``_ROWS_PER_CHUNK`` at a time by polars' csv writer (Rust, numbers formatted and
    rows joined without the GIL: a local batch job reads and runs the user's code meanwhile),
    the other columns as text formatted above (quoted already: polars quotes nothing)."""
    for start in range(0, rows, _ROWS_PER_CHUNK):
        stop = min(start + _ROWS_PER_CHUNK, rows)
        columns = [
            pl.Series(str(i), f[start:stop] if isinstance(f, np.ndarray) else f(start, stop))
            for i, f in enumerate(fields)
        ]
        pl.DataFrame(columns).write_csv(out, include_header=False, quote_style="never")


def header_line(names: list[str]) -> bytes:
    """The csv header of columns ``names``, as pandas writes it."""
    text = _io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(names)
    return text.getvalue().encode()


def _write_joined(texts: list[pa.Array], out: IO[bytes]) -> None:
    """Rows joined by Arrow's string kernels: the fields are quoted already."""
    pieces: list[object] = []
    for text in texts:
        pieces += [text, ","]
    pieces[-1] = "\n"
    lines = pc.binary_join_element_wise(*pieces, "", null_handling="replace", null_replacement="")
    _, offsets, data = lines.buffers()
    assert offsets is not None and data is not None
    first, last = np.frombuffer(offsets, np.int32)[[lines.offset, lines.offset + len(lines)]]
    out.write(memoryview(data)[first:last])


def _formatter(column: pd.Series) -> tuple[Format, bool] | None:
    """How pandas writes ``column``'s rows ``start:stop`` as csv fields (null: an empty field),
    and whether none of them needs quotes; None for a column of another kind."""
    dtype = column.dtype
    if not isinstance(dtype, np.dtype):
        if isinstance(dtype, pd.BooleanDtype | pd.Int64Dtype):
            array = pa.array(column.array)
            convert = _bools if isinstance(dtype, pd.BooleanDtype) else _arrow_text
            return (lambda start, stop: convert(array.slice(start, stop - start))), True
        if isinstance(dtype, pd.StringDtype):
            return _strings(column)
        return None
    values = column.to_numpy()
    if dtype in (np.float64, np.float32):
        return (lambda start, stop: _floats(values[start:stop])), True
    if dtype in (np.int64, np.int32):
        return (lambda start, stop: _json_text(values[start:stop])), True
    if dtype.kind in "iu":
        return (lambda start, stop: _arrow_text(pa.array(values[start:stop]))), True
    if dtype == np.bool_:
        return (lambda start, stop: _bools(pa.array(values[start:stop]))), True
    if dtype.kind == "O":
        return _strings(column)
    return None


def _strings(column: pd.Series) -> tuple[Format, bool] | None:
    """Strings (and nulls), quoted where the csv module quotes them."""
    if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
        return None
    try:
        text = pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeEncodeError):
        return None  # pandas says what is wrong
    if not pc.any(pc.match_substring_regex(text, _SPECIAL)).as_py():
        return (lambda start, stop: text.slice(start, stop - start)), True
    needs = pc.match_substring_regex(text, _QUOTE)
    escaped = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    quoted = pc.if_else(needs, escaped, text)
    return (lambda start, stop: quoted.slice(start, stop - start)), False


def _floats(values: np.ndarray) -> pa.Array:
    """numpy's repr of each value (what pandas writes), null for NaN. orjson writes the same
    shortest digits; its notation differs for doubles below 1e-4 ('1e-7', not '1e-07') and for
    floats at some magnitudes ('7.839755e+13', not '78397550000000.0'), and it writes NaN and
    infinities as 'null': those values are numpy's own text."""
    text = _json_text(values)
    finite = np.isfinite(values)
    size = np.abs(values)
    with np.errstate(invalid="ignore"):
        small = (size < _POSITIONAL[0]) & (size != 0)
    redo = small | ~finite
    if values.dtype != np.float64:
        scientific = small | (size >= _POSITIONAL[1])
        redo |= pc.match_substring(text, "e").to_numpy(zero_copy_only=False) != scientific
    nan = np.isnan(values)
    redo &= ~nan
    if redo.any():
        replacement = pa.array(values[redo].astype(str), type=pa.string())
        text = pc.replace_with_mask(text, pa.array(redo), replacement)
    if nan.any():
        text = pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), text)
    return text


def _json_text(values: np.ndarray) -> pa.Array:
    """Each number's text as orjson writes it (numpy's repr for finite doubles and ints), cut
    out of the JSON array at its commas: ~40 ns a value, Arrow's cast takes ~100."""
    body = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    count = len(values)
    offsets = np.empty(count + 1, np.int32)
    offsets[0] = 0
    commas = np.flatnonzero(np.frombuffer(body, np.uint8) == ord(","))
    offsets[1:count] = commas - np.arange(count - 1)  # each value's start once commas are gone
    offsets[count] = len(body) - (count - 1)
    data = body.translate(None, b",")  # twice as fast as replace
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _arrow_text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


def _bools(values: pa.Array) -> pa.Array:
    return pc.if_else(values, "True", "False")
