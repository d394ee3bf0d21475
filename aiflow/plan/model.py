"""The logical plan: what the DSL builds and the meta store keeps.

A plan is plain data (pydantic v2, JSON round-trips), holds no live Python objects, and is
canonical: the same workflow code gives byte-identical JSON and so the same hash, which is
how the meta store recognises an unchanged workflow version. Node ids are derived from names,
never from memory addresses or counters shared between workflows.

Not here: validation that depends on the run mode or installed engines (see ``validate``), and
splitting into jobs (translators).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PLAN_FORMAT_VERSION = 1
MODES = ("batch", "stream")
Mode = Literal["batch", "stream"]


class NodeKind(StrEnum):
    READ_EXAMPLE = "read_example"
    WRITE_EXAMPLE = "write_example"
    TRANSFORM = "transform"
    TRAIN = "train"
    EVALUATE = "evaluate"
    PREDICT = "predict"
    VALIDATE = "validate"  # evaluate a new model version on held-out data, decide if it is better
    PUSH = "push"  # move an alias (default ``deployed``) onto the versions validate passed
    USER_OPERATION = "user_operation"
    # Physical only: inserted by translators where an edge crosses a job boundary.
    READ_INTERMEDIATE = "read_intermediate"
    WRITE_INTERMEDIATE = "write_intermediate"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComponentRef(_Frozen):
    """Where user code lives and how to rebuild it: ``module`` is a dotted module name, or
    ``file:<path relative to the snapshot root>`` for the workflow file itself."""

    module: str
    qualname: str
    params: dict[str, Any] = Field(default_factory=dict)


class ExampleSpec(_Frozen):
    name: str
    columns: dict[str, str] | None = None
    format: str = "csv"
    batch_uri: str | None = None
    stream_uri: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class Channel(_Frozen):
    """One output of one node (AI Flow called it a channel: node id + port)."""

    node: str
    port: int = 0


class DataEdge(_Frozen):
    source: Channel
    target: str
    target_port: int
    # "model" edges carry a trained model, not records: they order jobs and never fuse them.
    kind: Literal["data", "model"] = "data"


class ControlEdge(_Frozen):
    upstream: str
    downstream: str


class ActionRule(_Frozen):
    """Start, restart or stop a node's job on each matching event of the meta store's event
    log (AI Flow's control dependencies, for loops built from separate jobs). A node with rules
    runs only when they fire, each fire as an execution of its own job, never with the rest
    of the workflow.

    ``event_type`` and ``key`` select events exactly, ``value`` is a shell-style pattern. A
    ``job_status`` rule names the upstream *node* in a logical plan and its *job* in a physical
    one (``value``): its events are the ``JOB_<STATUS>`` events of this workflow's executions.
    """

    node: str
    on: Literal["model_version", "job_status", "event"]
    event_type: str
    key: str | None = None
    value: str | None = None
    action: Literal["start", "restart", "stop"] = "start"


class Node(_Frozen):
    id: str
    kind: NodeKind
    engine: str | None = None  # None: the workflow's engine
    component: ComponentRef | None = None
    example: ExampleSpec | None = None
    model: str | None = None  # model name, for train / evaluate / predict / validate / push
    properties: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per mode, + "common"
    output_columns: dict[str, str] | None = None  # declared output schema, when known
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    # Per-deployer settings of this node's job (``deploy={"kubernetes": {"image": ...}}``):
    # deployer name -> JSON options, checked by that deployer when a run uses it, ignored by
    # the others, so one workflow runs anywhere. Empty for most nodes (and left out of the hash).
    deploy: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def props(self, mode: str) -> dict[str, Any]:
        """The node's properties for one mode: common ones overlaid with the mode's."""
        return {**self.properties.get("common", {}), **self.properties.get(mode, {})}


class LogicalPlan(_Frozen):
    format_version: int = PLAN_FORMAT_VERSION
    workflow: str
    engine: str = "local"
    nodes: list[Node]
    edges: list[DataEdge] = Field(default_factory=list)
    control_edges: list[ControlEdge] = Field(default_factory=list)
    actions: list[ActionRule] = Field(default_factory=list)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> list[DataEdge]:
        return sorted((e for e in self.edges if e.target == node_id), key=lambda e: e.target_port)

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        if not data["actions"]:  # plans without rules hash as they did before rules existed
            del data["actions"]
        for node in data["nodes"]:  # nor do nodes without deployer options
            if not node["deploy"]:
                del node["deploy"]
        return canonical_json(data)

    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
