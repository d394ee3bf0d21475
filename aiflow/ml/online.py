"""What the online estimators share: cutting a stream into mini-batches, and the model version.

An online estimator (``OnlineLogisticRegression``, ``OnlineKMeans``) trains on a stream: a
``Table`` (a bounded stream, read in order) or any iterable of Tables (a source yielding records
as they arrive, endless or not). ``mini_batches`` regroups it into mini-batches of exactly
``global_batch_size`` rows, whatever sizes the source yields -- as Flink ML's
``generateBatchData`` does -- so that one model version comes out per ``global_batch_size``
records. A finite stream's last rows form a shorter last mini-batch (Flink ML would wait for
more records forever; here a bounded stream is trained on completely).

Model data carry a ``model_version`` (bigint) column: the initial model's version (0 for a batch
model), then one more per mini-batch. An online model predicts with the newest version it was
given and writes that version into ``model_version_col`` of every row it scores, so a consumer
can tell which model made a prediction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, Self

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Stage
from aiflow.ml.iteration import OperatorFactory, iterate_unbounded
from aiflow.ml.param import ParamValidators, StringParam, WithParams
from aiflow.ml.table import Table

MODEL_VERSION: Final = "model_version"

Stream = Table | Iterable[Table]
"""What an online estimator trains on: one Table, or an iterable of Tables (see above)."""


class HasModelVersionCol(WithParams):
    MODEL_VERSION_COL = StringParam(
        "model_version_col",
        "The column an online model writes the version of the model data it predicted with to.",
        MODEL_VERSION,
        ParamValidators.not_null(),
    )

    def get_model_version_col(self) -> str:
        return self.get(self.MODEL_VERSION_COL)

    def set_model_version_col(self, value: str) -> Self:
        return self.set(self.MODEL_VERSION_COL, value)


def mini_batches(
    stage: Stage, stream: Stream, size: int, columns: Sequence[str]
) -> Iterator[Table]:
    """``stream`` regrouped into mini-batches of ``size`` rows (the last may be shorter), each
    holding only ``columns``. Lazy: reads the source only as far as the consumer asks. An item
    that is not a Table or is on another engine than the first, a missing column, or a vector
    column whose size changes from one item to the next is an error naming ``stage`` and the
    item (a stream that is neither a Table nor an iterable is refused at once)."""
    return _regroup(stage, _source(stage, stream), size, columns)


def _regroup(
    stage: Stage, source: Iterable[Table], size: int, columns: Sequence[str]
) -> Iterator[Table]:
    pending: list[Table] = []
    held = 0
    engine = None  # every item's: the mini-batches' rounds run there (aiflow.ml.flink on flink)
    for index, item in enumerate(source):
        table = _checked_item(stage, index, item, columns)
        engine = engine or table.engine
        if table.engine != engine:
            raise stage.error(
                f"stream item {index} is on engine '{table.engine}', the ones before on '{engine}'"
            )
        if table.num_rows == 0:
            continue
        start = 0
        if pending:
            start = size - held
            pending.append(table.take(slice(0, start)))
            held += pending[-1].num_rows
            if held < size:
                continue
            yield _concat(stage, index, pending)
            pending, held = [], 0
        while table.num_rows - start >= size:
            yield table.take(slice(start, start + size))
            start += size
        if start < table.num_rows:
            pending, held = [table.take(slice(start, None))], table.num_rows - start
    if pending:
        yield _concat(stage, None, pending)


def _source(stage: Stage, stream: Stream) -> Iterable[Table]:
    if isinstance(stream, Table):
        return (stream,)
    if isinstance(stream, str | bytes) or not isinstance(stream, Iterable):
        raise stage.error(
            f"the stream must be a Table or an iterable of Tables, got {type(stream).__name__}"
        )
    return stream


def _checked_item(stage: Stage, index: int, item: object, columns: Sequence[str]) -> Table:
    if not isinstance(item, Table):
        raise stage.error(f"stream item {index} is a {type(item).__name__}, expected a Table")
    return item.select(columns, stage=stage.stage_name)


def _concat(stage: Stage, index: int | None, tables: list[Table]) -> Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return Table.concat(tables)
    except (MLError, ValueError):
        sizes = {
            name: sorted({t.column(name).shape[1] for t in tables if t.column(name).ndim == 2})
            for name in tables[0].columns
        }
        differ = [f"'{n}' ({s})" for n, s in sizes.items() if len(s) > 1]
        where = f"stream item {index}" if index is not None else "the end of the stream"
        raise stage.error(
            f"cannot join the rows up to {where} into one mini-batch: vector sizes differ in "
            f"column(s) {', '.join(differ) or '?'}"
        ) from None


def versions(stage: Stage, table: Table) -> np.ndarray:
    """The ``model_version`` column as int64 (all 0 when the table has none: a batch model)."""
    if MODEL_VERSION not in table:
        return np.zeros(table.num_rows, dtype=np.int64)
    values = table.column(MODEL_VERSION)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise stage.error(
            f"model data column '{MODEL_VERSION}' must hold integers, "
            f"got {table.schema[MODEL_VERSION]}"
        )
    return values.astype(np.int64, copy=False)


def newest_rows(stage: Stage, table: Table) -> tuple[Table, int]:
    """The rows of ``table`` with its highest ``model_version``, and that version (a stream of
    model data collected into one table holds every version)."""
    if table.num_rows == 0:
        raise stage.error("the model data table is empty")
    found = versions(stage, table)
    newest = int(found.max())
    if (found == newest).all():
        return table, newest
    return table.take(found == newest), newest


def wrap_batch_error(error: MLError, epoch: int, size: int, rows: int) -> MLError:
    """``error`` raised on mini-batch ``epoch``, with where in the stream its rows are."""
    first = epoch * size
    return MLError(f"{error} (mini-batch {epoch}: stream rows {first} to {first + rows - 1})")


def run_online(
    initial: Table, first: Table, rest: Iterator[Table], step: OperatorFactory
) -> Iterator[Table]:
    """The model data after each mini-batch (``first``, then ``rest``) of ``iterate_unbounded``
    from ``initial``, with ``step`` as its all-round operator and one output, the new model
    data. Closing this generator early closes the iteration (and its operator)."""

    def stream() -> Iterator[Table]:
        yield first
        yield from rest

    rounds = iterate_unbounded([initial.on(first.engine)], stream(), step)
    try:
        for (model_data,) in rounds:
            yield model_data
    finally:
        close = getattr(rounds, "close", None)
        if close is not None:
            close()


def train_to_end(
    stage: Stage, streams: Sequence[Stream], fit_stream: Callable[[Stream], Iterator[Table]]
) -> Table:
    """What an online ``fit(stream)`` does: run ``fit_stream`` over the one stream to its end
    and return the last model data (an error if the stream had no row)."""
    if len(streams) != 1:
        raise stage.error(
            f"fit takes one stream (a Table or an iterable of Tables), got {len(streams)}"
        )
    last = deque(fit_stream(streams[0]), maxlen=1)
    if not last:
        raise stage.error("the stream has no rows to train on")
    return last[0]
