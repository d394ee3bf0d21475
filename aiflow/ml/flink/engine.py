"""How a stage runs when its tables are on engine ``flink`` (``api`` sends every ``transform``
and ``fit`` given such tables here):

- **a row-wise transform** (a ``Transformer``, or a ``PipelineModel`` of them, on one table):
  the rows in ``flink.parallelism`` shards, each transformed by a Flink task with the same
  code, the results put back in row order;
- **a composite** (``Pipeline``, ``PipelineModel`` with other stages, graphs): run here, each
  of its stages going to Flink on its own;
- **an estimator whose fit is iterative** (``drives_flink_fit``: KMeans, the linear models):
  its fit runs here and its ``iterate_bounded`` rounds run data-parallel in one Flink job
  (``aiflow.ml.flink.iteration``);
- **anything else** (another fit, an evaluator, a multi-input operator): in one Flink task over
  the whole data (a pass over the data; the task computes with numpy as locally).

Outputs are tables on engine ``flink`` again, so the next stage runs there too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.ml.api import Estimator, Stage, Transformer
from aiflow.ml.flink.programs import FitProgram, TransformProgram, model_from_files
from aiflow.ml.flink.tasks import FlinkTasks
from aiflow.ml.table import Table

if TYPE_CHECKING:
    from aiflow.ml.api import AlgoOperator

ENGINE = "flink"


def run(stage: Stage, method: Callable[..., Any], tables: Sequence[Table]) -> Any:
    """``method`` (a stage's own ``transform`` or ``fit``) on Flink (see the module docstring)."""
    if method.__name__ == "fit":
        assert isinstance(stage, Estimator)
        if stage.drives_flink_fit() or stage._saved_stages():
            return method(stage, *tables)
        return _fit_in_task(stage, tables)
    if row_wise(stage) and len(tables) == 1:
        return _transform_sharded(stage, tables[0])  # type: ignore[arg-type]
    if stage._saved_stages():
        return method(stage, *tables)
    return _on_flink(_in_one_task(stage.stage_name, [local(tables)], TransformProgram(stage)))  # type: ignore[arg-type]


def row_wise(stage: Stage) -> bool:
    """Whether ``stage`` maps each row on its own, so shards may be transformed apart."""
    from aiflow.ml.pipeline import PipelineModel

    if isinstance(stage, PipelineModel):
        return all(row_wise(s) for s in stage.stages)
    return isinstance(stage, Transformer) and not stage._saved_stages()


def local(tables: Sequence[Table]) -> list[Table]:
    return [t.on("local") for t in tables]


def shards(table: Table, count: int) -> list[Table]:
    """``table``'s rows in ``count`` consecutive, nearly equal slices (some empty when it has
    fewer rows)."""
    bounds = [round(i * table.num_rows / count) for i in range(count + 1)]
    return [table.take(slice(bounds[i], bounds[i + 1])) for i in range(count)]


def _transform_sharded(stage: AlgoOperator, table: Table) -> list[Table]:
    from aiflow.ml.flink.cluster import parallelism

    parts = shards(table.on("local"), max(1, min(parallelism(), table.num_rows)))
    with FlinkTasks(stage.stage_name, [[p] for p in parts], TransformProgram(stage)) as tasks:
        replies = tasks.round(0)
    outputs = [Table.concat([reply[i] for reply in replies]) for i in range(len(replies[0]))]
    return _on_flink(outputs)


def _fit_in_task(estimator: Estimator, tables: Sequence[Table]) -> Stage:
    (files,) = _in_one_task(estimator.stage_name, [local(tables)], FitProgram(estimator))
    with tempfile.TemporaryDirectory(prefix="aiflow-ml-model-") as tmp:
        return model_from_files(files, estimator, Path(tmp) / "model")


def _in_one_task(name: str, shard: list[list[Table]], program: Any) -> list[Table]:
    with FlinkTasks(name, shard, program) as tasks:
        return tasks.round(0)[0]


def _on_flink(tables: Sequence[Table]) -> list[Table]:
    return [t.on(ENGINE) for t in tables]
