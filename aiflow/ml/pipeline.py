"""Pipelines: stages in a row, fitted as one Estimator, applied as one Model.

``Pipeline([assembler, scaler, lr]).fit(t)`` runs the stages in order on the output of the
previous one: an AlgoOperator transforms, an Estimator is fitted and its model transforms for the
next stage. Stages after the last Estimator are not run during ``fit`` (nothing downstream
learns from them), and the last Estimator's model does not transform either. The result, a
``PipelineModel`` of the AlgoOperators and the fitted models, chains their ``transform`` -- the
whole training logic as one object, so serving runs exactly what training ran.

Each stage takes the previous stage's outputs as its inputs, so multi-output stages chain too
(a stage returning two tables feeds a stage taking two). Both save their stages under
``stages/<i>/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from aiflow.errors import MLError
from aiflow.ml.api import AlgoOperator, Estimator, Model, Stage
from aiflow.ml.table import Table


class Pipeline(Estimator):
    """An Estimator made of ``stages`` (Estimators and AlgoOperators), fitted in order."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        super().__init__()
        self.stages: list[Stage] = _checked(self.stage_name, stages, (Estimator, AlgoOperator))

    def fit(self, *tables: Table) -> PipelineModel:
        last_estimator = max(
            (i for i, stage in enumerate(self.stages) if isinstance(stage, Estimator)), default=-1
        )
        inputs = list(tables)
        fitted: list[AlgoOperator] = []
        for i, stage in enumerate(self.stages):
            operator = stage.fit(*inputs) if isinstance(stage, Estimator) else stage
            assert isinstance(operator, AlgoOperator)  # _checked: Estimator or AlgoOperator
            fitted.append(operator)
            if i < last_estimator:
                inputs = operator.transform(*inputs)
        return PipelineModel(fitted)

    def _saved_stages(self) -> list[Stage]:
        return list(self.stages)

    @classmethod
    def _restore(cls, params: dict[str, Any], layout: dict[str, Any], stages: list[Stage]) -> Self:
        return cls(stages)


class PipelineModel(Model):
    """AlgoOperators (usually a fitted Pipeline's) applied in a row by ``transform``."""

    def __init__(self, stages: Sequence[AlgoOperator]) -> None:
        super().__init__()
        checked = _checked(self.stage_name, stages, (AlgoOperator,))
        self.stages: list[AlgoOperator] = [s for s in checked if isinstance(s, AlgoOperator)]

    def transform(self, *tables: Table) -> list[Table]:
        outputs = list(tables)
        for stage in self.stages:
            outputs = stage.transform(*outputs)
        return outputs

    def set_model_data(self, *tables: Table) -> Self:
        raise self.error("model data belong to its stages: use stages[i].set_model_data")

    def get_model_data(self) -> list[Table]:
        raise self.error("model data belong to its stages: use stages[i].get_model_data()")

    def state_tables(self) -> list[Table]:
        return []

    def _saved_stages(self) -> list[Stage]:
        return list(self.stages)

    @classmethod
    def _restore(cls, params: dict[str, Any], layout: dict[str, Any], stages: list[Stage]) -> Self:
        return cls(_checked(cls.__name__, stages, (AlgoOperator,)))  # type: ignore[arg-type]


def _checked(owner: str, stages: Sequence[Stage], kinds: tuple[type, ...]) -> list[Stage]:
    """``stages`` as a list, each of one of ``kinds``; an error naming the first that is not."""
    if isinstance(stages, Stage | str) or not isinstance(stages, Sequence):
        raise MLError(f"{owner}: stages must be a list of stages, got {type(stages).__name__}")
    for i, stage in enumerate(stages):
        if not isinstance(stage, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise MLError(f"{owner}: stage {i} is a {type(stage).__name__}, not: {wanted}")
    return list(stages)
