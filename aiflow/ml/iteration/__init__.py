"""The iteration engine: rounds over tables with a model fed back (bounded), or one round per
mini-batch of an endless stream (unbounded) -- what KMeans, LogisticRegression and the online
stages are written on.

Flink ML's iteration (FLIP-176, the second seed) for the local engine, in plain Python. A *round*
(an *epoch*, numbered from 0) is one call of the body. It receives the *variables* (the model:
the initial tables in round 0, then the previous round's feedback) and the *data*, and returns an
``IterationBodyResult``: ``feedback`` (the next round's variables), ``outputs`` (collected into
the result) and an optional ``termination`` table. A body computes on whole columns (numpy); the
engine loops over rounds, never over records.

The seed's semantics, as the local engine keeps them:

- **Replay**: ``ReplayableData(tables, replay=True)`` gives the data to every round;
  ``replay=False`` reads it once: round 0 gets the tables, later rounds empty tables with the same
  columns, so an all-round operator keeps what it needs from round 0 (Flink's caching operators).
- **Operator lifecycle**: a body is a function (it creates nothing, the lifecycle does not apply)
  or a ``BodyOperator`` factory (the class itself, or ``OperatorFactory(lambda: Op(...))``).
  ``all_round`` creates one operator before round 0 and keeps it to the end, so it may cache
  between rounds; ``per_round`` creates (``open``) and closes a fresh one around each round, so
  nothing leaks from one round into the next -- Flink's way of reusing operators written for
  plain, non-iterative jobs.
- **Epoch watermark**: after round ``e`` (when the round is complete, as Flink's aligned
  watermark says) each listener's ``on_epoch_watermark_incremented(e, ctx, collect)`` runs; after
  the last round, ``on_iteration_terminated(ctx, collect)``. Rows a listener passes to
  ``collect`` form one extra table per listener, after the body's outputs. In the local engine a
  round is one call, so the work a Flink operator does at the watermark is simply the end of
  ``process``; listeners are observers (history, logs, checkpoints) and read the round's
  ``IterationBodyResult`` from ``ctx.result``.
- **Termination**: a round is the last when its feedback is empty (no table, or only tables
  without rows) or its termination table has no row; ``terminate_on_max_iteration`` and
  ``terminate_on_max_iteration_or_tolerance`` make such tables.

**On Flink** (tables on engine ``flink``), a bounded iteration runs as one Flink job whose tasks
keep their shard of the data for every round, while the rounds are driven from here
(``aiflow.ml.flink``): a ``ShardedBody`` runs data-parallel (``map`` in every task, ``reduce``
here), any other body in one task; an unbounded iteration's mini-batches in one long-lived task.

Not here: Table itself (``table``); the Flink side (``aiflow.ml.flink``).
"""

from aiflow.ml.iteration.base import (
    BodyOperator,
    Collect,
    IterationBodyResult,
    IterationConfig,
    IterationContext,
    IterationListener,
    OperatorFactory,
    ReplayableData,
    ShardedBody,
)
from aiflow.ml.iteration.engine import iterate_bounded, iterate_unbounded
from aiflow.ml.iteration.termination import (
    terminate_on_max_iteration,
    terminate_on_max_iteration_or_tolerance,
)

__all__ = [
    "BodyOperator",
    "Collect",
    "IterationBodyResult",
    "IterationConfig",
    "IterationContext",
    "IterationListener",
    "OperatorFactory",
    "ReplayableData",
    "ShardedBody",
    "iterate_bounded",
    "iterate_unbounded",
    "terminate_on_max_iteration",
    "terminate_on_max_iteration_or_tolerance",
]
