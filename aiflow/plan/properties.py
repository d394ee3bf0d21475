"""The per-mode node properties the platform defines: which keys a node kind takes, in which
mode, of which type (``af.read_example(ex, batch={"limit": 1000})``).

A node's ``properties`` hold one dict per mode (``batch``, ``stream``) plus ``common`` (the
DSL's ``properties=``, applying in both). ``check_properties`` refuses an unknown key or a
wrongly typed value naming the node and the valid keys; the DSL calls it when a node is added
(the error points at the line) and ``validate.check_for_run`` again for plans that come from
elsewhere (a stored workflow version). Values are recorded as the user gave them.

Not here: whether an engine implements a property — each operator declares the ones it
honours (``Operator.properties``) and the translators refuse the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiflow.errors import InvalidPlan
from aiflow.plan.model import MODES, Node, NodeKind

COMMON = "common"


class _Properties(BaseModel):
    # strict: "5" is not a limit, True is not a number — a typo must not become a value
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReadBatch(_Properties):
    limit: Annotated[int, Field(ge=0, description="read only the first N records")] | None = None


class ReadStream(_Properties):
    poll_interval: (
        Annotated[float, Field(gt=0, description="seconds between scans of the stream directory")]
        | None
    ) = None


class PredictStream(_Properties):
    model_refresh: (
        Annotated[float, Field(gt=0, description="seconds between checks of the serving version")]
        | None
    ) = None


class TrainStream(_Properties):
    every_records: (
        Annotated[int, Field(ge=1, description="register a version once a window holds N records")]
        | None
    ) = None
    every_seconds: (
        Annotated[float, Field(gt=0, description="register a version once a window is N s old")]
        | None
    ) = None


class ValidateSettings(_Properties):
    """Set by ``af.validate``'s arguments (recorded as common properties, so a stored plan
    carries them and the same checks apply to it)."""

    # required, checked where the node is made (af.validate) and by the operators: a subset of
    # these may be given per mode, so the model itself cannot require it
    metric: Annotated[str, Field(min_length=1, description="the metric to decide on")] | None = None
    better_than: Literal["deployed"] | None = "deployed"
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    mode: Literal["max", "min"] = "max"
    threshold: float | None = None


class PushSettings(_Properties):
    alias: Annotated[str, Field(min_length=1, description="the alias the push moves")] = "deployed"


# node kind -> mode -> the properties it takes in that mode; a kind or mode not listed takes none
PROPERTIES: dict[NodeKind, dict[str, type[_Properties]]] = {
    NodeKind.READ_EXAMPLE: {"batch": ReadBatch, "stream": ReadStream},
    NodeKind.PREDICT: {"stream": PredictStream},
    NodeKind.TRAIN: {"stream": TrainStream},
    NodeKind.VALIDATE: {COMMON: ValidateSettings},
    NodeKind.PUSH: {COMMON: PushSettings},
}


def valid_properties(kind: NodeKind, mode: str) -> list[str]:
    """The keys a node of ``kind`` takes in ``mode`` (``common``: in either mode)."""
    modes = (*MODES, COMMON) if mode == COMMON else (mode, COMMON)
    models = PROPERTIES.get(kind, {})
    return sorted({key for m in modes if m in models for key in models[m].model_fields})


def check_properties(node: Node) -> None:
    """``InvalidPlan`` naming the node for an unknown property or a value of the wrong type."""
    for mode, values in node.properties.items():
        if mode != COMMON and mode not in MODES:
            raise InvalidPlan(f"properties for unknown mode {mode!r}", node.id)
        _check(node, mode, values)


def _check(node: Node, mode: str, values: dict[str, Any]) -> None:
    which = "" if mode == COMMON else f"{mode} "
    valid = valid_properties(node.kind, mode)
    for key in values:
        if key not in valid:
            takes = ", ".join(valid) or (
                f"none ({node.kind.value} nodes take no {which}properties)"
            )
            raise InvalidPlan(f"unknown {which}property {key!r}; valid: {takes}", node.id)
    for model_mode, model in PROPERTIES.get(node.kind, {}).items():
        if model_mode != COMMON and mode not in (COMMON, model_mode):
            continue
        mine = {k: v for k, v in values.items() if k in model.model_fields}
        try:
            model.model_validate(mine)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = error["loc"][0] if error["loc"] else "?"
            raise InvalidPlan(
                f"{which}property '{field}': {error['msg']} (got {error['input']!r})", node.id
            ) from None
