"""Reading and writing example data (csv, json lines, parquet) with the example's schema.

Reads are strict: a value that does not fit its declared column type is an error naming the
file, the row and the column — records are never dropped or silently turned into NaN. Writes
are atomic (temporary name, then rename), which is what makes stream outputs exactly-once:
a replayed micro-batch overwrites the same part file instead of adding a second copy.

Paths go through fsspec so ``s3://`` or ``hdfs://`` locations need no code here.
"""

from __future__ import annotations

import os
import uuid
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd

from aiflow.errors import InvalidInput

EXTENSIONS = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}
_IGNORED_PREFIXES = (".", "_")
_IGNORED_SUFFIXES = (".tmp", ".crc", ".inprogress", ".partial")


def is_data_file(name: str) -> bool:
    """Hidden, underscore and temporary files are in-flight or bookkeeping, never records."""
    return not name.startswith(_IGNORED_PREFIXES) and not name.endswith(_IGNORED_SUFFIXES)


def list_data_files(uri: str) -> list[str]:
    """Data files of a directory URI (or the URI itself if it is a file), sorted by name."""
    fs, path = fsspec.core.url_to_fs(uri)
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


def _unstrip(uri: str, path: str, fs: Any) -> str:
    return fs.unstrip_protocol(path) if "://" in uri else path


def read_example_file(
    uri: str, fmt: str, columns: dict[str, str] | None, rows: int | None = None
) -> pd.DataFrame:
    """One data file (its first ``rows`` records, if given) with the example's schema applied."""
    try:
        with fsspec.open(uri, "rb") as f:
            if fmt == "csv":
                # Read as text and convert ourselves: pandas' own inference would turn a bad
                # number into NaN or a whole column into object without saying where.
                frame = pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""], nrows=rows)
            elif fmt == "json":
                # precise_float: the default parser rounds the last digits of doubles
                frame = pd.read_json(f, lines=True, dtype=False, precise_float=True, nrows=rows)
            elif fmt == "parquet":
                frame = pd.read_parquet(f)
                frame = frame if rows is None else frame.head(rows)
            else:
                raise InvalidInput(f"{uri}: unsupported format {fmt!r}")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(f"{uri}: cannot be read as {fmt}: {exc}") from exc
    return apply_schema(frame, columns, uri) if columns else frame


def read_example_uri(uri: str, fmt: str, columns: dict[str, str] | None) -> pd.DataFrame:
    """A file, or all data files of a directory concatenated (in name order)."""
    files = list_data_files(uri)
    frames = [read_example_file(f, fmt, columns) for f in files]
    if not frames:
        return empty_frame(columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def empty_frame(columns: dict[str, str] | None) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame()
    return apply_schema(
        pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}), columns, ""
    )


def apply_schema(frame: pd.DataFrame, columns: dict[str, str], where: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{where}: missing column(s) {missing} of the example's schema "
            f"(found {list(frame.columns)})"
        )
    out = {}
    for column, type_name in columns.items():
        out[column] = _convert(frame[column], type_name, column, where)
    return pd.DataFrame(out, index=frame.index)


def apply_schema_lenient(
    frame: pd.DataFrame, columns: dict[str, str]
) -> tuple[pd.DataFrame, dict[int, str]]:
    """``apply_schema`` that keeps going: the converted good rows, and the bad rows' positions
    with what is wrong with each. All rows are converted at once; only when that fails are
    they converted one by one to find the bad ones (clean data pays nothing extra)."""
    try:
        return apply_schema(frame, columns, "record"), {}
    except InvalidInput:
        pass
    good, bad = [], {}
    for position in range(len(frame)):
        row = frame.iloc[[position]]
        try:
            good.append(apply_schema(row, columns, "record"))
        except InvalidInput as exc:
            bad[position] = exc.message.removeprefix("record: row 1, ")
    if not good:
        return apply_schema(frame.iloc[:0], columns, ""), bad
    return pd.concat(good), bad


def _convert(values: pd.Series, type_name: str, column: str, where: str) -> pd.Series:
    present = values.notna()
    if type_name in ("double", "float", "int", "bigint"):
        converted = pd.to_numeric(values, errors="coerce")
        bad = present & converted.isna()
        if type_name in ("int", "bigint"):
            bad |= present & converted.notna() & (converted % 1 != 0)
        _raise_bad(values, bad, type_name, column, where)
        if type_name in ("int", "bigint"):
            return converted.astype("int64" if not (~present).any() else "Int64")
        return converted.astype("float32" if type_name == "float" else "float64")
    if type_name == "bool":
        text = values.astype(str).str.strip().str.lower()
        mapped = text.map({"true": True, "false": False, "1": True, "0": False})
        _raise_bad(values, present & mapped.isna(), type_name, column, where)
        return mapped.astype("bool" if not (~present).any() else "boolean")
    if type_name == "timestamp":
        converted = pd.to_datetime(values, errors="coerce", utc=True)
        _raise_bad(values, present & converted.isna(), type_name, column, where)
        return converted
    return values.astype("string") if (~present).any() else values.astype(str)


def _raise_bad(values: pd.Series, bad: pd.Series, type_name: str, column: str, where: str) -> None:
    if bad.any():
        position = int(bad.to_numpy().argmax())  # rows count from 1, after the header
        raise InvalidInput(
            f"{where}: row {position + 1}, column '{column}': {values.iloc[position]!r} is not a "
            f"{type_name} ({int(bad.sum())} bad value(s) in this column)"
        )


def write_frame(frame: pd.DataFrame, uri: str, fmt: str) -> str:
    """Write atomically: readers (and stream consumers) see the whole file or nothing."""
    fs, path = fsspec.core.url_to_fs(uri)
    parent = fs._parent(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{PurePosixPath(path).name}.{uuid.uuid4().hex[:8]}.tmp"
    with fs.open(tmp, "wb") as out:
        if fmt == "csv":
            frame.to_csv(out, index=False)
        elif fmt == "json":
            # 15 digits, pandas' maximum (default 10 would round what another engine reads back)
            frame.to_json(out, orient="records", lines=True, date_format="iso", double_precision=15)
        elif fmt == "parquet":
            frame.to_parquet(out, index=False)
        else:
            raise InvalidInput(f"{uri}: unsupported format {fmt!r}")
    if "://" in uri:
        fs.mv(tmp, path)
    else:
        os.replace(tmp, path)  # atomic on POSIX, also over an existing file
    return uri


def batch_target(uri: str, fmt: str) -> str:
    """Where a batch write goes: the file itself, or ``part-00000`` inside a directory URI."""
    fs, path = fsspec.core.url_to_fs(uri)
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
