"""Logical plan -> physical plan: which nodes run together as one job, and what flows between.

Rules, in order:
1. Each node runs on its own engine, else the workflow's (``--engine`` overrides the workflow's).
2. A node is in a later *phase* than any train node whose model it consumes: training and
   serving never share a job, so a serving job can start from a registered model version.
3. Nodes connected by data edges, in the same phase and on the same engine, fuse into one job.
4. A data edge between jobs becomes a materialized intermediate example (written by the
   upstream job under the execution's directory, read by the downstream one); model and control
   edges between jobs become job dependencies.

Batch and stream translators differ only in what a run in their mode requires (``check``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from typing import ClassVar

from aiflow.errors import InvalidPlan
from aiflow.plan.gc_pause import paused_gc
from aiflow.plan.model import (
    Channel,
    DataEdge,
    ExampleSpec,
    LogicalPlan,
    Node,
    NodeKind,
)
from aiflow.plan.validate import check_for_run, topological_order
from aiflow.translators.engine import Operator, available_engines, load_engine, operator_for
from aiflow.translators.physical import EXECUTION_DIR, JobSpec, PhysicalPlan, merged_deploy
from aiflow.translators.replicate import StreamReplicas
from aiflow.translators.rules import detach, job_rules, rule_owners

SOURCE_KINDS = (NodeKind.READ_EXAMPLE, NodeKind.READ_INTERMEDIATE)
_NAMING_PRIORITY = (
    NodeKind.TRAIN,
    NodeKind.WRITE_EXAMPLE,
    NodeKind.PREDICT,
    NodeKind.EVALUATE,
    NodeKind.VALIDATE,
)
# Nodes that use a model version and, when the workflow pushes that model, serve what was pushed.
_SERVING_KINDS = (NodeKind.PREDICT, NodeKind.EVALUATE)


class Translator(ABC):
    mode: ClassVar[str]

    def translate(self, plan: LogicalPlan, *, engine: str | None = None) -> PhysicalPlan:
        with paused_gc():  # (aiflow.plan.gc_pause: a third of a big plan's time otherwise)
            return self._translate(plan, engine)

    def _translate(self, plan: LogicalPlan, engine: str | None) -> PhysicalPlan:
        check_for_run(plan, self.mode)
        default_engine = engine or plan.engine
        order = topological_order(plan)
        nodes = {n.id: n for n in plan.nodes}
        # Resolved engines live beside the nodes: copying 10,000 frozen nodes to set a field
        # was a third of the translation time; a node's engine=None means "its job's engine".
        engine_of = {n.id: n.engine or _inherited(n.kind, default_engine) for n in plan.nodes}
        _read_beside_consumers(plan, engine_of)
        self._check_engines(plan.nodes, engine_of)
        groups = _fuse(plan, engine_of, order)
        jobs = self._build_jobs(plan, nodes, engine_of, order, groups, default_engine)
        physical = PhysicalPlan(workflow=plan.workflow, mode=self.mode, jobs=jobs)
        self.check(physical)
        return physical

    @abstractmethod
    def check(self, physical: PhysicalPlan) -> None:
        """Mode-specific requirements on the jobs."""

    def _check_engines(self, nodes: list[Node], engine_of: dict[str, str]) -> None:
        # Engines and operators are looked up once per engine and (kind, engine), not per
        # node; the first node of an engine that fails is the one named, as before.
        engines_ok: set[str] = set()
        operators: dict[tuple[NodeKind, str], type[Operator] | None] = {}
        for node in nodes:
            engine = engine_of[node.id]
            if engine not in engines_ok:
                self._check_engine(engine, node.id)
                engines_ok.add(engine)
            key = (node.kind, engine)
            operator = operators[key] if key in operators else operator_for(node.kind, engine)
            operators[key] = operator
            if operator is None:
                able = [e for e in available_engines() if _safe_has(node.kind, e)]
                raise InvalidPlan(
                    f"engine '{engine}' has no operator for {node.kind.value} nodes "
                    f"(engines that do: {', '.join(able) or 'none'})",
                    node.id,
                )
            operator.check(node, self.mode)
            if node.properties:
                _check_implemented(node, self.mode, engine, operator.properties)

    def _check_engine(self, engine: str, node_id: str) -> None:
        """The engine is installed and runs jobs of this mode; else ``InvalidPlan`` naming
        ``node_id``, the first node placed on it."""
        try:
            load_engine(engine)
        except InvalidPlan:
            raise
        except Exception as exc:
            raise InvalidPlan(str(exc), node_id) from None
        if self.mode not in load_engine(engine).modes:
            raise InvalidPlan(
                f"engine '{engine}' does not run {self.mode} jobs yet "
                f"(it runs: {', '.join(load_engine(engine).modes)})",
                node_id,
            )

    def _build_jobs(
        self,
        plan: LogicalPlan,
        nodes: dict[str, Node],
        engine_of: dict[str, str],
        order: list[str],
        groups: list[list[str]],
        default_engine: str,
    ) -> list[JobSpec]:
        job_of = {nid: i for i, members in enumerate(groups) for nid in members}
        names = _job_names(groups, nodes)
        extra_nodes: dict[int, dict[str, Node]] = defaultdict(dict)
        job_edges: dict[int, list[DataEdge]] = defaultdict(list)
        deps: dict[int, set[int]] = defaultdict(set)
        model_sources: dict[int, dict[str, str]] = defaultdict(dict)
        formats: dict[tuple[str, int], str] = {}
        cross_readers = _cross_job_readers(plan, engine_of, job_of)
        replicas = StreamReplicas(plan, engine_of, job_of, names) if self.mode == "stream" else None
        for edge in plan.edges:
            src_job, dst_job = job_of[edge.source.node], job_of[edge.target]
            if src_job == dst_job:
                job_edges[src_job].append(edge)
                continue
            deps[dst_job].add(src_job)
            if edge.kind == "model":
                model_sources[dst_job][edge.target] = edge.source.node
                continue
            own = replicas.copy(edge) if replicas is not None else None
            if own is not None:  # the job reads the stream itself (``replicate``)
                job_edges[dst_job].append(own)
                continue
            source = nodes[edge.source.node]
            channel = (edge.source.node, edge.source.port)
            fmt = formats.get(channel) or _intermediate_format(
                edge.source.node, engine_of, cross_readers[channel]
            )
            formats[channel] = fmt
            writer, reader = _intermediate_nodes(
                source, edge.source, (engine_of[source.id], engine_of[edge.target]), fmt
            )
            if writer.id not in extra_nodes[src_job]:
                extra_nodes[src_job][writer.id] = writer
                job_edges[src_job].append(
                    DataEdge(source=edge.source, target=writer.id, target_port=0)
                )
            extra_nodes[dst_job][reader.id] = reader
            job_edges[dst_job].append(
                edge.model_copy(update={"source": Channel(node=reader.id, port=0)})
            )
        for control in plan.control_edges:
            up, down = job_of[control.upstream], job_of[control.downstream]
            if up != down:
                deps[down].add(up)
        for consumer, push in _after_push(plan):
            # Serve what the workflow pushed: run after the push, use the serving version.
            if job_of[consumer] != job_of[push]:
                deps[job_of[consumer]].add(job_of[push])
            model_sources[job_of[consumer]].pop(consumer, None)
        rules = job_rules(plan, job_of, names)
        for i in rules:
            detach(i, rules[i][0].node, extra_nodes[i], deps, model_sources)
        _check_job_dag(groups, deps, names)

        position = {nid: i for i, nid in enumerate(order)}
        jobs = []
        for i, members in enumerate(groups):
            readers = [n for n in extra_nodes[i].values() if n.kind is NodeKind.READ_INTERMEDIATE]
            writers = [n for n in extra_nodes[i].values() if n.kind is NodeKind.WRITE_INTERMEDIATE]
            if replicas is not None:  # copies come in topological order, before their readers
                readers += replicas.copies[i].values()
                job_edges[i] = replicas.edges[i] + job_edges[i]
            job_nodes = readers + sorted((nodes[m] for m in members), key=lambda n: position[n.id])
            job_nodes += writers
            user_nodes = [nodes[m] for m in members]
            engine = engine_of[members[0]]
            fell_back = engine != default_engine and all(n.engine is None for n in user_nodes)
            jobs.append(
                JobSpec(
                    name=names[i],
                    workflow=plan.workflow,
                    mode=self.mode,
                    engine=engine,
                    fallback_from=default_engine if fell_back else None,
                    nodes=job_nodes,
                    edges=job_edges[i],
                    depends_on=sorted(names[d] for d in deps[i]),
                    model_sources=model_sources[i],
                    rules=rules.get(i, []),
                    retries=max(n.retries for n in user_nodes),
                    retry_delay=max(n.retry_delay for n in user_nodes),
                    timeout=max((n.timeout for n in user_nodes if n.timeout), default=None),
                    deploy=merged_deploy(user_nodes),
                )
            )
        return jobs


def _after_push(plan: LogicalPlan) -> list[tuple[str, str]]:
    """(predict or evaluate node, push node of its model): the model's consumers run after the
    workflow's push of it and serve the pushed version (``deployed``), not simply the newest."""
    pushes = {n.model: n.id for n in plan.nodes if n.kind is NodeKind.PUSH and n.model}
    return [
        (n.id, pushes[n.model])
        for n in plan.nodes
        if n.kind in _SERVING_KINDS and n.model in pushes
    ]


def _read_beside_consumers(plan: LogicalPlan, engine_of: dict[str, str]) -> None:
    """A hold-out (an example read only by validate nodes, which did not name an engine) is
    read on the validate nodes' engine: in their job, instead of materialized for it by a job
    of the workflow's engine (a Flink workflow's validate nodes run on the local engine)."""
    # only reads that did not name an engine can move, and only in a plan with validate nodes:
    # the edges of any other plan are not looked at
    if not any(n.kind is NodeKind.VALIDATE for n in plan.nodes):
        return
    candidates = {n.id for n in plan.nodes if n.kind is NodeKind.READ_EXAMPLE and not n.engine}
    consumers: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, set[NodeKind]] = defaultdict(set)
    for edge in plan.edges:
        if edge.kind == "data" and edge.source.node in candidates:
            consumers[edge.source.node].add(engine_of[edge.target])
            kinds[edge.source.node].add(plan.node(edge.target).kind)
    for node in plan.nodes:
        engines = consumers.get(node.id)
        if node.kind is not NodeKind.READ_EXAMPLE or node.engine or not engines:
            continue
        if kinds[node.id] == {NodeKind.VALIDATE} and len(engines) == 1:
            (engine,) = engines
            if engine != engine_of[node.id] and _safe_has(node.kind, engine):
                engine_of[node.id] = engine


def _inherited(kind: NodeKind, engine: str) -> str:
    """The engine a node without ``engine=`` runs on: the workflow's, or that engine's fallback
    for kinds it cannot run (an unknown engine is reported later, naming the node)."""
    try:
        cls = load_engine(engine)
    except Exception:
        return engine
    if cls.fallback is not None and operator_for(kind, engine) is None:
        return cls.fallback
    return engine


def _cross_job_readers(
    plan: LogicalPlan, engine_of: dict[str, str], job_of: dict[str, int]
) -> dict[tuple[str, int], set[str]]:
    """The engines of the other jobs that read each output (node, port), in one pass over the
    edges: asked per output, it was a pass per materialized edge."""
    readers: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in plan.edges:
        if e.kind == "data" and job_of[e.target] != job_of[e.source.node]:
            readers[e.source.node, e.source.port].add(engine_of[e.target])
    return readers


def _intermediate_format(node_id: str, engine_of: dict[str, str], readers: set[str]) -> str:
    """The producer's most preferred intermediate format that every consuming engine reads."""
    producer = load_engine(engine_of[node_id])
    for fmt in producer.intermediate_formats:
        if all(fmt in load_engine(r).intermediate_formats for r in readers):
            return fmt
    raise InvalidPlan(
        f"engines {sorted({producer.name, *readers})} share no intermediate format "
        "(set engine= so these nodes run on one engine)",
        node_id,
    )


def _check_implemented(node: Node, mode: str, engine: str, honoured: frozenset[str]) -> None:
    """Refuse a property the node's engine does not implement: ignoring it would run the
    workflow differently on one engine without a word."""
    for key in sorted(node.props(mode)):
        if key not in honoured:
            able = [
                e
                for e in available_engines()
                if key in getattr(_safe_operator(node.kind, e), "properties", ())
            ]
            raise InvalidPlan(
                f"engine '{engine}' does not implement {mode} property '{key}' of "
                f"{node.kind.value} nodes (engines that do: {', '.join(able) or 'none'}; "
                "set engine= on the node)",
                node.id,
            )


def _safe_operator(kind: NodeKind, engine: str) -> type[Operator] | None:
    try:
        return operator_for(kind, engine)
    except Exception:
        return None


def _safe_has(kind: NodeKind, engine: str) -> bool:
    try:
        return operator_for(kind, engine) is not None
    except Exception:
        return False


def _fuse(plan: LogicalPlan, engine_of: dict[str, str], order: list[str]) -> list[list[str]]:
    """Groups of node ids, one per job, in topological order of their first member."""
    incoming: dict[str, list[DataEdge]] = defaultdict(list)
    for edge in plan.edges:
        incoming[edge.target].append(edge)
    phase: dict[str, int] = {}
    for nid in order:
        level = 0
        for e in incoming.get(nid, ()):
            after = phase[e.source.node] + (e.kind == "model")
            if after > level:
                level = after
        phase[nid] = level
    # A source read only by nodes of one later phase (a hold-out read by a validate node) joins
    # their phase: it is read in their job instead of materialized for it.
    reader_phases: dict[str, set[int]] = defaultdict(set)
    for edge in plan.edges:
        if edge.kind == "data" and edge.source.node not in incoming:  # sources only
            reader_phases[edge.source.node].add(phase[edge.target])
    for nid, phases in reader_phases.items():
        if len(phases) == 1:
            phase[nid] = next(iter(phases))
    owner = rule_owners(plan, order)
    parent = {nid: nid for nid in order}
    # nodes may fuse when their (phase, engine, owner) match: numbered, so compared as ints
    numbers: dict[tuple[int, str, str], int] = {}
    key = {
        nid: numbers.setdefault((phase[nid], engine_of[nid], owner[nid]), len(numbers))
        for nid in order
    }

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # Consumers of one output in the same phase and engine share a job, so the output is
    # materialized and read once (evaluate and predict on the same features, say): each joins
    # the first such consumer of that output (node, port).
    first_reader: dict[tuple[str, int, int], str] = {}
    for edge in plan.edges:
        if edge.kind != "data":
            continue
        src, dst = edge.source.node, edge.target
        if key[src] == key[dst]:
            parent[find(dst)] = find(src)
        first = first_reader.setdefault((src, edge.source.port, key[dst]), dst)
        if first != dst:
            parent[find(dst)] = find(first)
    groups: dict[str, list[str]] = {}
    for nid in order:
        groups.setdefault(find(nid), []).append(nid)
    return list(groups.values())


def _job_names(groups: list[list[str]], nodes: dict[str, Node]) -> list[str]:
    """A job is named after its most telling node (train > write > predict > evaluate > last)."""
    names: list[str] = []
    taken: set[str] = set()
    for members in groups:
        chosen = members[-1]
        for kind in _NAMING_PRIORITY:
            hits = [m for m in members if nodes[m].kind is kind]
            if hits:
                chosen = hits[-1]
                break
        name, n = chosen, 1
        while name in taken:
            n += 1
            name = f"{chosen}_{n}"
        names.append(name)
        taken.add(name)
    return names


def _intermediate_nodes(
    source: Node, channel: Channel, engines: tuple[str, str], fmt: str
) -> tuple[Node, Node]:
    """The writer (upstream job) and reader (downstream job) of a materialized edge."""
    key = f"{channel.node}.{channel.port}"
    uri = f"{EXECUTION_DIR}/intermediate/{key}/"
    example = ExampleSpec(
        name=f"intermediate:{key}",
        columns=source.output_columns,
        format=fmt,
        batch_uri=uri,
        stream_uri=uri,
    )
    common = {"example": example, "output_columns": source.output_columns}
    writer = Node(id=f"__to_{key}", kind=NodeKind.WRITE_INTERMEDIATE, engine=engines[0], **common)
    reader = Node(id=f"__from_{key}", kind=NodeKind.READ_INTERMEDIATE, engine=engines[1], **common)
    return writer, reader


def _check_job_dag(groups: list[list[str]], deps: dict[int, set[int]], names: list[str]) -> None:
    """Depth-first from each job in turn, its dependencies in job order; the first cycle met
    is the one named. An explicit stack, not recursion: how deep a chain of jobs goes is not
    bounded by Python's recursion limit (1,000 frames)."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in range(len(groups)):
        if state.get(start):
            continue
        state[start] = 1
        path = [start]
        pending = [iter(sorted(deps[start]))]
        while pending:
            d = next(pending[-1], None)
            if d is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(d) == 1:
                cycle = [names[j] for j in path[path.index(d) :]] + [names[d]]
                raise InvalidPlan(
                    "engine boundaries make jobs depend on each other in a cycle: "
                    f"{' -> '.join(cycle)}; "
                    "set engine= on the nodes so each engine's part is contiguous"
                )
            elif d not in state:
                state[d] = 1
                path.append(d)
                pending.append(iter(sorted(deps[d])))
