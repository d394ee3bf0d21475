"""Local-engine sources and sinks: examples and materialized intermediates.

A stream source watches a directory; each new data file is one micro-batch. Which files were
consumed is kept in the meta store's ledger (not in memory), so a restarted job resumes exactly
where it stopped and never reads a file twice.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from aiflow.errors import InvalidPlan
from aiflow.plan.model import ExampleSpec, Node, NodeKind
from aiflow.translators import io
from aiflow.translators.engine import register_operator
from aiflow.translators.local.engine import (
    ENGINE,
    BatchInfo,
    LocalOperator,
    LocalSource,
    MicroBatch,
)

if TYPE_CHECKING:
    import pandas as pd


def _reject_kafka(node: Node, mode: str) -> None:
    example = node.example
    uri = example and (example.stream_uri if mode == "stream" else example.batch_uri)
    if uri and uri.startswith("kafka://"):
        raise InvalidPlan(
            f"{uri}: the local engine reads and writes files; Kafka topics need the flink "
            "engine (engine='flink', or --engine flink)",
            node.id,
        )


@register_operator(NodeKind.READ_EXAMPLE, ENGINE)
class ReadExample(LocalSource):
    properties = frozenset({"limit", "poll_interval"})
    _cached: pd.DataFrame | None = None

    @classmethod
    def check(cls, node: Node, mode: str) -> None:
        _reject_kafka(node, mode)

    @property
    def example(self) -> ExampleSpec:
        assert self.node.example is not None
        return self.node.example

    @property
    def streaming(self) -> bool:
        return self.ctx.mode == "stream" and bool(self.example.stream_uri) and not self._holdout()

    def _holdout(self) -> bool:
        """Read only by validate nodes: a hold-out, always read whole from its batch view."""
        targets = {e.target for e in self.ctx.spec.edges if e.source.node == self.node.id}
        kinds = {n.kind for n in self.ctx.spec.nodes if n.id in targets}
        return bool(kinds) and kinds == {NodeKind.VALIDATE} and bool(self.example.batch_uri)

    def _uri(self) -> str:
        uri = self.example.stream_uri if self.streaming else self.example.batch_uri
        assert uri is not None, "checked by the translator"
        return self.ctx.resolve_uri(uri)

    def columns(self) -> dict[str, str] | None:
        return self.example.columns

    def read_file(self, file: str) -> pd.DataFrame:
        """One file's records. With ``on_error`` skip or dead_letter, records that do not fit
        the schema are kept aside (with their line, raw text and error) in a part named after
        the file — a replayed file rewrites the same part — and counted; the rest are
        returned."""
        example, columns = self.example, self.columns()
        policy = example.options.get("on_error", "fail")
        if policy == "fail" or not columns:
            return io.read_example_file(file, example.format, columns)
        typed, bad = io.read_example_lenient(file, example.format, columns)
        if bad:
            import pandas as pd

            directory = self.ctx.dead_letter_dir(self.node)
            frame = pd.DataFrame([record.entry(file) for record in bad])
            io.write_frame(frame, f"{directory}/part-{io.batch_id_of(file)}.jsonl", "json")
            slot = self.ctx.result.dead_letters.setdefault(
                self.node.id, {"count": 0, "uri": directory}
            )
            slot["count"] += len(bad)
        return typed

    def read_all(self) -> pd.DataFrame:
        # In a stream job a bounded source is a side input: read once, reuse every batch.
        if self._cached is None:
            files = io.list_data_files(self._uri())
            frames = [self.read_file(f) for f in files]
            if not frames:
                frame = io.empty_frame(self.columns())
            else:
                import pandas as pd

                frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            limit = self.node.props(self.ctx.mode).get("limit")
            frame = frame.head(int(limit)) if limit is not None else frame
            if self.ctx.mode != "stream":
                return frame  # one pass: kept by its consumers only, as long as they need it
            self._cached = frame
        return self._cached

    def chunks(self, rows: int) -> Generator[pd.DataFrame, None, None] | None:
        """A batch job's input about ``rows`` records at a time (``chunks.py``), indexed as
        ``read_all`` indexes them; None where it is read whole: json or parquet, no schema, a
        ``limit`` (a bad record after it fails the job), or a policy other than ``fail`` (dead
        letters are kept file by file). ``arrow_io.NotVouched`` where only the whole file's
        exact read answers."""
        example, columns = self.example, self.columns()
        if (
            self.ctx.mode != "batch"
            or example.format != "csv"
            or not columns
            or example.options.get("on_error", "fail") != "fail"
            or self.node.props("batch").get("limit") is not None
        ):
            return None
        return self._chunks(io.list_data_files(self._uri()), columns, rows)

    @staticmethod
    def _chunks(
        files: list[str], columns: dict[str, str], rows: int
    ) -> Generator[pd.DataFrame, None, None]:
        import pandas as pd

        start = 0
        for file in files:
            for frame in io.read_example_chunks(file, columns, rows):
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame

    def _list(self, directory: str) -> list[str]:
        return io.list_data_files(directory)

    def micro_batches(self) -> Iterator[MicroBatch]:
        directory = self._uri()
        consumer = self.ctx.stream_consumer(self.node)
        props = self.node.props("stream")
        poll = float(props.get("poll_interval", self.ctx.settings.stream.poll_interval))
        done = self.ctx.store.consumed_files(consumer)
        # what this process handed out, committed or not: a micro-batch a training window still
        # holds is uncommitted but must not come again (it does after a restart: a replay)
        handed_out: set[str] = set()
        while not self.ctx.stop.is_set():
            fresh = [
                f
                for f in self._list(directory)
                if _key(f) not in done and _key(f) not in handed_out
            ]
            fresh.sort(key=lambda f: (_mtime(f), f))
            for file in fresh:
                if self.ctx.stop.is_set():
                    return
                frame = self.read_file(file)
                key = _key(file)

                def commit(key: str = key) -> None:
                    self.ctx.store.mark_consumed(consumer, key)
                    done.add(key)

                handed_out.add(key)
                yield MicroBatch(id=io.batch_id_of(file), frame=frame, commit=commit)
            if not fresh:
                self.ctx.stop.wait(poll)


@register_operator(NodeKind.READ_INTERMEDIATE, ENGINE)
class ReadIntermediate(ReadExample):
    """Reads what an upstream job materialized; in stream mode it follows the part files
    (the directory appears with the upstream's first micro-batch). Without a declared schema
    it applies the one the writer recorded (``_schema.json``), except to parquet, which
    carries its own."""

    properties = frozenset()
    _recorded: dict[str, str] | None = None

    def columns(self) -> dict[str, str] | None:
        example = self.example
        if example.columns or example.format == "parquet":
            return example.columns
        if self._recorded is None:
            self._recorded = io.read_schema(self._uri())
        return self._recorded

    def _list(self, directory: str) -> list[str]:
        return io.data_files_if_any(directory)

    def read_all(self) -> pd.DataFrame:
        if self._cached is None:
            fmt = self.example.format
            files = self._list(self._uri())
            frames = [io.read_example_file(f, fmt, self.columns()) for f in files]
            if not frames:
                frame = io.empty_frame(self.columns())
            else:
                import pandas as pd

                frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            if self.ctx.mode != "stream":
                return frame  # one pass: kept by its consumers only, as long as they need it
            self._cached = frame
        return self._cached


@register_operator(NodeKind.WRITE_EXAMPLE, ENGINE)
class WriteExample(LocalOperator):
    @classmethod
    def check(cls, node: Node, mode: str) -> None:
        _reject_kafka(node, mode)

    @property
    def example(self) -> ExampleSpec:
        assert self.node.example is not None
        return self.node.example

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        io.write_frame(self.prepared(inputs[0]), self.target(batch), self.example.format)
        return None

    def prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` as it is written: projected to the example's schema and converted."""
        if self.example.columns:
            return io.apply_schema(frame, self.example.columns, f"node '{self.node.id}' output")
        return frame

    def target(self, batch: BatchInfo) -> str:
        """The file a (micro-)batch is written to, recorded as the node's output."""
        example = self.example
        if batch.id is None:
            target = io.batch_target(
                self.ctx.resolve_uri(example.batch_uri or f"{example.stream_uri}/"), example.format
            )
            self.ctx.result.outputs[self.node.id] = target
            return target
        directory = io.stream_dir(
            example.stream_uri and self.ctx.resolve_uri(example.stream_uri),
            example.batch_uri and self.ctx.resolve_uri(example.batch_uri),
        )
        self.ctx.result.outputs[self.node.id] = directory
        return f"{directory}/part-{batch.id}{io.EXTENSIONS[example.format]}"


@register_operator(NodeKind.WRITE_INTERMEDIATE, ENGINE)
class WriteIntermediate(LocalOperator):
    """Writes an edge's records for the next job, and their schema beside them (declared,
    else inferred from the first batch), so a reader on any engine knows the types."""

    _schema_written = False

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        example = self.node.example
        assert example is not None and example.batch_uri is not None
        directory = self.ctx.resolve_uri(example.batch_uri).rstrip("/")
        if not self._schema_written:
            # before the data: a reader that sees a part file finds its schema too
            io.write_schema(directory, example.columns or io.infer_columns(inputs[0]))
            self._schema_written = True
        name = "data" if batch.id is None else batch.id
        io.write_frame(
            inputs[0], f"{directory}/{name}{io.EXTENSIONS[example.format]}", example.format
        )
        return None


def _key(file: str) -> str:
    return file.rsplit("/", 1)[-1]


def _mtime(file: str) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return 0.0
