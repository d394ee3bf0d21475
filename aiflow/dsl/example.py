"""``Example`` (a dataset with a batch view and a stream view) and ``Model`` (a registry name).

Relative URIs are resolved against the directory of the file that constructs the Example, not
the current directory: ``aiflow run examples/wine/workflow.py`` from anywhere reads the same
data, and the plan records absolute locations a job on another host can be pointed at. A
workflow submitted to a server resolves them the same way: against the directory it was
submitted from, not the server's unpacked copy of its code (``paths_relative_to``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiflow.errors import InvalidInput, InvalidPlan
from aiflow.plan.model import ExampleSpec
from aiflow.plan.schema import normalize_columns
from aiflow.schemas.limits import NameKind, check_name

FORMATS = ("csv", "json", "parquet")
ON_ERROR = ("fail", "skip", "dead_letter")
_FORMAT_ALIASES = {
    "csv": "csv",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
    "parquet": "parquet",
}


# (unpacked, submitted_from) while the server's planner imports a submitted workflow.
_relocation: tuple[Path, Path] | None = None


@contextmanager
def paths_relative_to(unpacked: Path, submitted_from: Path) -> Iterator[None]:
    """Resolve relative paths written in files under ``unpacked`` as if those files were
    under ``submitted_from``. The server's planner imports a submitted workflow from its
    unpacked snapshot, which holds code only; its data is where the submitter's local run
    would look for it, next to the file on the submitting host."""
    global _relocation
    previous, _relocation = _relocation, (unpacked.resolve(), submitted_from)
    try:
        yield
    finally:
        _relocation = previous


def checked_name(kind: NameKind, name: object) -> str:
    """``name`` if it follows the name rule of the meta store, the API and the CLI
    (``aiflow.schemas.limits.check_name``), else ``InvalidPlan`` at the line that declares
    it, before anything is written."""
    try:
        return check_name(kind, name)
    except InvalidInput as exc:
        raise InvalidPlan(exc.message) from None


def _caller_dir(depth: int = 2) -> Path:
    frame = sys._getframe(depth)
    file = frame.f_globals.get("__file__")
    directory = Path(file).resolve().parent if file else Path.cwd()
    if _relocation is not None and directory.is_relative_to(_relocation[0]):
        return _relocation[1] / directory.relative_to(_relocation[0])
    return directory


def resolve_uri(uri: str | os.PathLike[str] | None, base: Path) -> str | None:
    """Absolute local path for a relative one; URIs with a scheme (s3://, kafka://) untouched.
    A trailing slash is kept: it marks a directory."""
    if uri is None:
        return None
    text = os.fspath(uri)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    resolved = str(path if path.is_absolute() else (base / path).resolve())
    return (
        resolved + "/" if text.endswith(("/", os.sep)) and not resolved.endswith("/") else resolved
    )


class Example:
    """A named dataset with a batch view (``batch_uri``: a file or a directory of files) and a
    stream view (``stream_uri``: a directory watched for new files), of the same records.

    ``on_error`` says what reading does with a record that does not fit the schema: ``fail``
    (default) stops the job naming the file and record; ``skip`` and ``dead_letter`` keep
    going and keep the record with its error — in the execution's directory, or under
    ``dead_letter_uri`` — and count it in the job's result. A record is never dropped unseen."""

    def __init__(
        self,
        name: str,
        schema: dict[str, str] | None = None,
        batch_uri: str | os.PathLike[str] | None = None,
        stream_uri: str | os.PathLike[str] | None = None,
        format: str = "csv",
        on_error: str = "fail",
        dead_letter_uri: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        checked_name("example", name)
        if on_error not in ON_ERROR:
            raise ValueError(
                f"example '{name}': on_error={on_error!r} (valid: {', '.join(ON_ERROR)})"
            )
        if dead_letter_uri is not None and on_error != "dead_letter":
            raise ValueError(f"example '{name}': dead_letter_uri needs on_error='dead_letter'")
        # Only non-defaults go into the plan, so existing workflows keep their plan hash.
        if on_error != "fail":
            options["on_error"] = on_error
        fmt = _FORMAT_ALIASES.get(str(format).lower())
        if fmt is None:
            raise ValueError(
                f"example '{name}': unknown format {format!r} (valid: {', '.join(FORMATS)})"
            )
        try:
            columns = normalize_columns(schema) if schema is not None else None
        except ValueError as exc:
            raise ValueError(f"example '{name}': {exc}") from None
        for uri in (batch_uri, stream_uri, dead_letter_uri):
            if str(uri or "").startswith("kafka://"):
                from aiflow.plan.kafka_uri import parse_kafka_uri

                try:
                    parse_kafka_uri(str(uri))
                except Exception as exc:
                    raise ValueError(f"example '{name}': {exc}") from None
        base = _caller_dir()
        if dead_letter_uri is not None:
            options["dead_letter_uri"] = resolve_uri(dead_letter_uri, base)
        self.spec = ExampleSpec(
            name=name,
            columns=columns,
            format=fmt,
            batch_uri=resolve_uri(batch_uri, base),
            stream_uri=resolve_uri(stream_uri, base),
            options=options,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"Example({self.spec.name!r}, format={self.spec.format!r})"


class Model:
    """A model in the registry, by name. ``af.train(..., model=af.Model("x"))`` registers new
    versions of it; passing it to ``af.predict``/``af.evaluate`` uses its serving version
    (alias ``deployed``, else the newest)."""

    def __init__(self, name: str, description: str | None = None) -> None:
        checked_name("model", name)
        self.name = name
        self.description = description

    def __repr__(self) -> str:
        return f"Model({self.name!r})"
