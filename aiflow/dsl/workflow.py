"""The workflow builder: ``with af.workflow(name):`` collects the nodes the node functions
(``aiflow.dsl.nodes``) add, and builds the logical plan from them.

Checks that need the whole graph (control-edge cycles) run when the ``with`` block ends. Nothing
here touches the meta store: a workflow that fails validation leaves no trace.
"""

from __future__ import annotations

import contextvars
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.dsl.example import Model, checked_name
from aiflow.errors import InvalidPlan
from aiflow.plan.gc_pause import FreezeAsItGrows, paused_gc
from aiflow.plan.model import (
    ActionRule,
    Channel,
    ControlEdge,
    DataEdge,
    LogicalPlan,
    Node,
)
from aiflow.plan.validate import check_acyclic

if TYPE_CHECKING:
    pass

_current: contextvars.ContextVar[Workflow | None] = contextvars.ContextVar(
    "aiflow_workflow", default=None
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class NodeRef:
    """A handle on a node of a workflow; pass it to ``af.run_after``."""

    def __init__(self, workflow: Workflow, node_id: str) -> None:
        self.workflow = workflow
        self.node_id = node_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.node_id} of {self.workflow.name}>"


class DataRef(NodeRef):
    """Records flowing out of a node; ``columns`` is what is known of their schema."""

    def __init__(
        self, workflow: Workflow, node_id: str, columns: dict[str, str] | None, port: int = 0
    ) -> None:
        super().__init__(workflow, node_id)
        self.port = port
        self.columns = columns


class ModelRef(NodeRef):
    """The model a ``train`` node produces (a new version of ``model_name`` per run)."""

    def __init__(self, workflow: Workflow, node_id: str, model_name: str) -> None:
        super().__init__(workflow, node_id)
        self.model_name = model_name


class Workflow:
    """A workflow under construction; ``plan`` is its logical plan."""

    def __init__(self, name: str, engine: str = "local", source_file: Path | None = None) -> None:
        checked_name("workflow", name)
        self.name = name
        self.engine = engine
        self.source_file = source_file
        self.nodes: list[Node] = []
        self._ids: set[str] = set()
        self.edges: list[DataEdge] = []
        self.control_edges: list[ControlEdge] = []
        self.actions: list[ActionRule] = []  # af.action_on_* (aiflow.dsl.events)
        self.models: dict[str, Model] = {}
        # a third of a 100,000-node build went to the collector walking the nodes built so far
        self._freezer = FreezeAsItGrows()
        self._plan: tuple[tuple[list[Any], ...], tuple[object, ...], LogicalPlan] | None = None

    @property
    def plan(self) -> LogicalPlan:
        """The logical plan of what was added so far. The same object until something is
        added (the lists only grow, or are replaced whole): what the ``with`` block's end
        validated (its topological order, say) is not computed again by ``submit_workflow``."""
        parts = (self.nodes, self.edges, self.control_edges, self.actions)
        key = (self.name, self.engine, tuple(len(part) for part in parts))
        if self._plan is not None:
            cached_parts, cached_key, cached = self._plan
            if cached_key == key and all(a is b for a, b in zip(cached_parts, parts, strict=True)):
                return cached
        plan = LogicalPlan(
            workflow=self.name,
            engine=self.engine,
            nodes=list(self.nodes),
            edges=list(self.edges),
            control_edges=list(self.control_edges),
            actions=list(self.actions),
        )
        self._plan = (parts, key, plan)
        return plan

    def validate(self) -> None:
        check_acyclic(self.plan)

    # -- building blocks used by the node functions -------------------------------------

    def _node_id(self, wanted: str | None, default: str) -> str:
        taken = self._ids
        if wanted is not None:
            if not _NAME_RE.match(wanted):
                raise InvalidPlan(
                    f"node name {wanted!r} may only use letters, digits, '_', '.', '-'"
                )
            if wanted in taken:
                raise InvalidPlan(f"node name {wanted!r} is used twice in workflow '{self.name}'")
            return wanted
        candidate, n = default, 1
        while candidate in taken:
            n += 1
            candidate = f"{default}_{n}"
        return candidate

    def _add(self, node: Node, inputs: list[tuple[NodeRef, str]]) -> None:
        for port, (ref, kind) in enumerate(inputs):
            source_port = ref.port if isinstance(ref, DataRef) else 0
            self.edges.append(
                DataEdge(
                    source=Channel(node=ref.node_id, port=source_port),
                    target=node.id,
                    target_port=port,
                    kind="model" if kind == "model" else "data",
                )
            )
        self.nodes.append(node)
        self._ids.add(node.id)
        self._freezer.grown(len(self.nodes))

    def _own(self, ref: object, node_id: str, what: str) -> None:
        if not isinstance(ref, NodeRef):
            raise InvalidPlan(
                f"{what} must be the output of another node of this workflow, got {ref!r}",
                node_id,
            )
        if ref.workflow is not self:
            raise InvalidPlan(
                f"{what} '{ref.node_id}' is an output of workflow '{ref.workflow.name}', "
                f"not of '{self.name}'",
                node_id,
            )


@contextmanager
def workflow(name: str, engine: str = "local") -> Iterator[Workflow]:
    """Build a workflow: every node function called inside the block adds to it."""
    if _current.get() is not None:
        raise InvalidPlan("af.workflow blocks cannot be nested")
    wf = Workflow(name, engine=engine, source_file=_caller_file())
    token = _current.set(wf)
    try:
        yield wf
    finally:
        _current.reset(token)
        wf._freezer.release()
    with paused_gc():
        wf.validate()


def _caller_file() -> Path | None:
    """The file of the code that opened the ``with`` block (skipping contextlib's frames)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") not in (__name__, "contextlib"):
            file = frame.f_globals.get("__file__")
            return Path(file).resolve() if file else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _wf(kind: str) -> Workflow:
    wf = _current.get()
    if wf is None:
        raise InvalidPlan(f"af.{kind}() must be called inside `with af.workflow(name):`")
    return wf
