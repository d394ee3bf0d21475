"""Event-driven jobs in the physical plan: which jobs ``af.action_on_*`` rules start, and
keeping them apart from the workflow's own run.

A node with rules runs only when they fire, each fire an execution of its job alone. So its
job must not share records with the rest (the other job's files are in another execution's
directory) and is neither waited for nor waits: ``rule_owners`` keeps fusion from pulling a
normal node into it, ``job_rules`` resolves job-status rules to the upstream job's name, and
``detach`` cuts its dependencies, refusing a data edge across, naming the node.
"""

from __future__ import annotations

from collections import defaultdict

from aiflow.errors import InvalidPlan
from aiflow.plan.model import ActionRule, LogicalPlan, Node, NodeKind


def job_rules(
    plan: LogicalPlan, job_of: dict[str, int], names: list[str]
) -> dict[int, list[ActionRule]]:
    """Each event-driven job's rules, job-status rules naming the upstream job."""
    rules: dict[int, list[ActionRule]] = defaultdict(list)
    for rule in plan.actions:
        if rule.on == "job_status":
            assert rule.value is not None  # checked with the plan
            upstream = job_of[rule.value]
            if upstream == job_of[rule.node]:
                raise InvalidPlan(
                    f"its rule waits for node '{rule.value}', which runs in the same job",
                    rule.node,
                )
            rule = rule.model_copy(update={"value": names[upstream]})
        rules[job_of[rule.node]].append(rule)
    return dict(rules)


def detach(
    job: int,
    node_id: str,
    extra: dict[str, Node],
    deps: dict[int, set[int]],
    model_sources: dict[int, dict[str, str]],
) -> None:
    """Make ``job`` event-driven: it runs as an execution of its own, so it may not exchange
    records with other jobs, and neither waits for nor is waited for by them."""
    for node in extra.values():
        edge = node.id.removeprefix("__from_").removeprefix("__to_").rsplit(".", 1)[0]
        if node.kind is NodeKind.READ_INTERMEDIATE:
            how = f"it reads the records of node '{edge}' of another job"
        else:
            how = f"another job reads the records of its node '{edge}'"
        raise InvalidPlan(
            f"its job is event-driven (af.action_on_*) and runs on its own, but {how}; read "
            "an example in each part instead of sharing a node's output",
            node_id,
        )
    deps[job].clear()
    for others in deps.values():
        others.discard(job)
    model_sources[job].clear()  # the version comes with the event, not from this execution


def rule_owners(plan: LogicalPlan, order: list[str]) -> dict[str, str]:
    """Which event-driven node each node runs with ('' for the workflow's own run), so that
    fusing never pulls a node of the normal run into a job that only rules start: a node with
    rules owns itself; a node fed only by one owner's nodes belongs to it (what a validate
    node's decisions feed); a source read only by one owner's nodes too (its hold-out). A node
    between the two parts stays in the normal run, and the edge across is refused, naming it."""
    ruled = {rule.node for rule in plan.actions}
    owner = dict.fromkeys(order, "")
    if not ruled:
        return owner
    inputs: dict[str, set[str]] = defaultdict(set)
    outputs: dict[str, set[str]] = defaultdict(set)
    for edge in plan.edges:
        if edge.kind == "data":
            inputs[edge.target].add(edge.source.node)
            outputs[edge.source.node].add(edge.target)
    for nid in order:
        if nid in ruled:
            owner[nid] = nid
        elif inputs[nid] and len({owner[i] for i in inputs[nid]}) == 1:
            owner[nid] = owner[next(iter(inputs[nid]))]
    for nid in reversed(order):
        if not owner[nid] and not inputs[nid] and outputs[nid]:
            owners = {owner[o] for o in outputs[nid]}
            if len(owners) == 1:
                owner[nid] = owners.pop()
    return owner
