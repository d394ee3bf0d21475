"""The ``local`` engine: a job's fused chain runs in its own Python process over pandas batches.

Batch mode is one pass over bounded inputs. Stream mode is AI Flow's stream executor: open all
operators, then for each micro-batch of the job's one streaming source run the chain and only
then *commit* the micro-batch (mark its file consumed). Outputs are written under names derived
from the micro-batch, atomically, so a crash between write and commit replays the batch into the
same files: each output record exists exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from aiflow.errors import AiflowError, UserCodeError
from aiflow.translators.engine import Engine, Operator, operator_for, register_engine

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.plan.model import DataEdge
    from aiflow.translators.context import JobContext
    from aiflow.translators.physical import JobSpec

ENGINE = "local"


class Interrupted(Exception):
    """A stop was requested while an operator waited; the micro-batch stays uncommitted."""


@dataclass(frozen=True)
class BatchInfo:
    id: str | None  # the micro-batch's name (from its input file); None for a batch run
    index: int


@dataclass
class MicroBatch:
    id: str
    frame: pd.DataFrame
    commit: Callable[[], None]


class LocalOperator(Operator):
    """A node on the local engine: ``open`` once, ``process`` per (micro-)batch, ``close``."""

    def open(self) -> None:
        """Load what every batch needs (user objects, bounded inputs)."""

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources; called even when the job fails."""

    @property
    def streaming(self) -> bool:
        """Whether this operator drives a stream job: its ``micro_batches`` pace the passes
        (a stream source; a validate node, paced by new model versions)."""
        return False

    def micro_batches(self) -> Iterator[MicroBatch]:
        raise NotImplementedError(f"{type(self).__name__} does not drive stream jobs")

    def holds_commit(self) -> bool:
        """True while this operator still needs the micro-batches seen so far (a training
        window not yet registered): they stay uncommitted, so a crash replays them."""
        return False


class LocalSource(LocalOperator):
    """A node that produces records instead of consuming them."""

    def read_all(self) -> pd.DataFrame:
        raise NotImplementedError


@register_engine
class LocalEngine(Engine):
    name = ENGINE
    intermediate_formats = ("parquet", "json")
    stream_sources_per_job = True

    def run_job(self, spec: JobSpec, ctx: JobContext) -> dict[str, Any]:
        operators: dict[str, LocalOperator] = {}
        for node in spec.nodes:
            cls = operator_for(node.kind, ENGINE)
            assert cls is not None and issubclass(cls, LocalOperator), node.kind
            operators[node.id] = cls(node, ctx)
        try:
            for operator in operators.values():
                operator.open()
            drivers = [c for c in operators.values() if c.streaming]
            if not drivers:
                rows = local_settings(ctx.settings).batch_rows
                if not run_in_chunks(spec, operators, rows, partial(self._run_pass, spec)):
                    self._run_pass(spec, operators, {}, BatchInfo(id=None, index=0))
                ctx.result.batches = 1
            else:
                self._run_stream(spec, operators, drivers[0], ctx)
        finally:
            for operator in operators.values():
                operator.close()
        return ctx.result.to_dict()

    def _run_stream(
        self,
        spec: JobSpec,
        operators: dict[str, LocalOperator],
        driver: LocalOperator,
        ctx: JobContext,
    ) -> None:
        """A pass per micro-batch; micro-batches are committed once no operator holds them
        (all at once, in order, after the pass that released them)."""
        pending: list[MicroBatch] = []
        for index, micro in enumerate(driver.micro_batches()):
            overrides = {driver.node.id: micro.frame} if isinstance(driver, LocalSource) else {}
            try:
                self._run_pass(spec, operators, overrides, BatchInfo(micro.id, index))
            except Interrupted:
                break
            pending.append(micro)
            if not any(op.holds_commit() for op in operators.values()):
                for done in pending:
                    done.commit()
                pending.clear()
            ctx.result.batches += 1
            ctx.publish()

    _inputs: dict[str, list[DataEdge]] | None = None

    def _inputs_of(self, spec: JobSpec) -> dict[str, list[DataEdge]]:
        """Data inputs per node, in port order, computed once per job."""
        if self._inputs is None:
            inputs: dict[str, list[DataEdge]] = {n.id: [] for n in spec.nodes}
            for edge in sorted(spec.edges, key=lambda e: e.target_port):
                if edge.kind == "data":
                    inputs[edge.target].append(edge)
            self._inputs = inputs
        return self._inputs

    def _run_pass(
        self,
        spec: JobSpec,
        operators: dict[str, LocalOperator],
        overrides: dict[str, pd.DataFrame],
        batch: BatchInfo,
    ) -> None:
        values: dict[str, pd.DataFrame | None] = {}
        inputs_of = self._inputs_of(spec)
        # consumers of each node's output not yet run: an output is let go after its last
        # one, so a chain holds two frames at a time, not all of them (fresh memory is most of
        # what a 1M-row pass costs; benchmarks/flink_throughput.py)
        waiting = {n.id: 0 for n in spec.nodes}
        for edges in inputs_of.values():
            for edge in edges:
                waiting[edge.source.node] += 1
        for node in spec.nodes:
            operator = operators[node.id]
            if isinstance(operator, LocalSource):
                given = overrides.get(node.id)
                values[node.id] = given if given is not None else operator.read_all()
                operator.ctx.result.count(node.id, "out", len(values[node.id]))  # type: ignore[arg-type]
                del given
                continue
            inputs = []
            for edge in inputs_of[node.id]:
                value = values.get(edge.source.node)
                if value is None:
                    raise UserCodeError(
                        f"input from '{edge.source.node}' produced no records (it returned None)",
                        node.id,
                    )
                inputs.append(value)
            for edge in inputs_of[node.id]:
                waiting[edge.source.node] -= 1
                if not waiting[edge.source.node]:
                    del values[edge.source.node]
            for rows in map(len, inputs):
                operator.ctx.result.count(node.id, "in", rows)
            try:
                out = operator.process(inputs, batch)
            except (AiflowError, Interrupted):
                raise
            except Exception as exc:
                raise UserCodeError(f"{type(exc).__name__}: {exc}", node.id) from exc
            inputs.clear()
            if out is not None:
                operator.ctx.result.count(node.id, "out", len(out))
            values[node.id] = out


# Importing the operator modules registers them for this engine.
from aiflow.translators.local import io, lifecycle, ml  # noqa: E402, F401
from aiflow.translators.local.chunks import run_in_chunks  # noqa: E402
from aiflow.translators.local.settings import local_settings  # noqa: E402
