"""A batch job that reads csv, transforms or scores its records and writes them, in bounded calls.

Why: in one call, a 1M-row file is in memory three or four times over (read, transformed,
scored, formatted), fresh memory being most of what such a pass costs on a VM, and one core
works while the other waits. Run chunk by chunk (``local.batch_rows`` records, ~64k), the
user's ``transform``/``predict`` run on this thread while the next chunk is read (Arrow, mostly
without the GIL) and the previous one written (polars' writer, without it) on two others, BLAS
kept off the cores they use: on the benchmark's path, 1.1-1.4M records/s beyond the fixed cost
where one call made 0.5-0.6M (``docs/benchmarks.md``), and memory bounded by a few chunks
whatever the file's size.

What a user sees: ``transform``/``predict`` called once per chunk, as the Flink engine calls
them once per Arrow batch, each chunk typed as a file of its records would be, indexed by its
records' positions in the input. A Transformer is a function of one batch (``af.Transformer``):
the output is the one a single call writes. A batch job scores every record with one model
version. The output file appears whole or not at all, as before.

Where only the exact reader answers (a bad record, a value Arrow may read otherwise) the chunked
run stops, writes nothing, and the job runs the whole-input way instead, so errors name the file
and line as they did. Any other job (another node, a policy other than ``fail``, a ``limit``,
json or parquet input, a parquet output) runs the whole-input way from the start.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from aiflow.errors import UserCodeError
from aiflow.plan.model import NodeKind
from aiflow.translators import io
from aiflow.translators.arrow_io import NotVouched
from aiflow.translators.local.engine import BatchInfo, LocalOperator
from aiflow.translators.local.io import ReadExample, WriteExample
from aiflow.translators.usercode import blas_beside_pipeline

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.translators.physical import JobSpec

log = logging.getLogger("aiflow.runtime")

RunPass = Callable[[dict[str, LocalOperator], dict[str, "pd.DataFrame"], BatchInfo], None]
_PER_BATCH = frozenset({NodeKind.TRANSFORM, NodeKind.PREDICT})  # functions of one batch
_WRITTEN = frozenset({"csv", "json"})  # formats whose chunks, written one after the other,
# are the file one call writes (csv: the header once)


def run_in_chunks(
    spec: JobSpec, operators: dict[str, LocalOperator], rows: int, run_pass: RunPass
) -> bool:
    """Run a batch job's chain chunk by chunk if it is one (module docstring); False, having
    written nothing and counted nothing, when it must run the whole-input way."""
    ends = _chain_ends(spec, operators)
    if ends is None or rows <= 0:
        return False
    source, sink = ends
    chunks = source.chunks(rows)
    if chunks is None:
        return False
    target = sink.target(BatchInfo(id=None, index=0))
    with contextlib.closing(chunks):
        try:
            io.write_atomic(
                target, lambda out: _write(spec, operators, source, sink, chunks, out, run_pass)
            )
        except NotVouched as exc:
            log.info("job reads %s whole: %s", source.node.id, exc)
            for node in spec.nodes:
                source.ctx.result.rows.pop(node.id, None)
            return False
    return True


def _chain_ends(
    spec: JobSpec, operators: dict[str, LocalOperator]
) -> tuple[ReadExample, WriteExample] | None:
    """The job's reader and writer when its nodes are one line from a read_example to a
    write_example through transform and predict nodes only, each taking the one before's
    records; else None."""
    nodes = spec.nodes
    if len(nodes) < 2 or nodes[0].kind != NodeKind.READ_EXAMPLE:
        return None
    if nodes[-1].kind != NodeKind.WRITE_EXAMPLE:
        return None
    if any(node.kind not in _PER_BATCH for node in nodes[1:-1]):
        return None
    line = [(a.id, b.id, "data") for a, b in itertools.pairwise(nodes)]
    if sorted((e.source.node, e.target, e.kind) for e in spec.edges) != sorted(line):
        return None
    source, sink = operators[nodes[0].id], operators[nodes[-1].id]
    if not isinstance(source, ReadExample) or not isinstance(sink, WriteExample):
        return None
    return (source, sink) if sink.example.format in _WRITTEN else None


class _Collect(LocalOperator):
    """Stands for the writer in a chunk's pass: keeps the chunk's records as they are written."""

    def __init__(self, sink: WriteExample) -> None:
        super().__init__(sink.node, sink.ctx)
        self.sink = sink
        self.frame: pd.DataFrame | None = None

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        self.frame = self.sink.prepared(inputs[0])
        return None


def _write(
    spec: JobSpec,
    operators: dict[str, LocalOperator],
    source: ReadExample,
    sink: WriteExample,
    chunks: Iterator[pd.DataFrame],
    out: IO[bytes],
    run_pass: RunPass,
) -> None:
    """Each chunk's pass on this thread, the next chunk read and the last one written on two
    others (one at a time each, in order)."""
    # the writer's modules imported on this thread, not a first time on the writer's while the
    # user's code looks them up (a half-initialized module, see csv_writer's imports)
    from aiflow.translators import csv_writer  # noqa: F401

    collect = _Collect(sink)
    passes = {**operators, sink.node.id: collect}
    fmt = sink.example.format
    columns: list[str] | None = None
    with ThreadPoolExecutor(2, thread_name_prefix="chunks") as pool, blas_beside_pipeline():
        ahead = pool.submit(next, chunks, None)
        written: Future[None] | None = None
        index = 0
        while (frame := ahead.result()) is not None:
            ahead = pool.submit(next, chunks, None)
            first_row = frame.index[0]
            run_pass(passes, {source.node.id: frame}, BatchInfo(id=None, index=index))
            del frame
            result, collect.frame = collect.frame, None
            assert result is not None
            if columns is None:
                columns = list(result.columns)
            elif list(result.columns) != columns:
                raise _columns_differ(spec, columns, list(result.columns), first_row)
            if written is not None:
                written.result()
            written = pool.submit(io.write_text, result, out, fmt, header=index == 0)
            index += 1
        if written is not None:
            written.result()
    if columns is None:
        raise NotVouched("no records")  # the whole-input way writes an empty input's header


def _columns_differ(spec: JobSpec, first: list[str], found: list[str], row: int) -> UserCodeError:
    upstream = spec.nodes[-2].id
    return UserCodeError(
        f"the records from input row {row} on reach the writer with columns {found}, the first "
        f"ones with {first}: a batch job's records are transformed in chunks of about "
        "local.batch_rows records (as a stream's micro-batches are), and every chunk must come "
        "out with the same columns",
        upstream,
    )
