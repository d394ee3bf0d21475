"""What a Flink task runs each round (``tasks.Program``): a stage's transform or fit, a sharded
body's ``map``, or a whole iteration body. Each computes on local tables with the same code the
local engine runs -- that is the point: one implementation, two engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.iteration.base import (
    Body,
    IterationBodyResult,
    IterationConfig,
    IterationContext,
    ShardedBody,
)
from aiflow.ml.table import Table

if TYPE_CHECKING:
    from aiflow.ml.api import AlgoOperator, Estimator, Stage
    from aiflow.ml.iteration.engine import BodyCaller


class _Stateless:
    """A program holding nothing between rounds: nothing to close."""

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class TransformProgram(_Stateless):
    """``stage.transform`` over the task's shard (the message is empty)."""

    stage: AlgoOperator

    def __call__(
        self, message: list[Table], shard: list[Table], ctx: IterationContext
    ) -> list[Table]:
        return list(self.stage.transform(*shard))


@dataclass(frozen=True)
class FitProgram(_Stateless):
    """``estimator.fit`` over the whole data in one task; the model comes back as the files
    ``save`` writes (JSON and Parquet, as one table of ``path``, ``content``), never pickled,
    followed, with ``transform``, by the model's outputs on the same data (a pipeline's next
    stage needs them)."""

    estimator: Estimator
    transform: bool = False

    def __call__(
        self, message: list[Table], shard: list[Table], ctx: IterationContext
    ) -> list[Table]:
        import tempfile

        from aiflow.ml.persist import write_stage

        model = self.estimator.fit(*shard)
        outputs = list(model.transform(*shard)) if self.transform else []
        with tempfile.TemporaryDirectory(prefix="aiflow-ml-model-") as tmp:
            root = Path(tmp)
            write_stage(model, root)
            files = sorted(p for p in root.rglob("*") if p.is_file())
            paths = np.array([p.relative_to(root).as_posix() for p in files], dtype=object)
            contents = np.empty(len(files), dtype=object)
            contents[:] = [p.read_bytes() for p in files]
        return [Table({"path": paths, "content": contents}), *outputs]


def model_from_files(files: Table, estimator: Estimator, directory: Path) -> Stage:
    """The model ``FitProgram`` sent, written into ``directory`` and loaded (``aiflow.ml.load``
    rules: classes of ``aiflow.ml`` or of the estimator's own module only)."""
    from aiflow.ml.persist import load_stage

    root = directory.resolve()
    for name, content in zip(files.column("path"), files.column("content"), strict=True):
        target = (root / str(name)).resolve()
        if root not in target.parents:
            raise MLError(
                f"{estimator.stage_name}: a Flink task sent a model file outside its "
                f"folder: {name!r}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(content))
    return load_stage(root, allowed_modules=(type(estimator).__module__,))


@dataclass(frozen=True)
class MapProgram(_Stateless):
    """A ``ShardedBody``'s ``map`` over the task's shard, the message being the variables."""

    body: ShardedBody

    def __call__(
        self, message: list[Table], shard: list[Table], ctx: IterationContext
    ) -> list[Table]:
        return list(self.body.map(message, shard, ctx))


@dataclass
class BodyProgram:
    """Any other body, in one task holding all the data (bounded) or getting each mini-batch
    with the model (unbounded, ``streamed``); an operator body lives in the task for the rounds
    its lifecycle says (``BodyCaller``, as locally). The round's result comes back as
    ``[counts, *feedback, *outputs, termination?]``."""

    who: str
    body: Body
    config: IterationConfig
    streamed: int | None = None  # unbounded: the message is this many variables, then the data
    _caller: BodyCaller | None = field(default=None, init=False, repr=False)

    def __call__(
        self, message: list[Table], shard: list[Table], ctx: IterationContext
    ) -> list[Table]:
        from aiflow.ml.iteration.engine import BodyCaller

        if self._caller is None:
            self._caller = BodyCaller(self.who, self.body, self.config)
        variables, data = message, shard
        if self.streamed is not None:
            variables, data = message[: self.streamed], message[self.streamed :]
        result = self._caller(variables, data, ctx)
        if not isinstance(result, IterationBodyResult):
            raise MLError(
                f"{self.who}: body {self._caller.body_name} in round {ctx.epoch} returned "
                f"{type(result).__name__}, expected "
                "IterationBodyResult(feedback=[...], outputs=[...], termination=None)"
            )
        feedback, outputs = list(result.feedback), list(result.outputs)
        termination = [] if result.termination is None else [result.termination]
        counts = Table(
            {
                "feedback": [len(feedback)],
                "outputs": [len(outputs)],
                "termination": [len(termination)],
            }
        )
        return [counts, *feedback, *outputs, *termination]

    def close(self) -> None:
        if self._caller is not None:
            self._caller.close()


def body_result(reply: list[Table]) -> IterationBodyResult:
    """The ``IterationBodyResult`` a ``BodyProgram`` sent."""
    counts: dict[str, Any] = {name: int(reply[0].column(name)[0]) for name in reply[0].columns}
    rest = reply[1:]
    feedback, rest = rest[: counts["feedback"]], rest[counts["feedback"] :]
    outputs, rest = rest[: counts["outputs"]], rest[counts["outputs"] :]
    return IterationBodyResult(
        feedback=feedback, outputs=outputs, termination=rest[0] if rest else None
    )
