"""The iteration engine's vocabulary: config, data, what a body returns, the context it gets,
stateful body operators and listeners (semantics in the package docstring)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from aiflow.errors import MLError
from aiflow.ml.table import Table

LIFECYCLES: Final = ("all_round", "per_round")

Collect: TypeAlias = Callable[[Table], None]
"""What listeners receive to add rows to their extra output table."""


@dataclass(frozen=True)
class IterationConfig:
    """How the engine runs the body. ``operator_lifecycle``: ``all_round`` (one ``BodyOperator``
    for every round, Flink's default) or ``per_round`` (a fresh one each round)."""

    operator_lifecycle: str = "all_round"

    def __post_init__(self) -> None:
        if self.operator_lifecycle not in LIFECYCLES:
            raise MLError(
                f"IterationConfig: operator_lifecycle must be one of {', '.join(LIFECYCLES)}, "
                f"got {self.operator_lifecycle!r}"
            )


@dataclass(frozen=True)
class ReplayableData:
    """The data of a bounded iteration (inputs with no feedback edge): given to every round
    (``replay=True``) or only to round 0 (``replay=False``; later rounds get empty tables with
    the same columns, so a body needs no special case for them)."""

    tables: Sequence[Table]
    replay: bool = True
    _empty: tuple[Table, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables = (self.tables,) if isinstance(self.tables, Table) else self.tables
        checked = tuple(check_tables(tables, "ReplayableData: tables"))
        object.__setattr__(self, "tables", checked)
        object.__setattr__(self, "_empty", tuple(t.take(slice(0, 0)) for t in checked))

    def for_round(self, epoch: int) -> list[Table]:
        """The data round ``epoch`` sees."""
        return list(self.tables if self.replay or epoch == 0 else self._empty)


@dataclass(frozen=True)
class IterationBodyResult:
    """What a round returns: ``feedback`` (one table per variable, the next round's variables;
    empty ends the iteration), ``outputs`` (the same number every round) and ``termination``
    (``None``, or a table whose emptiness ends the iteration after this round)."""

    feedback: Sequence[Table]
    outputs: Sequence[Table] = ()
    termination: Table | None = None


@dataclass(frozen=True)
class IterationContext:
    """What a body and listeners know of the run: ``epoch`` (the round, from 0; for an unbounded
    iteration the mini-batch's index), whether the iteration is ``bounded``, its ``config``, and
    for listeners ``result``: what the body returned in that round (``None`` for the body), so an
    observer can log, keep or checkpoint the model without the body knowing of it."""

    epoch: int
    bounded: bool
    config: IterationConfig
    result: IterationBodyResult | None = None
    row_offset: int = 0  # a ShardedBody's map: the index of its shard's first row in the data


class BodyOperator(ABC):
    """A body with state. The engine creates it through a factory, calls ``open`` once created,
    ``process`` for each round it serves and ``close`` when it is dropped: after the last round
    (``all_round``) or after its one round (``per_round``), also when a round raised."""

    def open(self, ctx: IterationContext) -> None:  # noqa: B027 -- optional hook
        """Prepare for the first round served (``ctx`` is that round's)."""

    @abstractmethod
    def process(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        """One round (see ``IterationBodyResult``)."""

    def close(self) -> None:  # noqa: B027 -- optional hook
        """Release what ``open`` took."""


@dataclass(frozen=True)
class OperatorFactory:
    """A body given as a factory of ``BodyOperator`` with arguments:
    ``OperatorFactory(lambda: KMeansStep(k=3))`` (a ``BodyOperator`` subclass needing no
    argument may be passed as the body directly)."""

    make: Callable[[], BodyOperator]


class IterationListener:
    """Told of each completed round and of the end; both methods do nothing unless overridden.
    ``collect(table)`` adds rows to this listener's extra output (see the package docstring)."""

    def on_epoch_watermark_incremented(
        self, epoch: int, ctx: IterationContext, collect: Collect
    ) -> None:
        """Round ``epoch`` is complete (its outputs and feedback are known)."""

    def on_iteration_terminated(self, ctx: IterationContext, collect: Collect) -> None:
        """The iteration ended after round ``ctx.epoch``."""


@dataclass(frozen=True)
class ShardedBody:
    """A body in two halves, so that an engine can run it data-parallel.

    ``map(variables, shard, ctx) -> list[Table]`` computes partial results (sums, counts) over
    one shard of the data: on Flink, each task over its rows, with the variables broadcast;
    ``ctx.row_offset`` is the index of the shard's first row in the whole data.
    ``reduce(variables, partials, ctx) -> IterationBodyResult`` combines every shard's partials
    (one list per shard, in row order) into the round's result, in the driver. The local engine
    calls ``map`` once over all the data, so a ``ShardedBody`` computes the same there (up to
    the order of floating-point sums)."""

    map: Callable[[list[Table], list[Table], IterationContext], list[Table]]
    reduce: Callable[[list[Table], list[list[Table]], IterationContext], IterationBodyResult]

    def __call__(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        """The round over all ``data`` as one shard (the local engine)."""
        return self.reduce(variables, [self.map(variables, data, ctx)], ctx)


BodyFunction: TypeAlias = Callable[[list[Table], list[Table], IterationContext], Any]
Body: TypeAlias = BodyFunction | type[BodyOperator] | OperatorFactory | ShardedBody


def check_tables(values: Any, what: str) -> list[Table]:
    """``values`` as a list of Tables, or an error naming ``what`` and the culprit."""
    if isinstance(values, Table | str) or not isinstance(values, Sequence):
        raise MLError(f"{what} must be a list of Tables, got {type(values).__name__}")
    for i, value in enumerate(values):
        if not isinstance(value, Table):
            raise MLError(f"{what}[{i}] is {type(value).__name__}, expected a Table")
    return list(values)
