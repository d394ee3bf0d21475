"""Whole-plan checks that need more than one DSL call: cycles, and what a run in a given mode
needs from the outside world (example locations). Each error names the node at fault.

Engine checks live in the translators, which know the registered components.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path

from aiflow.errors import InvalidPlan
from aiflow.plan.model import MODES, LogicalPlan, Node, NodeKind, memo
from aiflow.plan.properties import check_properties


def topological_order(plan: LogicalPlan) -> list[str]:
    """Node ids in an order where every node follows its data and control upstreams,
    stable (ties broken by declaration order); ``InvalidPlan`` naming a cycle's nodes.
    Computed once per plan (validation and translation both ask)."""
    return list(memo(plan, "topological_order", _topological_order))


def _topological_order(plan: LogicalPlan) -> list[str]:
    # Positions, not ids, in the loops: list indexing instead of hashing strings. A repeated id
    # (a stored plan could hold one) stands for its last node, as it always did.
    ids = [n.id for n in plan.nodes]
    index = {nid: i for i, nid in enumerate(ids)}
    indegree = [0] * len(ids)
    downstream: dict[int, list[int]] = defaultdict(list)
    pairs = {(e.source.node, e.target) for e in plan.edges}
    pairs.update((c.upstream, c.downstream) for c in plan.control_edges)
    forward = len(index) == len(ids)  # every edge points to a later node (so far)
    for up, down in pairs:
        u, d = index.get(up), index.get(down)
        if u is None or d is None:
            missing = up if u is None else down
            raise InvalidPlan(f"edge refers to node '{missing}', which is not in the workflow")
        downstream[u].append(d)
        indegree[d] += 1
        forward = forward and u < d
    if forward:
        # The usual plan (nodes declared after their inputs): declaration order is the
        # answer, as the queue below would find it one node at a time.
        return ids
    ready = [i for i in index.values() if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(ids[i])
        for j in downstream.get(i, ()):
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(ids):
        stuck = [ids[i] for i in sorted(index.values()) if indegree[i] > 0]
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
