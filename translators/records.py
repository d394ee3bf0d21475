"""Splitting an example file into records: csv by its header, json lines one object a line,
parquet by rows — keeping where each record starts, so an error or a dead letter names the line.

A record of the wrong shape (a csv line with a field too many or too few, a json line that is
not an object or lacks a schema field) is set aside here as a bad record; whether its values
fit their types is ``io.apply_schema``'s question. Values stay as read (text for csv).

Not here: types, policies, listing and writing files (``io``).
"""

from __future__ import annotations

import csv
import io as _io
import json
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from aiflow.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

_NEWLINE = re.compile(r"\r\n|\r|\n")  # what a text file in newline="" mode splits on


def fsspec() -> Any:
    """The fsspec module, with ``hdfs://`` over WebHDFS registered. fsspec and pandas are
    imported on first use here and in ``io``: a driver translates a plan with the engines'
    operators loaded but reads no data, and importing both would add ~0.5 s before a run's
    first job (jobs get them preloaded by their fork server)."""
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401

    return fsspec


@dataclass(frozen=True)
class BadRecord:
    """A record that does not fit the example: where it starts, its raw text, what is wrong."""

    line: int | None  # 1-based line of the file (None for parquet, which has no lines)
    record: str
    error: str

    def entry(self, path: str) -> dict[str, Any]:
        """Its dead-letter entry: the same fields on every engine."""
        return {"path": path, "line": self.line, "record": self.record, "error": self.error}


@dataclass
class Parsed:
    """A file split into records of the right shape (values still as read) and the others."""

    frame: pd.DataFrame
    spans: list[tuple[int, int]] | None  # first and last line of each frame row, when known
    bad: list[tuple[int, int, str]]  # (first line, last line, error) of ill-shaped records


def parse_file(uri: str, fmt: str, columns: dict[str, str] | None, rows: int | None) -> Parsed:
    """The file's records (the first ``rows`` of the right shape, if given); ``InvalidInput``
    naming the file when it cannot be read as ``fmt`` at all."""
    import pandas as pd

    try:
        with fsspec().open(uri, "rb") as f:
            if fmt == "csv":
                return _parse_csv(f, uri, columns, rows)
            if fmt == "json":
                return _parse_json(f, columns, rows)
            if fmt == "parquet":
                frame = pd.read_parquet(f)
                return Parsed(frame if rows is None else frame.head(rows), None, [])
            raise InvalidInput(f"{uri}: unsupported format {fmt!r}")
    except InvalidInput:
        raise
    except (ValueError, OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{uri}: cannot be read as {fmt}: {exc}") from exc


def _parse_csv(f: IO[bytes], uri: str, columns: dict[str, str] | None, rows: int | None) -> Parsed:
    """Records by the header's width (the csv module, not pandas: pandas fills a short row with
    nulls and fails the whole file on a long one, without saying which line). Values stay text,
    converted by ``apply_schema``: pandas' inference would turn a bad number into NaN."""
    import pandas as pd

    reader = csv.reader(_io.TextIOWrapper(f, encoding="utf-8-sig", newline=""))
    header: list[str] | None = None
    data: list[list[str]] = []
    spans: list[tuple[int, int]] = []
    bad: list[tuple[int, int, str]] = []
    last = 0
    for row in reader:
        first, last = last + 1, reader.line_num
        if len(row) <= 1 and not "".join(row).strip():
            continue  # a blank line, as on the flink engine
        if header is None:
            header = _unique(row)
            missing = [c for c in columns or () if c not in header]
            if missing:
                raise InvalidInput(
                    f"{uri}: missing column(s) {missing} of the example's schema (found {header})"
                )
        elif len(row) != len(header):
            bad.append((first, last, _field_count(len(row), len(header))))
        else:
            data.append(row)
            spans.append((first, last))
            if rows is not None and len(data) >= rows:
                break
    if header is None:  # an empty file: no records
        header = list(columns or ())
    frame = (
        pd.DataFrame(data, columns=header, dtype=object)
        if data
        else untyped({c: [] for c in header})
    )
    frame[frame == ""] = None  # an empty field is a null
    return Parsed(frame, spans, bad)


def _parse_json(f: IO[bytes], columns: dict[str, str] | None, rows: int | None) -> Parsed:
    """One JSON object per line; with a schema, a record lacking one of its fields is bad (an
    explicit null is a null), as on the flink engine."""
    import pandas as pd

    if not columns:  # nothing to check records against: pandas reads and types them
        content = f.read()
        if not content.strip():
            return Parsed(pd.DataFrame(), None, [])
        # precise_float: the default parser rounds the last digits of doubles
        frame = pd.read_json(
            _io.BytesIO(content), lines=True, dtype=False, precise_float=True, nrows=rows
        )
        return Parsed(frame, None, [])
    values: dict[str, list[Any]] = {c: [] for c in columns}
    spans: list[tuple[int, int]] = []
    bad: list[tuple[int, int, str]] = []
    for number, line in enumerate(_io.TextIOWrapper(f, encoding="utf-8-sig"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            bad.append((number, number, f"is not JSON: {exc}"))
            continue
        if not isinstance(record, dict):
            bad.append((number, number, "is not a JSON object"))
            continue
        missing = [c for c in values if c not in record]
        if missing:
            bad.append((number, number, f"lacks field(s) {missing}"))
            continue
        for column, kept in values.items():
            kept.append(record[column])
        spans.append((number, number))
        if rows is not None and len(spans) >= rows:
            break
    return Parsed(untyped(values), spans, bad)


def _field_count(found: int, expected: int) -> str:
    return f"has {found} field{'s' * (found != 1)}, the header has {expected}"


def untyped(values: dict[str, list[Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in values.items()})


def _unique(names: list[str]) -> list[str]:
    """Header names made unique the way pandas does (``x``, ``x.1``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def record_texts(uri: str, spans: list[tuple[int, int]]) -> list[str]:
    """The raw text of records by their line spans. Read again only when there are bad
    records: keeping every record's text while parsing would double the memory of a read."""
    with fsspec().open(uri, "rb") as f:
        lines = _NEWLINE.split(f.read().decode("utf-8-sig", errors="replace"))
    return ["\n".join(lines[first - 1 : last]) for first, last in spans]
