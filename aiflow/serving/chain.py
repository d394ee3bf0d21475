"""What a request goes through before and in ``predict``: the workflow's per-record chain.

With ``--workflow FILE``, the service runs the same code a batch or stream job runs on the same
record: it loads the file the way the job runtime loads a snapshot (``UserCode``, under the
module name ``aiflow_workflow``, so models pickled with the file's classes load too), finds the
predict node that serves the model, walks its data input upstream through transform nodes to
the ``read_example`` it starts from, and rebuilds each component from the parameters recorded in
the plan. A request's instances must then look like records of that example; they go through
the transforms in order and then the node's Predictor. That is the offline/online consistency
promise of a workflow file, kept for request/response.

Only per-record steps can stand in front of a served model: a train, evaluate or user
operation node, a SQL transform (it may filter or aggregate) or another model's predict node in
the chain is refused at start-up, naming the node. A transform that returns another number of
rows than it got is refused per request (each instance needs its prediction).

Without ``--workflow`` the chain is just ``af.Predictor()`` (the columns the model was fitted on,
``model.predict``; for an ``aiflow.ml`` model, its fitted ``transform``), which is what a
workflow's ``af.predict(data, model)`` runs by default.

Not here: the request's JSON (``protocol``), loading model versions (``model_holder``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.dsl.components import Predictor
from aiflow.dsl.sql import is_sql
from aiflow.dsl.workflow import Workflow
from aiflow.errors import InvalidInput, InvalidPlan, UserCodeError
from aiflow.plan.model import LogicalPlan, Node, NodeKind
from aiflow.serving.fast_path import FastPath, probe
from aiflow.serving.schema import Schema
from aiflow.translators.usercode import WORKFLOW_MODULE, UserCode

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_PREDICT_NODE = "predict"  # the node name errors of the default chain carry


@dataclass(frozen=True)
class Step:
    """One transform of the chain: its node id and the rebuilt Transformer."""

    node: str
    transformer: Any


@dataclass(frozen=True)
class Chain:
    """The transforms and the predictor a request goes through.

    ``schema``: what an instance must hold when the chain comes from a workflow (``None`` when
    its example declares no schema: any fields); without a workflow it comes from each loaded
    model instead (``schema_for``).
    """

    predictor: Any
    steps: tuple[Step, ...] = ()
    predict_node: str = DEFAULT_PREDICT_NODE
    workflow: str | None = None
    example: str | None = None
    schema: Schema | None = None

    @property
    def plain(self) -> bool:
        """Whether the predictor is ``af.Predictor`` itself (not a subclass)."""
        return type(self.predictor) is Predictor

    def schema_for(self, model: Any) -> Schema | None:
        """What a request to ``model`` must hold: the example's records with a workflow (the
        model sees columns the transforms make), else the columns the model was fitted on."""
        return self.schema if self.workflow is not None else Schema.of_model(model)

    def fast_path_for(self, model: Any, schema: Schema | None) -> tuple[FastPath | None, str]:
        """The numpy fast path for a loaded ``model`` (``fast_path``), or ``None``, and why.
        Only the default predictor with no transform in front qualifies: the probe then
        compares the whole chain's answers, the same code a request runs."""
        if not self.plain or self.steps:
            return None, "the chain runs transforms or its own predictor"
        exclude = list(getattr(self.predictor, "exclude", None) or ())
        return probe(self.predict, model, schema, exclude)

    def predict(self, frame: pd.DataFrame, model: Any) -> list[Any]:
        """One prediction per row of ``frame``: the ``prediction`` column the predictor adds, or,
        for a predictor that adds other columns, those columns as one object per row.

        User code that raises, returns something other than a DataFrame, or changes the number
        of rows raises ``UserCodeError`` naming its node."""
        import pandas as pd

        if self.plain and not self.steps:
            fitted_on = getattr(model, "feature_names_in_", None)
            if fitted_on is not None and list(frame.columns) == list(fitted_on):
                # What Predictor.predict computes, without copying the frame and selecting
                # the columns it already has in that order.
                return list(_run(self.predict_node, "predict()", model.predict, frame).tolist())
        rows = len(frame)
        for step in self.steps:
            frame = _run(step.node, "transform()", step.transformer.transform, frame)
            _check_frame(frame, rows, step.node, "transform()")
        out = _run(self.predict_node, "predict()", self.predictor.predict, frame, model)
        _check_frame(out, rows, self.predict_node, "predict()")
        assert isinstance(out, pd.DataFrame)
        if "prediction" in out.columns:
            return list(out["prediction"].tolist())
        added = [c for c in out.columns if c not in frame.columns]
        if not added:
            raise UserCodeError(
                "predict() added no column: it must add 'prediction' (or the columns it "
                "declares as output)",
                self.predict_node,
            )
        return list(out[added].to_dict("records"))


def default_chain() -> Chain:
    """``af.Predictor()`` alone: what ``af.predict(data, model)`` runs."""
    return Chain(predictor=Predictor())


def _run(node: str, method: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        raise UserCodeError(f"{method} raised {type(exc).__name__}: {exc}", node) from exc


def _check_frame(value: Any, rows: int, node: str, method: str) -> None:
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise UserCodeError(
            f"{method} returned {type(value).__name__}, expected a pandas DataFrame", node
        )
    if len(value) != rows:
        raise UserCodeError(
            f"{method} returned {len(value)} rows for {rows} instances; in front of a served "
            "model every instance must keep its row",
            node,
        )


# -- building the chain from a workflow file ----------------------------------------------------


def load_chain(file: Path, model_name: str, node: str | None = None) -> Chain:
    """The chain in front of the predict node of ``file`` that serves ``model_name`` (``node``
    picks one when the file has several); ``InvalidInput``/``InvalidPlan`` naming what is
    missing or the node that is not per-record."""
    file = file.expanduser().resolve()
    if not file.is_file():
        raise InvalidInput(f"workflow file {file} does not exist")
    code = UserCode(file.parent, file.name)  # as the job runtime loads a snapshot
    module = sys.modules[WORKFLOW_MODULE]
    plans = [v.plan for v in vars(module).values() if isinstance(v, Workflow)]
    if not plans:
        raise InvalidInput(f"{file} defines no workflow (use `with af.workflow(name) as wf:`)")
    plan, predict = _predict_node(file, plans, model_name, node)
    steps, source = _upstream(plan, predict)
    assert predict.component is not None and source.example is not None
    predictor = code.instantiate(predict.component, predict.id)
    example = source.example
    schema = None
    if example.columns:
        optional = getattr(predictor, "exclude", None) or ()
        schema = Schema.of_example(example.name, example.columns, list(optional))
    return Chain(
        predictor=predictor,
        steps=tuple(
            Step(n.id, code.instantiate(n.component, n.id))
            for n in steps
            if n.component is not None
        ),
        predict_node=predict.id,
        workflow=plan.workflow,
        example=example.name,
        schema=schema,
    )


def _predict_node(
    file: Path, plans: list[LogicalPlan], model_name: str, node: str | None
) -> tuple[LogicalPlan, Node]:
    found = [
        (plan, n)
        for plan in plans
        for n in plan.nodes
        if n.kind is NodeKind.PREDICT and n.model == model_name
    ]
    if node is not None:
        named = [(plan, n) for plan, n in found if n.id == node]
        if not named:
            raise InvalidInput(
                f"{file}: no predict node '{node}' serves model '{model_name}' "
                f"(its predict nodes of '{model_name}': {_names(found) or 'none'})"
            )
        found = named
    if not found:
        others = sorted(
            {str(n.model) for p in plans for n in p.nodes if n.kind is NodeKind.PREDICT}
        )
        raise InvalidInput(
            f"{file}: no predict node serves model '{model_name}' (its predict nodes serve "
            f"{', '.join(others) or 'no model'})"
        )
    if len(found) > 1:
        raise InvalidInput(
            f"{file}: several predict nodes serve model '{model_name}' ({_names(found)}); "
            "pick one with --node NAME"
        )
    return found[0]


def _names(found: list[tuple[LogicalPlan, Node]]) -> str:
    return ", ".join(f"{plan.workflow}/{n.id}" for plan, n in found)


def _upstream(plan: LogicalPlan, predict: Node) -> tuple[list[Node], Node]:
    """The transform nodes between the example and ``predict``, in the order they run, and the
    ``read_example`` node they start from."""
    steps: list[Node] = []
    current = predict
    while True:
        data = [e for e in plan.inputs_of(current.id) if e.kind == "data"]
        if len(data) != 1:  # the DSL gives transform and predict one data input
            raise InvalidPlan(f"has {len(data)} data inputs, expected one", current.id)
        source = plan.node(data[0].source.node)
        if source.kind is NodeKind.READ_EXAMPLE:
            return steps[::-1], source
        if source.kind is not NodeKind.TRANSFORM:
            raise InvalidPlan(
                f"is a {source.kind.value} node in front of predict node '{predict.id}': only "
                "transforms of one record at a time can run before a served model (read_example "
                "-> transform ... -> predict)",
                source.id,
            )
        component = source.component
        if component is not None and is_sql(component.module, component.qualname):
            raise InvalidPlan(
                f"is a SQL transform in front of predict node '{predict.id}': SQL may filter or "
                "aggregate records, so it cannot run per request; write it as an af.Transformer",
                source.id,
            )
        steps.append(source)
        current = source
