"""Reading and writing example data (csv, json lines, parquet) with the example's schema.

Reads are strict: a record that does not fit — a value of the wrong type, a field too many or
too few, a line that is not JSON — is an error naming the file, the line and the column; records
are never dropped or silently turned into nulls. ``read_example_lenient`` is the same reading for
the ``skip``/``dead_letter`` policies: it returns the bad records, each with its line number and
raw text, instead of raising. A file-level problem (the header lacks a schema column) is an
error under every policy. Writes are atomic (temporary name, then rename), which is what makes
stream outputs exactly-once: a replayed micro-batch overwrites the same part file instead of
adding a second copy.

A materialized intermediate records its columns' types in ``_schema.json`` beside its data, so
the next job (on any engine) can read it even when no node declared its output schema.

Paths go through fsspec so ``s3://`` or ``hdfs://`` locations need no code here. Splitting a
file into records (and their lines) is ``records``.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from aiflow.errors import InvalidInput
from aiflow.translators.records import BadRecord, fsspec, parse_file, record_texts, untyped

if TYPE_CHECKING:
    import pandas as pd

EXTENSIONS = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}
SCHEMA_FILE = "_schema.json"  # '_': bookkeeping, skipped by every reader of records
_IGNORED_PREFIXES = (".", "_")
_IGNORED_SUFFIXES = (".tmp", ".crc", ".inprogress", ".partial")


def is_data_file(name: str) -> bool:
    """Hidden, underscore and temporary files are in-flight or bookkeeping, never records."""
    return not name.startswith(_IGNORED_PREFIXES) and not name.endswith(_IGNORED_SUFFIXES)


def list_data_files(uri: str) -> list[str]:
    """Data files of a directory URI (or the URI itself if it is a file), sorted by name."""
    fs, path = fsspec().core.url_to_fs(uri)
    if fs.isfile(path):
        return [uri]
    if not fs.isdir(path):
        raise InvalidInput(f"{uri} does not exist")
    out = []
    for info in fs.ls(path, detail=True):
        name = PurePosixPath(info["name"]).name
        if info.get("type") == "file" and is_data_file(name):
            out.append(_unstrip(uri, info["name"], fs))
    return sorted(out)


def data_files_if_any(uri: str) -> list[str]:
    """``list_data_files`` of a directory that may not exist yet (an upstream job's output, a
    staging or dead-letter directory): none then. Local or remote (``storage.root``)."""
    fs, path = fsspec().core.url_to_fs(uri)
    return list_data_files(uri) if fs.isdir(path) else []


def count_lines(uri: str) -> int:
    """Non-blank lines in a directory's data files (0 when it does not exist)."""
    total = 0
    for file in data_files_if_any(uri):
        with fsspec().open(file, "rb") as f:
            total += sum(1 for line in f if line.strip())
    return total


def _unstrip(uri: str, path: str, fs: Any) -> str:
    return fs.unstrip_protocol(path) if "://" in uri else path


# ---- reading records -------------------------------------------------------------------------


def read_example_file(
    uri: str, fmt: str, columns: dict[str, str] | None, rows: int | None = None
) -> pd.DataFrame:
    """One data file (its first ``rows`` records, if given) with the example's schema applied;
    ``InvalidInput`` naming the file and line of the first record that does not fit."""
    fast = _read_fast(uri, fmt, columns, rows)
    if fast is not None:
        return fast
    parsed = parse_file(uri, fmt, columns, rows)
    if parsed.bad:
        first, last, error = parsed.bad[0]
        (text,) = record_texts(uri, [(first, last)])
        raise InvalidInput(f"{uri}: line {first}: record {text[:200]!r} {error}")
    if not columns:
        return parsed.frame
    starts = [s for s, _ in parsed.spans] if parsed.spans is not None else None
    return apply_schema(parsed.frame, columns, uri, starts)


def read_example_lenient(
    uri: str, fmt: str, columns: dict[str, str]
) -> tuple[pd.DataFrame, list[BadRecord]]:
    """The records of one file that fit ``columns`` (converted) and those that do not, in file
    order — what the ``skip`` and ``dead_letter`` policies read."""
    parsed = parse_file(uri, fmt, columns, None)
    typed, wrong = apply_schema_lenient(parsed.frame, columns, uri)
    if parsed.spans is None:  # parquet: no lines; the record is its values
        bad = [
            BadRecord(None, json.dumps(parsed.frame.iloc[p].to_dict(), default=str), message)
            for p, message in wrong.items()
        ]
        return typed.reset_index(drop=True), bad
    found = sorted([*parsed.bad, *((*parsed.spans[p], m) for p, m in wrong.items())])
    texts = record_texts(uri, [(first, last) for first, last, _ in found]) if found else []
    bad = [
        BadRecord(first, text, error) for (first, _, error), text in zip(found, texts, strict=True)
    ]
    return typed.reset_index(drop=True), bad


def _read_fast(
    uri: str, fmt: str, columns: dict[str, str] | None, rows: int | None = None
) -> pd.DataFrame | None:
    """The file read by Arrow (``arrow_io``) when it vouches for the exact reader's answer; None
    (read it the exact way, record by record) when it does not: a bad record, an odd value."""
    if not columns or fmt not in ("csv", "json") or (rows is not None and fmt != "csv"):
        return None  # json's exact reader stops after ``rows`` lines: cheap
    from aiflow.translators import arrow_io

    try:
        with fsspec().open(uri, "rb") as f:
            return arrow_io.read_typed(f, fmt, columns, _convert, rows)
    except OSError:
        return None  # the exact reader says what is wrong


# types whose exact conversion depends on each value alone (a timestamp column's format is
# inferred from its values): a chunk of a file is typed as the same records in the whole file
_ROW_BY_ROW = frozenset({"double", "float", "int", "bigint", "bool", "string"})


def read_example_chunks(uri: str, columns: dict[str, str], rows: int) -> Iterator[pd.DataFrame]:
    """A csv file's records about ``rows`` at a time, each chunk typed as ``read_example_file``
    types a file of those records (a column with nulls in one chunk only is nullable in that
    one); ``arrow_io.NotVouched`` at the chunk where only the whole file's exact read answers
    (a bad record: its error names the file and line)."""
    from aiflow.translators import arrow_io

    if not set(columns.values()) <= _ROW_BY_ROW:
        raise arrow_io.NotVouched(f"{uri}: a column type is converted by all of its values")

    def convert(values: pd.Series, type_name: str) -> tuple[pd.Series, pd.Series]:
        if type_name != "string":  # a number Arrow may read otherwise: pandas types it
            raise arrow_io.NotVouched(f"{uri}: a value is converted by the exact rules")
        return _convert(values, type_name)

    with fsspec().open(uri, "rb") as f:
        yield from arrow_io.csv_chunks(f, columns, convert, rows)


def read_text_fast(data: bytes, fmt: str, columns: dict[str, str]) -> pd.DataFrame | None:
    """``data`` (a csv with its header, or json lines) as ``_read_fast`` reads a file: by Arrow
    when it vouches for the exact reader's answer, else None."""
    import io as _io

    from aiflow.translators import arrow_io

    return arrow_io.read_typed(_io.BytesIO(data), fmt, columns, _convert)


def read_example_uri(uri: str, fmt: str, columns: dict[str, str] | None) -> pd.DataFrame:
    """A file, or all data files of a directory concatenated (in name order)."""
    return read_example_files(list_data_files(uri), fmt, columns)


def read_example_files(files: list[str], fmt: str, columns: dict[str, str] | None) -> pd.DataFrame:
    """``files`` read and concatenated in order (an empty frame of ``columns`` for none)."""
    import pandas as pd

    frames = [read_example_file(f, fmt, columns) for f in files]
    if not frames:
        return empty_frame(columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def empty_frame(columns: dict[str, str] | None) -> pd.DataFrame:
    import pandas as pd

    if not columns:
        return pd.DataFrame()
    return apply_schema(untyped({c: [] for c in columns}), columns, "")


# ---- schemas -----------------------------------------------------------------------------------


def apply_schema(
    frame: pd.DataFrame, columns: dict[str, str], where: str, lines: list[int] | None = None
) -> pd.DataFrame:
    """``frame`` projected to ``columns`` and converted to their types; ``InvalidInput`` naming
    ``where``, the first bad value's line (when ``lines`` gives each row's) or row, and column."""
    import pandas as pd

    return pd.DataFrame(schema_values(frame, columns, where, lines), index=frame.index)


def schema_values(
    frame: pd.DataFrame, columns: dict[str, str], where: str, lines: list[int] | None = None
) -> dict[str, pd.Series]:
    """``apply_schema``'s columns before they become a frame (for a caller that changes them
    further: a frame is built once)."""
    _check_columns(frame, columns, where)
    out = {}
    for column, type_name in columns.items():
        values = frame[column]
        converted, bad = _convert(values, type_name)
        if bad.any():
            position = int(bad.to_numpy().argmax())
            at = f"row {position + 1}"  # rows count from 1, after the header
            if lines is not None:
                at = f"line {lines[position]}, {at}"
            raise InvalidInput(
                f"{where}: {at}, column '{column}': {values.iloc[position]!r} is not a "
                f"{type_name} ({int(bad.sum())} bad value(s) in this column)"
            )
        out[column] = converted
    return out


def apply_schema_lenient(
    frame: pd.DataFrame, columns: dict[str, str], where: str = ""
) -> tuple[pd.DataFrame, dict[int, str]]:
    """``apply_schema`` that keeps going: the converted good rows, and the bad rows' positions
    with what is wrong with each (its first bad column). Bad values are found column by
    column over all rows at once, so a file with a few bad records costs one extra pass."""
    import pandas as pd

    _check_columns(frame, columns, where)
    bad_any = pd.Series(False, index=frame.index)
    reasons: dict[int, str] = {}
    for column, type_name in columns.items():
        values = frame[column]
        _, bad = _convert(values, type_name)
        if not bad.any():
            continue
        for position in map(int, bad.to_numpy().nonzero()[0]):
            reasons.setdefault(
                position, f"column '{column}': {values.iloc[position]!r} is not a {type_name}"
            )
        bad_any |= bad
    good = frame[~bad_any.to_numpy()] if reasons else frame
    return apply_schema(good, columns, where), dict(sorted(reasons.items()))


def _check_columns(frame: pd.DataFrame, columns: dict[str, str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{where}: missing column(s) {missing} of the example's schema "
            f"(found {list(frame.columns)})"
        )


# dtypes a column of each type has after ``_convert``, when it has them before: nothing to do
_ALREADY = {
    "double": "float64",
    "float": "float32",
    "int": "int64",
    "bigint": "int64",
    "bool": "bool",
}


def _convert(values: pd.Series, type_name: str) -> tuple[pd.Series, pd.Series]:
    """The values as ``type_name`` and the mask of those that are not one (nulls are fine)."""
    import pandas as pd

    if str(values.dtype) == _ALREADY.get(type_name):  # what the rules below would return
        return values, pd.Series(False, index=values.index)
    present = values.notna()
    if type_name in ("double", "float", "int", "bigint"):
        converted = pd.to_numeric(values, errors="coerce")
        bad = present & converted.isna()
        if type_name in ("int", "bigint"):
            bad |= present & converted.notna() & (converted % 1 != 0)
            if bad.any():
                return converted, bad
            return converted.astype("int64" if not (~present).any() else "Int64"), bad
        return converted.astype("float32" if type_name == "float" else "float64"), bad
    if type_name == "bool":
        text = values.astype(str).str.strip().str.lower()
        mapped = text.map({"true": True, "false": False, "1": True, "0": False})
        bad = present & mapped.isna()
        if bad.any():
            return mapped, bad
        return mapped.astype("bool" if not (~present).any() else "boolean"), bad
    if type_name == "timestamp":
        converted = pd.to_datetime(values, errors="coerce", utc=True)
        return converted, present & converted.isna()
    no_bad = pd.Series(False, index=values.index)
    return (values.astype("string") if (~present).any() else values.astype(str)), no_bad


def infer_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The aiflow column types of a frame's values (for outputs no schema declares). A column
    of objects is typed by what it holds; one aiflow cannot type (lists, mixed values) is a
    string, which is how both engines carry it."""
    import pandas as pd

    out: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        kind = getattr(dtype, "kind", "O")
        if str(dtype) in ("float32", "Float32"):
            out[str(name)] = "float"
        elif kind == "f":
            out[str(name)] = "double"
        elif kind in "iu":
            out[str(name)] = "bigint"
        elif kind == "b":
            out[str(name)] = "bool"
        elif kind == "M":
            out[str(name)] = "timestamp"
        else:
            held = pd.api.types.infer_dtype(frame[name], skipna=True)
            out[str(name)] = _HELD_TYPES.get(held, "string")
    return out


_HELD_TYPES = {
    "integer": "bigint",
    "floating": "double",
    "mixed-integer-float": "double",
    "decimal": "double",
    "boolean": "bool",
    "datetime64": "timestamp",
    "datetime": "timestamp",
}


def write_schema(directory: str, columns: dict[str, str]) -> None:
    """Record the columns of the data in ``directory`` (a materialized intermediate), atomically."""
    data = json.dumps({"columns": columns}, indent=1).encode()
    write_atomic(f"{directory.rstrip('/')}/{SCHEMA_FILE}", lambda out: out.write(data))


def read_schema(directory: str) -> dict[str, str] | None:
    """The columns recorded by ``write_schema``; None when none are (yet)."""
    fs, path = fsspec().core.url_to_fs(f"{directory.rstrip('/')}/{SCHEMA_FILE}")
    try:
        with fs.open(path, "rb") as f:
            return dict(json.load(f)["columns"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{directory}/{SCHEMA_FILE}: not a recorded schema: {exc}") from exc


# ---- writing -----------------------------------------------------------------------------------


def write_frame(frame: pd.DataFrame, uri: str, fmt: str) -> str:
    """Write atomically: readers (and stream consumers) see the whole file or nothing."""
    if fmt not in EXTENSIONS:
        raise InvalidInput(f"{uri}: unsupported format {fmt!r}")

    write_atomic(uri, lambda out: write_text(frame, out, fmt))
    return uri


def write_text(frame: pd.DataFrame, out: IO[bytes], fmt: str, *, header: bool = True) -> None:
    """``frame`` in ``fmt`` (parquet too, despite the name), as every engine writes it; csv
    without its header line if ``header`` is False (json lines have none)."""
    if fmt == "csv":
        from aiflow.translators import csv_writer

        if not csv_writer.write_csv(frame, out, header=header):  # pandas' bytes, formatted in C
            frame.to_csv(out, index=False, header=header)
    elif fmt == "json":
        # 15 digits, pandas' maximum (default 10 would round what another engine reads back)
        frame.to_json(out, orient="records", lines=True, date_format="iso", double_precision=15)
    else:
        frame.to_parquet(out, index=False)


def write_atomic(uri: str, write: Any) -> None:
    fs, path = fsspec().core.url_to_fs(uri)
    parent = fs._parent(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{PurePosixPath(path).name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with fs.open(tmp, "wb") as out:
            write(out)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.rm(tmp)  # a failed write leaves nothing behind
        raise
    if "://" in uri:
        fs.mv(tmp, path)
    else:
        os.replace(tmp, path)  # atomic on POSIX, also over an existing file


def batch_target(uri: str, fmt: str) -> str:
    """Where a batch write goes: the file itself, or ``part-00000`` inside a directory URI."""
    fs, path = fsspec().core.url_to_fs(uri)
    if uri.endswith("/") or fs.isdir(path):
        return f"{uri.rstrip('/')}/part-00000{EXTENSIONS[fmt]}"
    return uri


def stream_dir(stream_uri: str | None, batch_uri: str | None) -> str:
    """Where stream parts of an output example go: its stream_uri, else ``<batch stem>_stream/``
    beside its batch file (the batch file itself is never appended to)."""
    if stream_uri:
        return stream_uri.rstrip("/")
    assert batch_uri is not None
    base = batch_uri.rstrip("/")
    parent, _, name = base.rpartition("/")
    stem = name.split(".", 1)[0] if "." in name else name
    return f"{parent}/{stem}_stream"


def batch_id_of(file_uri: str) -> str:
    """A micro-batch is named after its input file (minus a data extension), so every output
    part it leads to has a name derived from it, across jobs and restarts."""
    name = PurePosixPath(file_uri).name
    for ext in (*EXTENSIONS.values(), ".json", ".ndjson"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name
