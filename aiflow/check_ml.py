"""``aiflow check``'s ``ml-fit/<node>`` entries: does an ``aiflow.ml`` estimator trained by the
workflow fit the same model on Flink as locally?

``aiflow check`` leaves training out of its per-record paths (``aiflow.check``), but a train
node whose component is an ``MLTrainer`` (``af.train(data, <aiflow.ml Estimator or Pipeline>)``)
makes a promise of its own: ``aiflow.ml`` runs the same estimator on a ``Table`` on engine
``flink`` (``aiflow.ml.flink.engine``) and must fit the same model there. For each such node,
when ``flink`` is among the engines of check's paths (``--engines``), the estimator is rebuilt
from the plan (``build_stage``) and fitted twice on the node's input sample: once as a local
job fits it (``MLTrainer.fit``), once on the same table on Flink (``Table.on("flink")``, the
``flink.*`` settings check's Flink paths run with). Both fitted models then transform the
*local* sample table, so a difference can only come from the fit, and their first output
tables are compared column by column (floats within check's tolerance, vectors per element,
anything else exactly) and by row count.

The input sample: the first ``rows`` records of the train node's source's batch view (the
sample rule check uses for its sources), through the transform nodes between that source and
the train node, each rebuilt from the plan and applied in this process, as check's
``serve/request`` path and the prediction service run a chain. Running the upstream as a job
would add a workflow run per node for the same records. Nodes whose input cannot be sampled
that way are not compared: an input that is not ``read_example -> transform ... -> train``
(a SQL transform, a join, another node's output), or a source with no batch view in files.

Each node gives one ``PathResult`` (engine ``ml-fit``, mode = node id, so named
``ml-fit/<node>``): ``rows`` per engine (``local``, ``flink``), ``diffs`` per engine compared
with the local fit, and ``problems`` for a fit or transform that failed, a row count or a set
of columns that differs. It fails ``aiflow check`` like any other path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aiflow.check import ColumnDiff, PathResult

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from aiflow.dsl.workflow import Workflow
    from aiflow.ml import Table
    from aiflow.plan.model import LogicalPlan, Node

ML_FIT = "ml-fit"  # the entries' engine part: ml-fit/<node id>
_TRAINER = ("aiflow.dsl.ml_stage", "MLTrainer")


def ml_fit_results(
    wf: Workflow, engines: Iterable[str], *, rows: int = 50, tolerance: float = 1e-9
) -> list[PathResult]:
    """One ``ml-fit/<node>`` result per train node of ``wf`` with an ``aiflow.ml`` estimator
    whose input can be sampled, comparing its local fit with its fit on each of ``engines``
    that ``aiflow.ml`` tables run on besides ``local`` (none: no results)."""
    from aiflow.ml.table import ENGINES

    others = sorted({e for e in engines if e in ENGINES and e != "local"})
    if not others:
        return []
    results = []
    for node in wf.plan.nodes:
        ref = node.component
        if node.kind.value != "train" or ref is None or (ref.module, ref.qualname) != _TRAINER:
            continue
        result = PathResult(ML_FIT, node.id)
        try:
            frame = train_input(wf, node, rows)
        except Exception as exc:  # the transforms in front of the node failed
            result.problems.append(f"computing the input sample failed: {exc}")
            results.append(result)
            continue
        if frame is not None:
            compare_fits(ref.params["stage"], frame, others, result, tolerance)
            results.append(result)
    return results


def train_input(wf: Workflow, train: Node, rows: int) -> pd.DataFrame | None:
    """What ``train`` fits on for the first ``rows`` records of its source, or ``None`` when
    its input is not a source's batch file through per-record transforms."""
    from aiflow.translators import io
    from aiflow.translators.usercode import UserCode

    found = _upstream(wf.plan, train)
    if found is None:
        return None
    steps, source = found
    example = source.example
    assert example is not None
    if not example.batch_uri or example.batch_uri.startswith("kafka://"):
        return None
    frame = io.read_example_uri(example.batch_uri, example.format, example.columns).head(rows)
    in_file = any(n.component is not None and n.component.module.startswith("file:") for n in steps)
    # the workflow file is loaded (as a job loads its snapshot) only when its classes are needed
    file = wf.source_file if in_file else None
    code = UserCode(file.parent, file.name) if file is not None else UserCode(None, None)
    for step in steps:
        assert step.component is not None
        frame = code.instantiate(step.component, step.id).transform(frame)
    return frame


def _upstream(plan: LogicalPlan, train: Node) -> tuple[list[Node], Node] | None:
    """The transform nodes from the source to ``train``, in the order they run, and the
    ``read_example`` node; ``None`` if anything else is on the way."""
    from aiflow.dsl.sql import is_sql

    steps: list[Node] = []
    current = train
    while True:
        data = [e for e in plan.inputs_of(current.id) if e.kind == "data"]
        if len(data) != 1:
            return None
        node = plan.node(data[0].source.node)
        if node.kind.value == "read_example":
            return steps[::-1], node
        ref = node.component
        if node.kind.value != "transform" or ref is None or is_sql(ref.module, ref.qualname):
            return None
        steps.append(node)
        current = node


def compare_fits(
    spec: dict[str, object],
    frame: pd.DataFrame,
    engines: list[str],
    result: PathResult,
    tolerance: float,
) -> None:
    """Fit the estimator ``spec`` describes on ``frame`` locally and on each of ``engines``;
    record in ``result`` how each fitted model's output on the local table differs."""
    from aiflow.dsl.ml_stage import MLTrainer, build_stage, to_table
    from aiflow.ml.api import Estimator

    table = to_table(frame)
    try:
        reference = _first_output(MLTrainer(stage=spec).fit(frame), table)  # as a local job
    except Exception as exc:
        result.problems.append(f"local: fit or transform failed on {len(frame)} rows: {exc}")
        return
    result.rows["local"] = reference.num_rows
    for engine in engines:
        try:
            estimator = build_stage(spec)
            assert isinstance(estimator, Estimator)
            got = _first_output(estimator.fit(table.on(engine)), table)
        except Exception as exc:  # one engine failing must not hide the others' results
            result.problems.append(f"{engine}: fit or transform failed: {exc}")
            continue
        result.rows[engine] = got.num_rows
        compare_tables(reference, got, engine, result, tolerance)


def _first_output(model: object, table: Table) -> Table:
    from aiflow.ml.api import Model

    assert isinstance(model, Model)
    outputs = model.transform(table)
    if not outputs:
        raise RuntimeError(f"{model.stage_name}.transform returned no table")
    return outputs[0].on("local")


def compare_tables(
    reference: Table, got: Table, name: str, result: PathResult, tolerance: float
) -> None:
    """``got`` against ``reference``, row by row, into ``result.diffs[name]`` (or a problem)."""
    if set(got.columns) != set(reference.columns):
        result.problems.append(
            f"{name}: columns {sorted(got.columns)} instead of {sorted(reference.columns)}"
        )
        return
    if got.num_rows != reference.num_rows:
        result.problems.append(f"{name}: {got.num_rows} rows instead of {reference.num_rows}")
        return
    diffs = []
    for column in reference.columns:
        a, b = reference.column(column), got.column(column)
        if a.shape != b.shape:
            result.problems.append(f"{name}: column '{column}' has shape {b.shape}, not {a.shape}")
            continue
        diffs.append(_column_diff(column, a, b, tolerance))
    result.diffs[name] = diffs


def _column_diff(column: str, a: np.ndarray, b: np.ndarray, tolerance: float) -> ColumnDiff:
    """Rows of ``a`` and ``b`` that differ: floats (a vector: any element) by more than
    ``tolerance`` or in being NaN, anything else in value."""
    rows = len(a)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        x = a.astype(np.float64).reshape(rows, -1)
        y = b.astype(np.float64).reshape(rows, -1)
        delta = np.abs(x - y)
        bad = (delta > tolerance) | (np.isnan(x) != np.isnan(y))
        finite = delta[~np.isnan(delta)]
        largest = float(finite.max()) if finite.size else 0.0
        return ColumnDiff(column, int(bad.any(axis=1).sum()), largest)
    differ = (a != b).reshape(rows, -1).any(axis=1)
    return ColumnDiff(column, int(differ.sum()))
