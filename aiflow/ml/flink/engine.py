"""How a stage runs when its tables are on engine ``flink`` (``api`` sends every ``transform``
and ``fit`` given such tables here):

- **a row-wise transform** (a ``Transformer``, or a ``PipelineModel`` of them, on one table):
  the rows in ``flink.parallelism`` shards, each transformed by a Flink task with the same
  code, the results put back in row order;
- **a composite** (``PipelineModel`` with other stages, graphs): run here, each of its stages
  going to Flink on its own; a ``Pipeline`` fits its consecutive one-task stages in one task;
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
    from aiflow.ml.pipeline import Pipeline, PipelineModel

ENGINE = "flink"


def run(stage: Stage, method: Callable[..., Any], tables: Sequence[Table]) -> Any:
    """``method`` (a stage's own ``transform`` or ``fit``) on Flink (see the module docstring)."""
    if method.__name__ == "fit":
        from aiflow.ml.pipeline import Pipeline

        assert isinstance(stage, Estimator)
        if isinstance(stage, Pipeline):
            return _fit_pipeline(stage, tables)
        if _fits_in_driver(stage):
            return method(stage, *tables)
        return _fit_in_task(stage, tables)[0]
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


def _fit_in_task(
    estimator: Estimator, tables: Sequence[Table], *, transform: bool = False
) -> tuple[Stage, list[Table]]:
    """The fitted model and, with ``transform``, its outputs on ``tables``: one task."""
    program = FitProgram(estimator, transform)
    files, *outputs = _in_one_task(estimator.stage_name, [local(tables)], program)
    with tempfile.TemporaryDirectory(prefix="aiflow-ml-model-") as tmp:
        return model_from_files(files, estimator, Path(tmp) / "model"), _on_flink(outputs)


def _fits_in_driver(stage: Stage) -> bool:
    """An estimator whose fit drives Flink from here: iterative, or made of stages."""
    return isinstance(stage, Estimator) and (
        stage.drives_flink_fit() or bool(stage._saved_stages())
    )


def _fit_pipeline(pipeline: Pipeline, tables: Sequence[Table]) -> PipelineModel:
    """``Pipeline.fit`` (same order, same models) in as few Flink jobs as its stages allow:
    consecutive stages that fit in one task fit there together -- the task also transforms
    the data when a later estimator needs it -- and an iterative estimator fits from here,
    its rounds on Flink. (``Pipeline([VectorAssembler, StandardScaler, LogisticRegression])``:
    two jobs, not four.)"""
    from aiflow.ml.pipeline import Pipeline, PipelineModel

    stages = pipeline.stages
    last = max((i for i, s in enumerate(stages) if isinstance(s, Estimator)), default=-1)
    inputs, fitted, i = list(tables), [], 0
    while i < len(stages):
        if _fits_in_driver(stages[i]):
            model = stages[i].fit(*inputs)  # type: ignore[attr-defined]
            fitted.append(model)
            if i < last:
                inputs = model.transform(*inputs)
            i += 1
            continue
        end = i
        while end < len(stages) and not _fits_in_driver(stages[end]):
            end += 1
        group, needed = stages[i:end], end - 1 < last
        if not any(isinstance(s, Estimator) for s in group):
            fitted += group
            if needed:
                inputs = PipelineModel(group).transform(*inputs)  # type: ignore[arg-type]
        else:
            model, outputs = _fit_in_task(Pipeline(group), inputs, transform=needed)
            assert isinstance(model, PipelineModel)
            fitted += model.stages
            inputs = outputs if needed else inputs
        i = end
    return PipelineModel(fitted)


def _in_one_task(name: str, shard: list[list[Table]], program: Any) -> list[Table]:
    with FlinkTasks(name, shard, program) as tasks:
        return tasks.round(0)[0]


def _on_flink(tables: Sequence[Table]) -> list[Table]:
    return [t.on(ENGINE) for t in tables]
