"""The engine interface: ``Engine``, ``Operator`` and the registry of both.

A node's behaviour on an engine is an *operator*, registered per (node kind, engine); an
``Engine`` runs a job's fused chain of operators inside the job's process. (The user's
``Transformer``/``Trainer``/... classes are *components*; operators run them.)

Engines are found through the ``aiflow.engines`` entry point group, built-ins included, each
naming an ``EnginePlugin`` (``translators/plugin.py``): adding an engine is a folder plus that
one line, and nothing else in the tree changes. Importing the engine's module registers the
``Engine`` and its operators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from aiflow.errors import InvalidInput
from aiflow.plan.model import NodeKind
from aiflow.translators.plugin import plugins, resolve

if TYPE_CHECKING:
    from aiflow.config import Settings
    from aiflow.plan.model import Node
    from aiflow.translators.context import JobContext
    from aiflow.translators.physical import JobSpec

_engines: dict[str, type[Engine]] = {}
_operators: dict[tuple[NodeKind, str], type[Operator]] = {}

C = TypeVar("C", bound="type[Operator]")


class Operator(ABC):
    """Behaviour of one plan node on one engine; each engine defines its own richer base."""

    kind: ClassVar[NodeKind]
    engine: ClassVar[str]
    # The per-mode node properties (``aiflow.plan.properties``) this operator honours; the
    # translators refuse a node that sets another, so no engine ignores one silently.
    properties: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, node: Node, ctx: JobContext) -> None:
        self.node = node
        self.ctx = ctx

    @classmethod
    def check(cls, node: Node, mode: str) -> None:
        """Raise ``InvalidPlan`` naming the node when this engine cannot run it as configured
        (called by the translators, before anything is written or started)."""
        return None


class Engine(ABC):
    """Runs a whole job (a fused chain of nodes) inside the job's process."""

    name: ClassVar[str]
    # Formats this engine reads and writes for materialized intermediates, preferred first;
    # an edge between two engines uses the producer's first format the consumers also read.
    intermediate_formats: ClassVar[tuple[str, ...]] = ("parquet",)
    # Where a node goes when it inherits this engine but the engine has no operator for its
    # kind (Flink trains on ``local``). A node that names an engine explicitly never moves.
    fallback: ClassVar[str | None] = None
    modes: ClassVar[tuple[str, ...]] = ("batch", "stream")  # run modes it implements
    # Each stream job of this engine reads its stream source itself, with a ledger of its own,
    # instead of a job relaying it through an execution-scoped intermediate (``replicate``).
    stream_sources_per_job: ClassVar[bool] = False

    @abstractmethod
    def run_job(self, spec: JobSpec, ctx: JobContext) -> dict[str, Any]:
        """Run to completion (batch) or until ``ctx.stop`` is set (stream); return a result
        summary (rows per node, outputs written, model versions) for the meta store."""

    # -- hooks for the layers above; the defaults fit an engine that runs in the job process --

    @classmethod
    def describe_job(cls, result: dict[str, Any], settings: Settings) -> list[tuple[str, Any]]:
        """Extra ``aiflow job show`` fields for a job this engine ran (from the job's result,
        e.g. Flink's job id and web UI link)."""
        return []

    @classmethod
    def job_logs(
        cls, result: dict[str, Any], settings: Settings, tail: int | None
    ) -> Iterator[str]:
        """Log lines the engine keeps outside the job's own log (a Flink TaskManager's), shown
        after it by ``aiflow job logs`` and the REST API; none by default."""
        return iter(())

    @classmethod
    def forget_workflow(cls, workflow: str, settings: Settings) -> None:
        """Delete what the engine keeps per workflow outside the meta store (checkpoints);
        ``aiflow check`` calls it for its throw-away workflows."""
        return None


def register_engine(cls: type[Engine]) -> type[Engine]:
    _engines[cls.name] = cls
    return cls


def register_operator(kind: NodeKind, engine: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        cls.kind = kind
        cls.engine = engine
        _operators[(kind, engine)] = cls
        return cls

    return decorate


def available_engines() -> list[str]:
    return sorted({*plugins(), *_engines})


def load_engine(name: str) -> type[Engine]:
    """Import the engine's module (which registers it and its operators) and return it."""
    if name not in _engines:
        plugin = plugins().get(name)
        if plugin is None:
            raise InvalidInput(
                f"unknown engine {name!r} (available: {', '.join(available_engines())})"
            )
        resolve(plugin.engine)
    if name not in _engines:
        raise InvalidInput(f"engine module for {name!r} did not register an engine")
    return _engines[name]


def operator_for(kind: NodeKind, engine: str) -> type[Operator] | None:
    load_engine(engine)
    return _operators.get((kind, engine))
