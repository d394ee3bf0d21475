"""The local engine: bounded and unbounded iterations as plain Python loops over rounds (the
body computes on whole columns; nothing here touches single records)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from aiflow.errors import MLError
from aiflow.ml.iteration.base import (
    Body,
    BodyFunction,
    BodyOperator,
    Collect,
    IterationBodyResult,
    IterationConfig,
    IterationContext,
    IterationListener,
    OperatorFactory,
    ReplayableData,
    check_tables,
)
from aiflow.ml.table import Table, same_engine


def iterate_bounded(
    variables: Sequence[Table],
    data: ReplayableData,
    body: Body,
    config: IterationConfig | None = None,
    listeners: Sequence[IterationListener] = (),
) -> list[Table]:
    """Run rounds until one terminates (see the package docstring); return one table per body
    output holding every round's rows in round order, then one table per listener holding what
    it collected (epoch order, then at termination; no column if it collected nothing)."""
    who = "iterate_bounded"
    if not isinstance(data, ReplayableData):
        raise MLError(
            f"{who}: data must be a ReplayableData, got {type(data).__name__} "
            "(wrap the tables: ReplayableData([table], replay=True))"
        )
    loop = _Loop(who, variables, body, config, listeners, bounded=True)
    engine = same_engine([*loop.variables, *data.tables], who)
    if engine == "flink":  # the same loop; each round's body runs in a Flink job's tasks
        from aiflow.ml.flink.iteration import FlinkRounds

        loop.caller.close()
        loop.caller = FlinkRounds(who, body, loop.config, data)
    outputs: list[list[Table]] = []
    collected: list[list[Table]] = [[] for _ in loop.listeners]
    try:
        epoch, stop = 0, False
        while not stop:
            round_outputs, rows, stop = loop.round(epoch, data.for_round(epoch))
            outputs = outputs or [[] for _ in round_outputs]
            for kept, table in zip(outputs, round_outputs, strict=True):
                kept.append(table)
            for kept, listener_rows in zip(collected, rows, strict=True):
                kept.extend(listener_rows)
            epoch += 1
        for kept, listener_rows in zip(collected, loop.terminated(), strict=True):
            kept.extend(listener_rows)
    finally:
        loop.close()
    tables = [_concat(kept, f"{who}: outputs[{i}]") for i, kept in enumerate(outputs)]
    return [t.on(engine) for t in tables + _listener_tables(who, collected)]


def iterate_unbounded(
    variables: Sequence[Table],
    data_stream: Iterable[Table | Sequence[Table]],
    body: Body,
    config: IterationConfig | None = None,
    listeners: Sequence[IterationListener] = (),
) -> Iterator[list[Table]]:
    """One round per mini-batch of ``data_stream`` (a Table, or a list of Tables when the body
    takes several data inputs), all sharing the model: each round's feedback is the next
    round's variables. Lazily yields, right after each mini-batch, that round's outputs followed
    by one table per listener (what it collected at that round's watermark), so an endless
    stream works and a consumer sees every model update as it happens.

    The iteration ends when the stream does, or when a round terminates (as in a bounded one);
    then ``on_iteration_terminated`` runs, and if listeners collected rows there one last item
    is yielded: empty body outputs (same columns) and those rows. An empty stream yields
    nothing; closing the generator early closes the operator without ``on_iteration_terminated``.
    """
    who = "iterate_unbounded"
    loop = _Loop(who, variables, body, config, listeners, bounded=False)
    engine = same_engine(loop.variables, who)
    if isinstance(data_stream, Table) or not isinstance(data_stream, Iterable):
        raise MLError(
            f"{who}: data_stream must be an iterable of Tables (mini-batches), got "
            f"{type(data_stream).__name__} (for one table, pass table.batches(size))"
        )
    return _unbounded(loop, data_stream, engine)


class _Loop:
    """The state both iteration kinds share: current variables, the live operator, listeners,
    the number and columns of outputs (which must stay the same from round to round)."""

    def __init__(
        self,
        who: str,
        variables: Sequence[Table],
        body: Body,
        config: IterationConfig | None,
        listeners: Sequence[IterationListener],
        *,
        bounded: bool,
    ) -> None:
        self.who, self.bounded = who, bounded
        self.config = IterationConfig() if config is None else config
        if not isinstance(self.config, IterationConfig):
            raise MLError(f"{who}: config must be an IterationConfig, got {type(config).__name__}")
        self.variables = check_tables(variables, f"{who}: variables")
        if not self.variables:
            raise MLError(f"{who}: variables must hold at least one Table (the model)")
        self.body = body
        self.caller: RoundCaller = BodyCaller(who, body, self.config)
        self.listeners = list(listeners)
        for i, listener in enumerate(self.listeners):
            if not isinstance(listener, IterationListener):
                raise MLError(
                    f"{who}: listeners[{i}] is {type(listener).__name__}, "
                    "expected an IterationListener"
                )
        self.ctx = IterationContext(0, bounded, self.config)
        self.output_columns: list[list[str] | None] | None = None

    def round(self, epoch: int, data: list[Table]) -> tuple[list[Table], list[list[Table]], bool]:
        """Run round ``epoch``: its outputs, each listener's collected rows, whether it is the
        last."""
        ctx = IterationContext(epoch, self.bounded, self.config)
        result = self.caller(list(self.variables), data, ctx)
        feedback, outputs, termination = self._check(result, epoch)
        self.ctx = ctx = replace(ctx, result=result)
        rows = self._notify(lambda lis, c: lis.on_epoch_watermark_incremented(epoch, ctx, c))
        no_feedback = all(t.num_rows == 0 for t in feedback)
        stop = no_feedback or (termination is not None and termination.num_rows == 0)
        if not stop:
            self.variables = feedback
        return outputs, rows, stop

    def terminated(self) -> list[list[Table]]:
        """Tell listeners the iteration ended; what they collected."""
        return self._notify(lambda lis, c: lis.on_iteration_terminated(self.ctx, c))

    def close(self) -> None:
        self.caller.close()

    def _check(self, result: Any, epoch: int) -> tuple[list[Table], list[Table], Table | None]:
        where = f"{self.who}: body {self.caller.body_name} in round {epoch}"
        if not isinstance(result, IterationBodyResult):
            raise MLError(
                f"{where} returned {type(result).__name__}, expected "
                "IterationBodyResult(feedback=[...], outputs=[...], termination=None)"
            )
        feedback = check_tables(result.feedback, f"{where}: feedback")
        outputs = check_tables(result.outputs, f"{where}: outputs")
        if feedback and len(feedback) != len(self.variables):
            raise MLError(
                f"{where} fed back {len(feedback)} tables for {len(self.variables)} variables"
            )
        termination = result.termination
        if termination is not None and not isinstance(termination, Table):
            raise MLError(
                f"{where}: termination is {type(termination).__name__}, expected a Table or None"
            )
        if self.output_columns is None:
            self.output_columns = [None] * len(outputs)
        if len(outputs) != len(self.output_columns):
            raise MLError(
                f"{where} returned {len(outputs)} outputs, earlier rounds "
                f"{len(self.output_columns)}"
            )
        for i, table in enumerate(outputs):
            known = self.output_columns[i]
            if table.num_rows and known is not None and table.columns != known:
                raise MLError(f"{where}: outputs[{i}] has columns {table.columns}, was {known}")
            if table.num_rows and known is None:
                self.output_columns[i] = table.columns
        return feedback, outputs, termination

    def _notify(self, call: Callable[[IterationListener, Collect], None]) -> list[list[Table]]:
        collected: list[list[Table]] = []
        for i, listener in enumerate(self.listeners):
            rows: list[Table] = []
            call(listener, _collector(self.who, i, rows))
            collected.append(rows)
        return collected


class RoundCaller(Protocol):
    """What the loop calls each round: ``BodyCaller`` here, ``FlinkRounds`` on Flink."""

    body_name: str

    def __call__(self, variables: list[Table], data: list[Table], ctx: IterationContext) -> Any: ...

    def close(self) -> None: ...


def body_name(body: Body) -> str:
    """How errors name a body: its function's or class's name, else its type's."""
    return str(getattr(body, "__qualname__", type(body).__name__))


class BodyCaller:
    """Calls a body the way its kind and the lifecycle say: a function as is, an operator
    created by its factory per ``operator_lifecycle``. The local loop holds one; on Flink, the
    task running a non-sharded body holds one (``aiflow.ml.flink``)."""

    def __init__(self, who: str, body: Body, config: IterationConfig) -> None:
        self.who, self.config = who, config
        self.function, self.factory = _resolve_body(who, body)
        self.body_name = body_name(body)
        self.operator: BodyOperator | None = None

    def __call__(self, variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        if self.function is not None:
            return self.function(variables, data, ctx)
        if self.operator is None:
            assert self.factory is not None
            operator = self.factory()
            if not isinstance(operator, BodyOperator):
                raise MLError(
                    f"{self.who}: the operator factory {self.body_name} returned "
                    f"{type(operator).__name__}, expected a BodyOperator"
                )
            operator.open(ctx)
            self.operator = operator
        try:
            return self.operator.process(variables, data, ctx)
        finally:
            if self.config.operator_lifecycle == "per_round":
                self.close()

    def close(self) -> None:
        operator, self.operator = self.operator, None
        if operator is not None:
            operator.close()


def _unbounded(
    loop: _Loop, stream: Iterable[Table | Sequence[Table]], engine: str
) -> Iterator[list[Table]]:
    last: list[Table] | None = None
    try:
        if engine == "flink":  # the same loop; each mini-batch's round runs in a Flink task
            from aiflow.ml.flink.iteration import FlinkStream

            loop.caller.close()
            loop.caller = FlinkStream(loop.who, loop.body, loop.config, len(loop.variables))
        for epoch, batch in enumerate(stream):
            what = f"{loop.who}: mini-batch {epoch}"
            data = check_tables([batch] if isinstance(batch, Table) else batch, what)
            if same_engine(data, what) != engine:
                raise MLError(f"{what} is on engine '{data[0].engine}', the model on '{engine}'")
            last, rows, stop = loop.round(epoch, data)
            yield [t.on(engine) for t in last + _listener_tables(loop.who, rows)]
            if stop:
                break
        if last is not None:
            final = loop.terminated()
            if any(final):
                ends = [t.take(slice(0, 0)) for t in last] + _listener_tables(loop.who, final)
                yield [t.on(engine) for t in ends]
    finally:
        loop.close()


def _listener_tables(who: str, collected: list[list[Table]]) -> list[Table]:
    return [_concat(rows, f"{who}: listeners[{i}] collected") for i, rows in enumerate(collected)]


def _resolve_body(
    who: str, body: Any
) -> tuple[BodyFunction | None, Callable[[], BodyOperator] | None]:
    """(function, None) for a plain body, (None, factory) for an operator body."""
    if isinstance(body, OperatorFactory):
        return None, body.make
    if isinstance(body, type) and issubclass(body, BodyOperator):
        return None, body
    if isinstance(body, BodyOperator):
        raise MLError(
            f"{who}: body is a {type(body).__name__} instance; pass its class or "
            "OperatorFactory(lambda: ...) so the engine can create it per its lifecycle"
        )
    if not callable(body):
        raise MLError(f"{who}: body must be a function or a BodyOperator factory, got {body!r}")
    return body, None


def _collector(who: str, index: int, rows: list[Table]) -> Collect:
    def collect(table: Table) -> None:
        if not isinstance(table, Table):
            raise MLError(
                f"{who}: listeners[{index}] collected {type(table).__name__}, expected a Table"
            )
        rows.append(table)

    return collect


def _concat(tables: list[Table], what: str) -> Table:
    """The rows of ``tables`` in order; tables without rows add nothing (and may lack columns)."""
    full = [t for t in tables if t.num_rows]
    for table in full[1:]:
        if table.columns != full[0].columns:
            raise MLError(f"{what}: rows with columns {full[0].columns}, then {table.columns}")
    if full:
        return full[0] if len(full) == 1 else Table.concat(full)
    return tables[0] if tables else Table({})
