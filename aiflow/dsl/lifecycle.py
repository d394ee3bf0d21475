"""The model lifecycle in a workflow: ``af.validate`` a new version on held-out data, then
``af.push`` it (move the ``deployed`` alias) if it passed.

Both are nodes of the plan like any other, so the same workflow runs them in batch mode (once,
on the version its train node just registered) and in stream mode (on every version training
registers, as it appears). ``validate`` outputs one decision per version it checked and
``push`` consumes them, so the two always run in one job, in that order; a ``predict`` of the
same model runs after the push (see ``translators.translator``), so it serves what was pushed.

Not here: how a decision is made and recorded (``translators/local/lifecycle.py``) or what
the lifecycle words mean (``aiflow.schemas.entities``).
"""

from __future__ import annotations

import math
from typing import Any, Unpack

from aiflow.dsl.components import Evaluator, Pusher
from aiflow.dsl.example import Model, checked_name
from aiflow.dsl.nodes import (
    NodeOptions,
    _check_feeds,
    _component_ref,
    _model_input,
    _new_node,
    _own_data,
)
from aiflow.dsl.workflow import DataRef, ModelRef, NodeRef, _wf
from aiflow.errors import InvalidPlan
from aiflow.plan.model import Node, NodeKind

MODES = ("max", "min")
BASELINES = ("deployed", None)


class ValidatedRef(NodeRef):
    """The decisions of a ``validate`` node on versions of ``model_name``; ``af.push`` takes
    it (and nothing else: pushing an unvalidated model is refused)."""

    def __init__(self, workflow: Any, node_id: str, model_name: str) -> None:
        super().__init__(workflow, node_id)
        self.model_name = model_name


def validate(
    model: ModelRef | Model,
    data: DataRef,
    evaluator: Evaluator,
    *,
    metric: str | None = None,
    better_than: str | None = "deployed",
    min_delta: float = 0.0,
    mode: str = "max",
    threshold: float | None = None,
    **opts: Unpack[NodeOptions],
) -> ValidatedRef:
    """Evaluate each new version of ``model`` on ``data`` (read whole from its batch view, in
    either mode) and decide: ``validated`` when ``metric`` meets ``threshold`` (if set) and
    beats the version deployed at that moment by more than ``min_delta`` in ``mode``'s
    direction (``better_than=None``: the threshold alone decides), else ``rejected``. Both
    versions are scored on the same records; the metrics of both are kept with the decision."""
    wf = _wf("validate")
    name = model.model_name if isinstance(model, ModelRef) else getattr(model, "name", "model")
    common = _new_node(wf, NodeKind.VALIDATE, f"validate_{name}", opts)
    node_id = common["id"]
    if metric is None or not isinstance(metric, str) or not metric:
        raise InvalidPlan(
            "af.validate needs metric='<name>': the evaluator's metric that decides whether a "
            "version is better (e.g. metric='auc')",
            node_id,
        )
    if mode not in MODES:
        raise InvalidPlan(f"mode={mode!r}: expected 'max' or 'min'", node_id)
    if better_than not in BASELINES:
        raise InvalidPlan(
            f"better_than={better_than!r}: expected 'deployed' (compare with the version "
            "deployed at that moment) or None (the threshold alone decides)",
            node_id,
        )
    for what, value in (("min_delta", min_delta), ("threshold", threshold)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidPlan(f"{what}={value!r} must be a finite number", node_id)
    if min_delta < 0:
        raise InvalidPlan(f"min_delta={min_delta!r} must be >= 0", node_id)
    if better_than is None and threshold is None:
        raise InvalidPlan(
            "af.validate with better_than=None needs a threshold=: otherwise every version "
            "would pass",
            node_id,
        )
    ref = _component_ref(evaluator, node_id, Evaluator)
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), evaluator.input_schema)
    model_name, model_inputs = _model_input(wf, node_id, model)
    settings: dict[str, Any] = {
        "metric": metric,
        "better_than": better_than,
        "min_delta": float(min_delta),
        "mode": mode,
        "threshold": None if threshold is None else float(threshold),
    }
    common["properties"] = {**common["properties"]}
    common["properties"]["common"] = {**common["properties"].get("common", {}), **settings}
    wf._add(
        Node(**common, component=ref, model=model_name),
        [(data, "data"), *model_inputs],
    )
    return ValidatedRef(wf, node_id, model_name)


def push(
    checked: ValidatedRef,
    *,
    alias: str = "deployed",
    pusher: Pusher | None = None,
    **opts: Unpack[NodeOptions],
) -> NodeRef:
    """Point ``alias`` at each version ``checked`` validated, after ``pusher.push(version)``
    (if given) succeeded; a version whose pusher raised is marked ``failed`` and the alias
    stays where it was."""
    wf = _wf("push")
    default = f"push_{checked.model_name}" if isinstance(checked, ValidatedRef) else "push"
    common = _new_node(wf, NodeKind.PUSH, default, opts)
    node_id = common["id"]
    if not isinstance(checked, ValidatedRef):
        got = (
            f"the output of '{checked.node_id}'"
            if isinstance(checked, NodeRef)
            else type(checked).__name__
        )
        raise InvalidPlan(
            f"af.push needs the output of af.validate (push only what was validated), got {got}",
            node_id,
        )
    wf._own(checked, node_id, "validated model")
    try:
        checked_name("alias", alias)
    except InvalidPlan as exc:
        raise InvalidPlan(exc.message, node_id) from None
    component = None
    if pusher is not None:
        component = _component_ref(pusher, node_id, Pusher)
    common["properties"] = {**common["properties"]}
    common["properties"]["common"] = {**common["properties"].get("common", {}), "alias": alias}
    wf._add(Node(**common, component=component, model=checked.model_name), [(checked, "data")])
    return NodeRef(wf, node_id)
