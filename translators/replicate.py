"""Stream jobs read their streams themselves: the source (and the per-record transforms after it)
is replicated into each job that consumes it, instead of one job materializing it for the others.

Why: a materialized stream intermediate belongs to its execution (``JobContext.stream_consumer``)
while a source's ledger belongs to the workflow. When an execution ends while a downstream job
lags behind (the predict job was being retried when the execution was stopped, say), the files
the upstream job had already committed on the workflow's ledger but the downstream job had not
read yet were in the old execution's intermediate, which the next execution never reads: those
records were never predicted. A job that reads the stream itself keeps its own ledger, so every
job resumes exactly where *it* stopped, and a training job killed or retried no longer pauses
the predictions. This is how Flink and AI Flow wire streaming jobs too: each job subscribes to
the stream (its own consumer group), none relays it.

What is replicated: the whole upstream of the crossing edge, when it consists only of stream
sources and transforms on the consumer's engine (stateless per record: the same code the
serving chain runs per request). Anything else -- a model input, a hold-out, another engine,
an engine that does not declare ``Engine.stream_sources_per_job`` -- keeps the intermediate.
A copy's id names the node and the job it runs in (``read_clicks~write_scores``): its ledger,
counters and dead letters are its own, and stable across executions, since job names are.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from aiflow.plan.model import Channel, DataEdge, LogicalPlan, Node, NodeKind
from aiflow.translators.engine import load_engine

COPY_SEPARATOR: Final = "~"
_REPLICABLE = (NodeKind.READ_EXAMPLE, NodeKind.TRANSFORM)


class StreamReplicas:
    """Which cross-job data edges of a stream plan become copies of their upstream, and the
    copies each job gets (``copy``)."""

    def __init__(
        self,
        plan: LogicalPlan,
        engine_of: dict[str, str],
        job_of: dict[str, int],
        names: list[str],
    ) -> None:
        self.engine_of = engine_of
        self.job_of = job_of
        self.names = names
        self.nodes = {n.id: n for n in plan.nodes}
        self.incoming: dict[str, list[DataEdge]] = defaultdict(list)
        self.model_fed: set[str] = set()
        for edge in plan.edges:
            if edge.kind == "data":
                self.incoming[edge.target].append(edge)
            else:
                self.model_fed.add(edge.target)
        self.copies: dict[int, dict[str, Node]] = defaultdict(dict)  # job -> copy id -> node
        self.edges: dict[int, list[DataEdge]] = defaultdict(list)

    def copy(self, edge: DataEdge) -> DataEdge | None:
        """The edge rewired onto the destination job's own copy of its upstream (added to
        ``copies`` and ``edges`` once per job), or None when the edge must be materialized."""
        job = self.job_of[edge.target]
        upstream = self._upstream(edge.source.node, self.engine_of[edge.target])
        if upstream is None:
            return None
        suffix = f"{COPY_SEPARATOR}{self.names[job]}"
        for nid in upstream:
            copy_id = nid + suffix
            if copy_id in self.copies[job]:
                continue
            self.copies[job][copy_id] = self.nodes[nid].model_copy(update={"id": copy_id})
            for inner in self.incoming.get(nid, []):
                source = Channel(node=inner.source.node + suffix, port=inner.source.port)
                self.edges[job].append(
                    inner.model_copy(update={"source": source, "target": copy_id})
                )
        source = Channel(node=edge.source.node + suffix, port=edge.source.port)
        return edge.model_copy(update={"source": source})

    def _upstream(self, nid: str, engine: str) -> list[str] | None:
        """``nid`` and everything upstream of it in topological order, if all of it can be
        replicated onto ``engine``; else None."""
        if not load_engine(engine).stream_sources_per_job:
            return None
        order: list[str] = []
        seen: set[str] = set()
        streams = 0

        def visit(node_id: str) -> bool:
            nonlocal streams
            if node_id in seen:
                return True
            seen.add(node_id)
            node = self.nodes[node_id]
            if (
                node.kind not in _REPLICABLE
                or node_id in self.model_fed
                or self.engine_of[node_id] != engine
            ):
                return False
            if node.kind is NodeKind.READ_EXAMPLE:
                if node.example is None or not node.example.stream_uri:
                    return False  # a bounded side input: materializing it once is right
                streams += 1
            if not all(visit(e.source.node) for e in self.incoming.get(node_id, [])):
                return False
            order.append(node_id)
            return True

        return order if visit(nid) and streams == 1 else None
