"""Whole-plan checks that need more than one DSL call: cycles, and what a run in a given mode
needs from the outside world (example locations). Each error names the node at fault.

Engine checks live in the translators, which know the registered components.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path

from aiflow.errors import InvalidPlan
from aiflow.plan.model import MODES, LogicalPlan, Node, NodeKind
from aiflow.plan.properties import check_properties


def topological_order(plan: LogicalPlan) -> list[str]:
    """Node ids in an order where every node follows its data and control upstreams,
    stable (ties broken by declaration order); ``InvalidPlan`` naming a cycle's nodes."""
    order_index = {n.id: i for i, n in enumerate(plan.nodes)}
    downstream: dict[str, set[str]] = defaultdict(set)
    indegree = {n.id: 0 for n in plan.nodes}
    pairs = {(e.source.node, e.target) for e in plan.edges}
    pairs |= {(c.upstream, c.downstream) for c in plan.control_edges}
    for up, down in pairs:
        if up not in indegree or down not in indegree:
            missing = up if up not in indegree else down
            raise InvalidPlan(f"edge refers to node '{missing}', which is not in the workflow")
        downstream[up].add(down)
        indegree[down] += 1
    ready = [order_index[n] for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = plan.nodes[heapq.heappop(ready)].id
        order.append(node)
        for nxt in downstream[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, order_index[nxt])
    if len(order) != len(plan.nodes):
        stuck = sorted((n for n, d in indegree.items() if d > 0), key=order_index.__getitem__)
        raise InvalidPlan(
            f"workflow '{plan.workflow}' has a cycle through nodes {stuck} "
            "(check af.run_after calls)"
        )
    return order


def check_acyclic(plan: LogicalPlan) -> None:
    topological_order(plan)
    check_actions(plan)


def check_actions(plan: LogicalPlan) -> None:
    """Each action rule names a node of the plan (and a job-status rule an upstream node)."""
    ids = {n.id for n in plan.nodes}
    for rule in plan.actions:
        if rule.node not in ids:
            raise InvalidPlan(f"an action rule names node '{rule.node}', which is not in the plan")
        if rule.on == "job_status" and rule.value not in ids:
            raise InvalidPlan(
                f"its job-status rule names upstream node '{rule.value}', which is not in the plan",
                rule.node,
            )


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InvalidPlan(f"unknown mode {mode!r} (valid: {', '.join(MODES)})")


def check_for_run(plan: LogicalPlan, mode: str) -> None:
    """What a run in ``mode`` needs: valid node properties, each read's view exists, each
    write has a target."""
    check_mode(mode)
    check_acyclic(plan)
    if not plan.nodes:
        raise InvalidPlan(f"workflow '{plan.workflow}' has no nodes")
    for node in plan.nodes:
        check_properties(node)  # again: a stored plan may predate the check
        if node.kind is NodeKind.READ_EXAMPLE:
            _check_read(node, mode)
        elif node.kind is NodeKind.WRITE_EXAMPLE:
            assert node.example is not None
            if node.example.batch_uri is None and node.example.stream_uri is None:
                raise InvalidPlan(
                    f"example '{node.example.name}' has neither batch_uri nor stream_uri to "
                    "write to",
                    node.id,
                )


def _check_read(node: Node, mode: str) -> None:
    example = node.example
    assert example is not None
    uri = example.batch_uri if mode == "batch" else example.stream_uri
    if uri is None:
        if mode == "stream" and example.batch_uri is not None:
            return  # a batch-only example is read whole, as a bounded side input
        field = "batch_uri" if mode == "batch" else "stream_uri"
        raise InvalidPlan(
            f"example '{example.name}' has no {field}, so it cannot be read in {mode} mode", node.id
        )
    if "://" in uri and not uri.startswith("file://"):
        return  # remote locations are checked by the job that reads them
    path = Path(uri.removeprefix("file://"))
    if mode == "stream" and uri == example.stream_uri:
        if not path.is_dir():
            raise InvalidPlan(
                f"stream directory {path} of example '{example.name}' does not exist "
                "(create it; new files dropped there are new records)",
                node.id,
            )
    elif not path.exists():
        raise InvalidPlan(f"example '{example.name}': file {path} does not exist", node.id)
    elif path.is_dir() and not any(p.is_file() for p in path.iterdir()):
        raise InvalidPlan(f"example '{example.name}': directory {path} has no files", node.id)
