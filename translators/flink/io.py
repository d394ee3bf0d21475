"""Flink-engine sources and sinks: examples (files) and materialized intermediates.

Example files are read as raw lines (with each line's file path) and parsed by a Python
function that applies the example's schema by the local engine's rules, so both engines accept
and reject the same records. Bad records follow the example's ``on_error`` policy: ``fail``
stops the job naming the file and record; ``skip`` and ``dead_letter`` route them, with the
error, to a dead-letter directory (the execution's, or the example's ``dead_letter_uri``) and
count them in the job result — never dropped unseen.

Intermediates are read as json lines, typed by the plan's schema or, for outputs no node
declares, by the schema their writer recorded beside them (``io.write_schema``). Writing
examples and intermediates: ``outputs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiflow.errors import InvalidPlan
from aiflow.plan.model import ExampleSpec, NodeKind
from aiflow.translators import io
from aiflow.translators.engine import register_operator
from aiflow.translators.flink import kafka_io
from aiflow.translators.flink.engine import (
    ENGINE,
    FlinkOperator,
    file_url,
    quote,
    row_type,
    row_udf_query,
    sql_columns,
    sql_string,
)
from aiflow.translators.flink.settings import flink_settings

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.translators.flink.text_udfs import ParseFunction

SAMPLE_ROWS = 100
_SUPPORTED_FORMATS = ("csv", "json")


class ExampleNode(FlinkOperator):
    @property
    def example(self) -> ExampleSpec:
        assert self.node.example is not None
        return self.node.example

    def uri(self) -> str:
        ex = self.example
        uri = ex.stream_uri if self.ctx.mode == "stream" and ex.stream_uri else ex.batch_uri
        if uri is None:
            raise InvalidPlan(f"example '{ex.name}' has no {self.ctx.mode} uri", self.node.id)
        return self.ctx.resolve_uri(uri)

    def columns(self) -> dict[str, str]:
        if not self.example.columns:
            raise InvalidPlan(
                f"the flink engine needs the schema of example '{self.example.name}' "
                "(af.Example(..., schema={...}))",
                self.node.id,
            )
        return self.example.columns

    def monitor(self) -> str:
        """Stream sources watch their directory for new files."""
        if self.ctx.mode != "stream":
            return ""
        props = self.node.props("stream")
        interval = float(props.get("poll_interval", self.ctx.settings.stream.poll_interval))
        return f", 'source.monitor-interval' = '{max(round(interval * 1000), 100)} ms'"


@register_operator(NodeKind.READ_EXAMPLE, ENGINE)
class ReadExample(ExampleNode):
    """Raw lines -> the parse function -> the records that fit (a barrier between, see
    ``FlinkJob.rows_where``), bad ones to the dead letters by the example's policy.

    A batch read of one file reads its lines only: the parse function knows the file, so the
    JVM does not carry its path beside every line (about a third of the bytes it hands over).

    ``fusable``: the parse function and the raw lines' view, left for a text writer that takes
    the parse into its own function (``outputs.WriteExample``) when nothing here needs Flink to
    carry the parsed records: policy ``fail`` (no dead-letter sink) and no ``limit``."""

    properties = frozenset({"limit", "poll_interval"})
    fusable: tuple[ParseFunction, str] | None = None

    def build(self, inputs: list[str]) -> None:
        from pyflink.table.udf import udf

        from aiflow.translators.flink.text_udfs import ERROR, LINE, STATUS, ParseFunction

        node, job, columns = self.node.id, self.job, self.columns()
        fmt = self.example.format
        if fmt not in _SUPPORTED_FORMATS:
            raise InvalidPlan(
                f"the flink engine reads {', '.join(_SUPPORTED_FORMATS)} examples, not {fmt}",
                node,
            )
        lines, uri = f"{node}__lines", self.uri()
        file = None
        if kafka_io.is_kafka(uri):
            query = kafka_io.create_source(self, f"{node}__source", uri)
            job.t_env.create_temporary_view(quote(lines), job.t_env.sql_query(query))
        else:
            file = self._one_file(uri)
            job.t_env.execute_sql(raw_files_ddl(lines, uri, self.monitor(), path=file is None))
        policy = str(self.example.options.get("on_error", "fail"))
        parsed_type = {**columns, STATUS: "int", ERROR: "string", LINE: "bigint"}
        parse = f"{node}__parse"
        function = ParseFunction(node, fmt, columns, policy, file)
        job.t_env.create_temporary_function(
            quote(parse),
            udf(function, result_type=row_type(parsed_type, node), func_type="pandas"),
        )
        args = function.in_columns
        parsed = job.t_env.sql_query(row_udf_query(parse, args, parsed_type, lines, keep=args))
        job.t_env.create_temporary_view(quote(f"{node}__parsed"), parsed)
        good = job.rows_where(f"{node}__parsed", columns, f"s.{quote(STATUS)} = 0")
        limit = self.node.props(self.ctx.mode).get("limit")
        if limit is not None and self.bounded():
            # After parsing: the limit counts records that fit, as on the local engine. The
            # barrier above keeps Flink from pushing it into the source, where it would count
            # lines (the header and bad records too).
            good = good.limit(int(limit))
        elif policy == "fail":
            self.fusable = (function, lines)
        job.output(node, good, columns)
        if policy != "fail":
            path = "`path`" if file is None else sql_string(file)
            self._dead_letters(quote(node + "__parsed"), path)

    def _one_file(self, uri: str) -> str | None:
        """The file a batch read reads, as Flink names it, when ``uri`` is one; else None."""
        path = uri.removeprefix("file://")
        if self.ctx.mode != "batch" or "://" in path:
            return None  # a stream's directory; a remote store, whose names Flink may render
        return f"file:{path}" if Path(path).is_file() else None

    def bounded(self) -> bool:
        """Whether this read is of the example's batch view (a limit applies to it only)."""
        return self.ctx.mode == "batch" or not self.example.stream_uri

    def _dead_letters(self, parsed: str, path: str) -> None:
        from aiflow.translators.flink.text_udfs import ERROR, LINE, STATUS

        node, job = self.node.id, self.job
        sink = f"{node}__dead_letter"
        chosen = self.example.options.get("dead_letter_uri")
        # the fields of io.BadRecord.entry, as the local engine writes them
        fields = {"path": "string", "line": "bigint", "record": "string", "error": "string"}
        if kafka_io.is_kafka(chosen):
            target = str(chosen)
            kafka_io.create_sink(self, sink, fields, target, "json")
        else:
            target = self.ctx.dead_letter_dir(self.node)
            json_sink(self, sink, fields, target)
        job.insert(
            sink,
            job.t_env.sql_query(
                f"SELECT {path} AS `path`, {quote(LINE)} AS `line`, `line` AS `record`, "
                f"{quote(ERROR)} AS `error` FROM {parsed} WHERE {quote(STATUS)} = 2"
            ),
            files=not kafka_io.is_kafka(target),
        )

        if not kafka_io.is_kafka(target):

            def count() -> None:
                n = io.count_lines(target)
                self.ctx.result.dead_letters[node] = {"count": n, "uri": target}

            job.finalizers.append(count)

    def sample(self) -> pd.DataFrame | None:
        """The first rows of the example's batch view (in stream mode too: it holds the same
        records), read by the local engine's reader."""
        ex = self.example
        for uri in (ex.batch_uri, ex.stream_uri):
            if not uri or ("://" in uri and not uri.startswith("file://")):
                continue
            try:
                files = io.list_data_files(self.ctx.resolve_uri(uri))
            except Exception:
                continue
            for file in files:
                if ex.columns and ex.options.get("on_error", "fail") != "fail":
                    # bad records go to the dead letters, not into the sample
                    frame = io.read_example_lenient(file, ex.format, ex.columns)[0]
                    frame = frame.head(SAMPLE_ROWS)
                else:
                    frame = io.read_example_file(file, ex.format, ex.columns, rows=SAMPLE_ROWS)
                if len(frame):
                    return frame
        return None


@register_operator(NodeKind.READ_INTERMEDIATE, ENGINE)
class ReadIntermediate(ExampleNode):
    """Reads what an upstream job materialized, typed by the plan's schema or else by the one
    the writer recorded beside the data (a transformer without ``output_schema``)."""

    _recorded: dict[str, str] | None = None

    def columns(self) -> dict[str, str]:
        if self.example.columns:
            return self.example.columns
        if self._recorded is None:
            self._recorded = self._recorded_schema()
        return self._recorded

    def _recorded_schema(self) -> dict[str, str]:
        """The writer's ``_schema.json``. A stream job waits for it: the upstream job records
        it with its first records, and nothing can be read before those exist anyway."""
        from aiflow.translators.flink.engine import Stopped

        directory = self.uri()
        while True:
            columns = io.read_schema(directory)
            if columns:
                return columns
            if self.ctx.mode != "stream":
                producer = self.example.name.removeprefix("intermediate:").rsplit(".", 1)[0]
                raise InvalidPlan(
                    f"the output of node '{producer}' has no recorded schema in {directory} "
                    "(written by an older aiflow?); run the workflow again, or declare the "
                    "node's output_schema",
                    self.node.id,
                )
            if self.ctx.stop.wait(self.ctx.settings.stream.poll_interval):
                raise Stopped

    def build(self, inputs: list[str]) -> None:
        node, columns = self.node.id, self.columns()
        self.job.t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {quote(node + '__files')} ({sql_columns(columns, node)}) "
            f"WITH ({files_with(self.uri(), 'json')}{self.monitor()})"
        )
        self.job.output(node, self.job.t_env.from_path(quote(node + "__files")), columns)

    def sample(self) -> pd.DataFrame | None:
        """The upstream job's first records. A stream job waits for them: its output cannot
        start before they exist anyway, and only they tell an undeclared output's types."""
        from aiflow.translators.flink.engine import Stopped

        directory = self.uri()
        while True:
            files = io.data_files_if_any(directory)
            for file in files:
                frame = io.read_example_file(
                    file, self.example.format, self.columns(), rows=SAMPLE_ROWS
                )
                if len(frame):
                    return frame
            if self.ctx.mode != "stream":
                return None
            if self.ctx.stop.wait(self.ctx.settings.stream.poll_interval):
                raise Stopped


def json_sink(operator: FlinkOperator, name: str, columns: dict[str, str], path: str) -> None:
    ddl = json_files_ddl(name, columns, operator.node.id, path, rolling(operator))
    operator.job.t_env.execute_sql(ddl)


def raw_files_ddl(table: str, uri: str, options: str = "", *, path: bool = True) -> str:
    """A source table of the lines of the files under ``uri``, with their file's path if
    ``path`` (``options``: more ``WITH`` entries, each with its leading comma)."""
    column = ", `path` STRING NOT NULL METADATA FROM 'file.path'" if path else ""
    return (
        f"CREATE TEMPORARY TABLE {quote(table)} (`line` STRING{column}) "
        f"WITH ({files_with(uri, 'raw')}{options})"
    )


def json_files_ddl(
    table: str, columns: dict[str, str], node: str, path: str, options: str = ""
) -> str:
    """A sink table of json lines files under ``path`` (``options`` as for ``raw_files_ddl``)."""
    return (
        f"CREATE TEMPORARY TABLE {quote(table)} ({sql_columns(columns, node)}) "
        f"WITH ({files_with(path, 'json')}{options})"
    )


def text_files_ddl(table: str, column: str, path: str, options: str = "") -> str:
    """A sink table of text files under ``path``: each row's ``column`` and a newline."""
    return (
        f"CREATE TEMPORARY TABLE {quote(table)} ({quote(column)} STRING) "
        f"WITH ({files_with(path, 'raw')}{options})"
    )


def files_with(path: str, fmt: str) -> str:
    """The ``WITH`` entries of a filesystem table of ``fmt`` under ``path`` (a literal: a
    quote in a path is part of its name)."""
    return f"'connector' = 'filesystem', 'path' = {sql_string(file_url(path))}, 'format' = '{fmt}'"


def rolling(operator: FlinkOperator, *, part_per_row: bool = False) -> str:
    """When a stream sink's part file rolls; it is committed, visible, at the first checkpoint
    after that. Row formats roll by size or time only (by default after 30 minutes), and a
    stream job that writes files ends its Python bundles at checkpoints
    (``tableenv.stream_job_options``), so its rows reach a sink in a burst each checkpoint:

    * ``part_per_row`` (a text sink: a row is a bundle's text): any size rolls a part, before
      the next row or at the checkpoint the row precedes; a part a checkpoint, committed by
      that checkpoint: records are visible about half an interval after they arrive;
    * else (a row a record): the part rolls once idle for half an interval (a burst is
      over), in time for the next checkpoint: about one and a half intervals."""
    if operator.ctx.mode != "stream":
        return ""
    if part_per_row:
        return ", 'sink.rolling-policy.file-size' = '1b'"
    ms = max(round(flink_settings(operator.ctx.settings).checkpoint_interval * 1000), 100)
    idle = ms // 2
    return (
        f", 'sink.rolling-policy.rollover-interval' = '{ms} ms'"
        f", 'sink.rolling-policy.inactivity-interval' = '{idle} ms'"
        f", 'sink.rolling-policy.check-interval' = '{min(idle // 2, 1000)} ms'"
    )
