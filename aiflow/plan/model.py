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
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal, TypeVar, cast

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
        """The (first) node with id ``node_id``; ``KeyError`` if there is none."""
        return memo(self, "node_index", _node_index)[node_id]

    def inputs_of(self, node_id: str) -> list[DataEdge]:
        """The edges into ``node_id``, in port order (declaration order within a port)."""
        return list(memo(self, "inputs_index", _inputs_index).get(node_id, ()))

    def canonical_json(self) -> str:
        return plan_canonical_json(self.model_dump(mode="json"))

    def hash(self) -> str:
        return plan_hash(self.model_dump(mode="json"))


def plan_canonical_json(data: dict[str, Any]) -> str:
    """The canonical JSON of a plan's ``model_dump(mode="json")``, which is left as it was:
    ``submit_workflow`` stores that dump and hashes it, instead of dumping 100,000 nodes twice.
    Plans without rules hash as they did before rules existed, nor do nodes without deployer
    options: those empty values are set aside while the JSON is written, then put back last,
    where ``model_dump`` has them (copying 100,000 nodes without them took longer than the
    JSON itself)."""
    set_aside = [node for node in data["nodes"] if not node["deploy"]]
    deploys = [node.pop("deploy") for node in set_aside]
    actions = data.pop("actions") if not data["actions"] else None
    try:
        return canonical_json(data)
    finally:
        if actions is not None:
            data["actions"] = actions
        for node, deploy in zip(set_aside, deploys, strict=True):
            node["deploy"] = deploy


def plan_hash(data: dict[str, Any]) -> str:
    """``LogicalPlan.hash`` of a plan's ``model_dump(mode="json")``."""
    return hashlib.sha256(plan_canonical_json(data).encode()).hexdigest()


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


T = TypeVar("T")


def memo(plan: LogicalPlan, name: str, compute: Callable[[LogicalPlan], T]) -> T:
    """``compute(plan)``, computed once per plan: a plan is frozen, and a 100,000-node plan is
    asked for its node index or topological order by several passes (validation, translation,
    the graph API). Kept in the instance's ``__dict__`` beside the fields (pydantic compares,
    dumps and hashes fields only) with the lists it was computed from: a ``model_copy`` with
    other nodes or edges carries the entry along, and recomputes since its lists differ."""
    nodes, edges, control, actions = plan.nodes, plan.edges, plan.control_edges, plan.actions
    sizes = (len(nodes), len(edges), len(control), len(actions))
    state = plan.__dict__
    hit = state.get(_MEMO_PREFIX + name)
    if hit is not None:  # (called per node by some passes: no loop, no generator here)
        lists, sized, value = hit
        if (
            sized == sizes
            and lists[0] is nodes
            and lists[1] is edges
            and lists[2] is control
            and lists[3] is actions
        ):
            return cast(T, value)
    value = compute(plan)
    state[_MEMO_PREFIX + name] = ((nodes, edges, control, actions), sizes, value)
    return value


_MEMO_PREFIX = "__aiflow_memo_"


def _node_index(plan: LogicalPlan) -> dict[str, Node]:
    index: dict[str, Node] = {}
    for node in plan.nodes:
        index.setdefault(node.id, node)
    return index


def _inputs_index(plan: LogicalPlan) -> dict[str, list[DataEdge]]:
    inputs: dict[str, list[DataEdge]] = {}
    for edge in plan.edges:
        inputs.setdefault(edge.target, []).append(edge)
    for edges in inputs.values():
        if len(edges) > 1:
            edges.sort(key=lambda e: e.target_port)  # stable: declaration order within a port
    return inputs
