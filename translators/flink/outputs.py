"""Flink-engine sinks: output examples and materialized intermediates.

An output example in a text format (csv, json lines) is written by the Flink job itself, in
the local engine's text: a Python function formats each bundle's records with the local
writer (``text_udfs.FormatFunction``) and Flink's file sink writes that text as it is. The job
process only puts the header before it: a batch job's parts become one file after the job, a
stream job's committed parts become the example's part files while it runs. So a file has the
same name, header and bytes on both engines, and no record is parsed twice. Parquet is staged
as json lines and written by the job process with the local writer.

Intermediates are json lines for the next job, with their schema beside them.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from aiflow.errors import InvalidPlan
from aiflow.plan.model import NodeKind
from aiflow.translators import io
from aiflow.translators.engine import register_operator
from aiflow.translators.flink import kafka_io
from aiflow.translators.flink.engine import ENGINE, quote
from aiflow.translators.flink.io import (
    ExampleNode,
    json_sink,
    rolling,
    text_files_ddl,
)
from aiflow.translators.records import fsspec

if TYPE_CHECKING:
    from aiflow.translators.flink.text_udfs import ParseFunction
    from aiflow.translators.flink.udfs import UserFunction

TEXT_FORMATS = ("csv", "json")  # written by the Flink job; parquet by the job process
_CHUNK = 1 << 20
Turn = Callable[[list[str], str], int]  # staged parts -> the output file; records written


@register_operator(NodeKind.WRITE_INTERMEDIATE, ENGINE)
class WriteIntermediate(ExampleNode):
    """Json lines for the next job, and their schema beside them (``_schema.json``). A batch
    job records it after Flink is done (an overwriting sink owns the directory while it
    runs); a stream job before it starts, so readers find it with the first part."""

    def build(self, inputs: list[str]) -> None:
        node, job = self.node.id, self.job
        columns, directory = job.columns[inputs[0]], self.uri()
        json_sink(self, node, columns, directory)
        job.insert(node, job.tables[inputs[0]])
        if self.ctx.mode == "stream":
            io.write_schema(directory, columns)
        else:
            job.finalizers.append(lambda: io.write_schema(directory, columns))


@register_operator(NodeKind.WRITE_EXAMPLE, ENGINE)
class WriteExample(ExampleNode):
    """Batch: Flink writes staged parts, the job process one file from them after the job.
    Stream: Flink commits a staged part on each checkpoint and the job process turns it into
    ``<stream dir>/<part name><ext>`` while the job runs — staged parts never change and the
    output is named after them, so a part turned twice (after a restart) is rewritten, not
    duplicated: exactly-once on both sides."""

    def build(self, inputs: list[str]) -> None:
        node, job, fmt = self.node.id, self.job, self.example.format
        columns = job.columns[inputs[0]]
        if fmt not in (*TEXT_FORMATS, "parquet"):
            raise InvalidPlan(f"cannot write format {fmt}", node)
        uri = self.example.stream_uri if self.ctx.mode == "stream" else self.example.batch_uri
        if kafka_io.is_kafka(uri):
            assert uri is not None
            kafka_io.create_sink(self, node, columns, uri, fmt)
            job.insert(node, job.tables[inputs[0]], files=False)
            self.ctx.result.outputs[node] = uri
            return
        if self.ctx.mode == "stream":
            staging = str(job.state_dir / "staging" / node)
        else:
            staging = f"{self.ctx.execution_dir}/flink/{self.ctx.spec.name}/{node}"
        if fmt in TEXT_FORMATS:
            self._text_sink(inputs[0], columns, staging)
            head = _header(fmt, list(self.example.columns or columns))
            turn: Turn = lambda parts, out: _join(parts, out, head, fmt)  # noqa: E731
        else:
            json_sink(self, node, columns, staging)
            job.insert(node, job.tables[inputs[0]])
            turn = lambda parts, out: self._rewrite(parts, out, columns)  # noqa: E731
        if self.ctx.mode == "stream":
            job.tickers.append(_Committer(self, staging, turn))
        else:
            job.finalizers.append(lambda: self._write_batch(staging, turn))

    def _text_sink(self, source: str, columns: dict[str, str], staging: str) -> None:
        from pyflink.table import DataTypes
        from pyflink.table.udf import udf

        from aiflow.translators.flink.text_udfs import TEXT, FormatFunction

        node, job = self.node.id, self.job
        upstream, names, source = self._chain(source)
        parse, source = self._parse(source)
        if parse is not None:
            names.insert(0, f"{parse.node}__parse")
        function = "+".join([*names, f"{node}__format"])  # what Flink's plan shows
        formats = FormatFunction(
            node, columns, self.example.columns or None, self.example.format, upstream, parse
        )
        job.t_env.create_temporary_function(
            quote(function), udf(formats, result_type=DataTypes.STRING(), func_type="pandas")
        )
        job.t_env.execute_sql(text_files_ddl(node, TEXT, staging, rolling(self, part_per_row=True)))
        args = ", ".join(quote(c) for c in formats.in_columns)
        texts = f"{node}__texts"
        query = f"SELECT {quote(function)}({args}) AS {quote(TEXT)} FROM {quote(source)}"
        job.t_env.create_temporary_view(quote(texts), job.t_env.sql_query(query))
        # not a WHERE: the planner would push it below the inputs' barrier, a second copy of
        # every function with it (see FlinkJob.rows_where)
        job.insert(node, job.rows_where(texts, {TEXT: "string"}, f"s.{quote(TEXT)} IS NOT NULL"))

    def _chain(self, source: str) -> tuple[list[UserFunction], list[str], str]:
        """The transforms and predicts right before this writer that feed nothing else (their
        functions, in order, and their nodes), and the table the first of them reads."""
        from aiflow.translators.flink.ml import UserNode

        functions: list[UserFunction] = []
        names: list[str] = []
        while True:
            operator = self.job.operators.get(source)
            consumers = [e for e in self.job.spec.edges if e.source.node == source]
            if not isinstance(operator, UserNode) or operator.built is None or len(consumers) != 1:
                return functions, names, source
            function, upstream = operator.built
            functions.insert(0, function)
            names.insert(0, source)
            source = upstream

    def _parse(self, source: str) -> tuple[ParseFunction | None, str]:
        """The parse function of the read example ``source`` and the raw lines it reads, when
        it can run in this writer's function too (``ReadExample.fusable``) and the read feeds
        nothing else; else (None, ``source``).

        Then the records cross between the JVM and Python once each way, as lines and as
        text: the parsed records no longer go back to the JVM only to pass the barrier and
        come again into this function, ~14 typed columns each way (half the job's time in
        the 1M-row benchmark)."""
        from aiflow.translators.flink.io import ReadExample

        operator = self.job.operators.get(source)
        consumers = [e for e in self.job.spec.edges if e.source.node == source]
        if not isinstance(operator, ReadExample) or operator.fusable is None or len(consumers) != 1:
            return None, source
        return operator.fusable

    def _rewrite(self, parts: list[str], out: str, columns: dict[str, str]) -> int:
        """Staged json lines -> ``out`` in the example's format by the local writer."""
        frame = io.read_example_files(parts, "json", columns)
        if self.example.columns:
            where = f"node '{self.node.id}' output"
            frame = io.apply_schema(frame, self.example.columns, where)
        io.write_frame(frame, out, self.example.format)
        return len(frame)

    def _write_batch(self, staging: str, turn: Turn) -> None:
        example = self.example
        parts = io.data_files_if_any(staging)  # on storage.root: maybe HDFS
        target = io.batch_target(
            self.ctx.resolve_uri(example.batch_uri or f"{example.stream_uri}/"), example.format
        )
        rows = turn(parts, target)
        self.ctx.result.outputs[self.node.id] = target
        self.ctx.result.count(self.node.id, "in", rows)


class _Committer:
    """Turns committed staged parts of a stream sink into the example's part files, then
    deletes them: the staging directory holds only parts not yet turned, so a long-running
    job does not keep a second copy of its output or list a directory that only grows.

    A restore commits its checkpoint's parts again; Flink's local committer skips a part whose
    staged and final files are both gone (``LocalCommitter.commitAfterRecovery``), and a
    part still staged is turned only if its output does not exist yet."""

    def __init__(self, writer: WriteExample, staging: str, turn: Turn) -> None:
        example, ctx = writer.example, writer.ctx
        self.writer, self.staging, self.turn = writer, staging, turn
        self.target = io.stream_dir(
            example.stream_uri and ctx.resolve_uri(example.stream_uri),
            example.batch_uri and ctx.resolve_uri(example.batch_uri),
        )
        self.ext = io.EXTENSIONS[example.format]
        self.done: set[str] = set()

    def __call__(self) -> None:
        if not os.path.isdir(self.staging):
            return
        ctx, node = self.writer.ctx, self.writer.node.id
        fresh = [f for f in io.list_data_files(self.staging) if f not in self.done]
        for file in sorted(fresh, key=lambda f: (os.stat(f).st_mtime, f)):
            out = f"{self.target}/{os.path.basename(file)}{self.ext}"
            self.done.add(file)
            # not when turned before a restart (writes are atomic: it is whole), or empty
            if not os.path.exists(out) and os.path.getsize(file):
                ctx.result.count(node, "in", self.turn([file], out))
                ctx.result.outputs[node] = self.target
            with contextlib.suppress(OSError):  # left (and remembered) if it cannot go
                os.remove(file)
                self.done.discard(file)
        if fresh:
            ctx.result.batches += len(fresh)
            ctx.publish()


def _header(fmt: str, names: list[str]) -> bytes:
    from aiflow.translators.csv_writer import header_line

    return header_line(names) if fmt == "csv" else b""


def _join(parts: list[str], out: str, head: bytes, fmt: str) -> int:
    """``head`` and the staged text ``parts`` after it, in order, written atomically to ``out``;
    the records written. Csv records are newlines unless a quote may hold one: such a part is
    counted by the csv module."""
    rows = 0

    def write(target: IO[bytes]) -> None:
        nonlocal rows
        target.write(head)
        for part in parts:
            lines, quoted = 0, False
            with fsspec().open(part, "rb") as f:
                while chunk := f.read(_CHUNK):
                    target.write(chunk)
                    lines += chunk.count(b"\n")
                    quoted |= fmt == "csv" and b'"' in chunk
            rows += _csv_records(part) if quoted else lines

    io.write_atomic(out, write)
    return rows


def _csv_records(part: str) -> int:
    with fsspec().open(part, "rt", encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f))
