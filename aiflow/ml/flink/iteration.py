"""``iterate_bounded`` on Flink: the local engine's loop, each round's body run by the tasks of
one Flink job (``tasks``) that keep the data for every round.

A ``ShardedBody`` runs data-parallel: the data in ``flink.parallelism`` shards (row ranges of
every data table), ``map`` in every task with the round's variables broadcast, ``reduce`` here.
Any other body (a function, an operator) runs in one task that holds all the data, as it would
locally (an operator lives there for its lifecycle). Listeners, termination and the outputs stay
with the loop here, exactly as on the local engine.
"""

from __future__ import annotations

from typing import Any

from aiflow.ml.flink.cluster import parallelism
from aiflow.ml.flink.engine import local, shards
from aiflow.ml.flink.programs import BodyProgram, MapProgram, body_result
from aiflow.ml.flink.tasks import FlinkTasks
from aiflow.ml.iteration.base import (
    Body,
    IterationConfig,
    IterationContext,
    ReplayableData,
    ShardedBody,
)
from aiflow.ml.iteration.engine import body_name
from aiflow.ml.table import Table


class FlinkRounds:
    """The body caller ``iterate_bounded`` uses for Flink tables (``BodyCaller``'s interface)."""

    def __init__(self, who: str, body: Body, config: IterationConfig, data: ReplayableData):
        self.body_name = body_name(body)
        self.sharded = body if isinstance(body, ShardedBody) else None
        tables = local(data.tables)
        program: Any
        if self.sharded is not None:
            count = max(1, min(parallelism(), tables[0].num_rows if tables else 1))
            per_table = [shards(t, count) for t in tables]
            parts = [[column[i] for column in per_table] for i in range(count)]
            program = MapProgram(self.sharded)
        else:
            parts = [tables]
            program = BodyProgram(who, body, config)
        self.tasks = FlinkTasks(
            f"{who}:{self.body_name}", parts, program, replay=data.replay, config=config
        )

    def __call__(self, variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        replies = self.tasks.round(ctx.epoch, local(variables))
        if self.sharded is not None:
            return self.sharded.reduce(variables, replies, ctx)
        return body_result(replies[0])

    def close(self) -> None:
        self.tasks.close()


class FlinkStream:
    """The body caller ``iterate_unbounded`` uses for Flink tables: one long-lived Flink task
    runs the body on each mini-batch as it arrives, the model travelling with it (it is small;
    the driver so holds the newest model after every mini-batch, and a task lost mid-stream
    loses nothing but the mini-batch in flight). An operator body lives in the task for its
    lifecycle, as locally."""

    def __init__(self, who: str, body: Body, config: IterationConfig, variables: int):
        self.body_name = body_name(body)
        self.variables = variables
        program = BodyProgram(who, body, config, streamed=variables)
        self.tasks = FlinkTasks(
            f"{who}:{self.body_name}", [[]], program, config=config, bounded=False
        )

    def __call__(self, variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        (reply,) = self.tasks.round(ctx.epoch, local([*variables, *data]))
        return body_result(reply)

    def close(self) -> None:
        self.tasks.close()
