"""``aiflow.ml`` stages as workflow components: the adapters ``af.train`` and ``af.transform``
wrap them in, and the pandas <-> ``Table`` bridge that ``af.predict`` uses.

A plan records components as a class and JSON constructor parameters, which the job rebuilds
from the source snapshot. An ``aiflow.ml`` stage already has such a form: what ``save`` writes
for a stage without tables is only ``metadata.json`` files (class, params; a pipeline's or
graph's stages under ``stages/<i>/``). So ``af.train(data, Pipeline([...]))`` records an
``MLTrainer`` whose one parameter, ``stage``, is that folder as JSON::

    {"files": {"metadata.json": {...}, "stages/0/metadata.json": {...}, ...}}

and the job writes those files back into a temporary folder and ``aiflow.ml.load``\\ s it: the
plan stays JSON (its hash stable: params are JSON values in a fixed order), and a stage is
rebuilt by the same code, with the same trust rule, that loads a saved model -- only classes of
``aiflow.ml`` are instantiated, never an import path read from the plan. Hence the limits,
checked when the workflow is built: every class must be an ``aiflow.ml`` one, and the stage may
hold no tables (a fitted ``Model``, an estimator given initial model data): tables are data,
not parameters; register them as a model version instead.

Data: a pandas batch becomes a ``Table`` column by column (a column of 1-D arrays or lists is a
vector column), and the stage's first output table comes back as the input batch (its index,
its columns as they were) plus the columns the stage added or replaced, a vector column as one
1-D float array per row.

Engine: under ``--engine flink`` the train job passes ``engine="flink"``, so the fit runs on
Flink (``aiflow.ml.flink``: iterative fits data-parallel, others in one Flink task); the model
comes back to the job, which registers it as on the local engine.

Stream mode: ``Trainer.fit`` gets the serving version as ``base_model``. An estimator that can
start from model data (``set_initial_model_data``: an online estimator, KMeans) continues from
the base version's model data -- in a ``Pipeline``, each such estimator from the matching stage
of the base ``PipelineModel``; any other estimator is refitted on each window.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiflow.dsl.components import Trainer, Transformer
from aiflow.errors import InvalidPlan, MLError
from aiflow.ml import Pipeline, PipelineModel, Table, load
from aiflow.ml.api import AlgoOperator, Estimator, Model, Stage
from aiflow.ml.persist import METADATA, TRUSTED_PACKAGE

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("aiflow.runtime")

# the only files a stage spec may hold: a metadata.json, nested under stages/<i>/ (no "..")
_SPEC_FILE = re.compile(r"(stages/\d+/)*metadata\.json")


def stage_spec(stage: Stage, node: str | None = None) -> dict[str, Any]:
    """``stage`` as the JSON its adapter records in the plan (see the module docstring);
    ``InvalidPlan`` naming ``node`` and the class when it cannot be recorded."""
    with tempfile.TemporaryDirectory(prefix="aiflow-stage-") as tmp:
        folder = Path(tmp) / "stage"
        try:
            stage.save(folder)
        except MLError as exc:
            raise InvalidPlan(
                f"cannot record {stage.stage_name} in the plan: {exc}", node
            ) from None
        files: dict[str, Any] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if not _SPEC_FILE.fullmatch(name):
                raise InvalidPlan(
                    f"{stage.stage_name} holds tables ({name}): a stage in a workflow is "
                    "recorded by its params only; pass an unfitted stage (a fitted model is "
                    "registered with af.train and applied with af.predict)",
                    node,
                )
            metadata = json.loads(path.read_text(encoding="utf-8"))
            cls = str(metadata.get("class", ""))
            if not cls.startswith(TRUSTED_PACKAGE + "."):
                raise InvalidPlan(
                    f"{cls} is not an {TRUSTED_PACKAGE} class: a workflow rebuilds only "
                    f"{TRUSTED_PACKAGE} stages (wrap your own in an af.Trainer/af.Transformer)",
                    node,
                )
            files[name] = metadata
    return {"files": files}


def build_stage(spec: dict[str, Any]) -> Stage:
    """The stage a ``stage_spec`` describes (a new object each call)."""
    files = spec.get("files") if isinstance(spec, dict) else None
    if not isinstance(files, dict) or METADATA not in files:
        raise MLError(f"not an aiflow.ml stage spec (expected {{'files': {{'{METADATA}': ...}}}})")
    with tempfile.TemporaryDirectory(prefix="aiflow-stage-") as tmp:
        root = Path(tmp)
        for name, metadata in files.items():
            if not _SPEC_FILE.fullmatch(str(name)):
                raise MLError(f"stage spec: unexpected file {name!r}")
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(metadata), encoding="utf-8")
        return load(root)


def adapter_for(stage: Stage, kind: str, node: str) -> Trainer | Transformer:
    """The component ``af.<kind>`` records for an ``aiflow.ml`` stage ("train": an
    Estimator or Pipeline; "transform": an AlgoOperator), or ``InvalidPlan`` naming ``node``."""
    if kind == "train":
        if not isinstance(stage, Estimator):
            raise InvalidPlan(
                f"af.train needs an aiflow.ml Estimator or Pipeline, got {stage.stage_name} "
                "(an AlgoOperator: apply it with af.transform)",
                node,
            )
        return MLTrainer(stage=stage_spec(stage, node))
    if not isinstance(stage, AlgoOperator):
        raise InvalidPlan(
            f"af.transform needs an aiflow.ml Transformer or AlgoOperator, got "
            f"{stage.stage_name} (an Estimator: fit it with af.train, apply the model with "
            "af.predict)",
            node,
        )
    return MLTransformer(stage=stage_spec(stage, node))


class MLTrainer(Trainer):
    """``af.train`` with an ``aiflow.ml`` Estimator: fits it on the batch (see the module
    docstring for ``base_model``); the fitted model is saved with the ``aiflow.ml`` flavor."""

    def __init__(self, stage: dict[str, Any]) -> None:
        self.spec = stage
        self.stage_name = build_stage(stage).stage_name  # fails at instantiation if broken

    def fit(self, batch: pd.DataFrame, base_model: Any = None, *, engine: str = "local") -> Model:
        """The fitted model; ``engine="flink"`` (the job's engine) fits on Flink."""
        estimator = build_stage(self.spec)  # fresh: continuing sets its initial model data
        assert isinstance(estimator, Estimator)
        if base_model is not None:
            continue_from(estimator, base_model)
        return estimator.fit(to_table(batch).on(engine))


class MLTransformer(Transformer):
    """``af.transform`` with an ``aiflow.ml`` AlgoOperator, applied to each (micro-)batch."""

    def __init__(self, stage: dict[str, Any]) -> None:
        self.spec = stage
        built = build_stage(stage)
        assert isinstance(built, AlgoOperator)
        self.operator: AlgoOperator = built

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return apply_stage(self.operator, batch, keep_rows=False)


def continue_from(estimator: Estimator, base: Any) -> None:
    """Start ``estimator`` from ``base``'s model data where it can; a base it cannot start from
    (another kind of model, another ``k``) is logged and the estimator fits from scratch."""
    pairs: list[tuple[Stage, Any]] = [(estimator, base)]
    if isinstance(estimator, Pipeline):
        # a fitted pipeline has one stage per stage of the pipeline, in order
        fitted_stages = base.stages if isinstance(base, PipelineModel) else []
        same_shape = len(fitted_stages) == len(estimator.stages)
        pairs = list(zip(estimator.stages, fitted_stages, strict=True)) if same_shape else []
    for stage, fitted in pairs:
        setter = getattr(stage, "set_initial_model_data", None)
        if setter is None:
            continue
        try:
            if not isinstance(fitted, Model) or isinstance(fitted, PipelineModel):
                raise MLError(f"the base model is a {type(fitted).__name__}")
            setter(*fitted.get_model_data())
        except MLError as exc:
            log.warning(
                "%s fits from scratch, not from the base model's data: %s", stage.stage_name, exc
            )


# -- pandas <-> Table ---------------------------------------------------------------------------


def to_table(frame: pd.DataFrame) -> Table:
    """The batch as a ``Table``: a column of 1-D arrays or lists becomes a vector column."""
    return Table({str(name): frame[name].to_numpy() for name in frame.columns})


def apply_stage(operator: AlgoOperator, frame: pd.DataFrame, *, keep_rows: bool) -> pd.DataFrame:
    """``frame`` plus the columns ``operator``'s first output adds or replaces (an empty
    ``frame`` as is). With ``keep_rows`` (a predictor) a stage that drops rows is an error;
    otherwise its output replaces the batch when the row count changed."""
    if frame.empty:  # a micro-batch may be empty; models refuse empty tables
        return frame.copy()
    table = to_table(frame)
    outputs = operator.transform(table)
    if not outputs:
        raise MLError(f"{operator.stage_name}: transform returned no table")
    out = outputs[0]
    if out.num_rows != len(frame):
        if keep_rows:
            raise MLError(
                f"{operator.stage_name}: returned {out.num_rows} rows for {len(frame)}; a "
                "predictor must keep every record (handle_invalid='skip' drops rows: use "
                "'keep' or 'error')"
            )
        return out.to_pandas()
    changed = [
        name
        for name in out.columns
        if name not in table or not np.may_share_memory(out.column(name), table.column(name))
    ]
    added = out.select(changed).to_pandas()
    result = frame.copy()
    for name in changed:
        result[name] = added[name].to_numpy()
    return result
