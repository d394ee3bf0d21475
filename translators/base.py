"""Extension points of the translation and execution layers: ``Engine`` and components.

A node's behaviour on an engine is a *component*, registered per (node kind, engine). An engine
is the thing that runs a job's fused chain of components. Adding an engine (Flink) means
registering an ``Engine`` and its components from one module — the translators never change.
Built-in engines are imported lazily by name; third-party ones come from the ``aiflow.engines``
entry point group (the module registers itself on import).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from aiflow.errors import InvalidInput
from aiflow.plan.model import NodeKind

if TYPE_CHECKING:
    from aiflow.plan.model import Node
    from aiflow.runtime.context import JobContext
    from aiflow.translators.physical import JobSpec

_BUILTIN_ENGINES = {
    "local": "aiflow.translators.components.local",
    "flink": "aiflow.translators.components.flink",
}
_engines: dict[str, type[Engine]] = {}
_components: dict[tuple[NodeKind, str], type[Component]] = {}
_loaded: set[str] = set()

C = TypeVar("C", bound="type[Component]")


class Component(ABC):
    """Behaviour of one plan node on one engine; each engine defines its own richer base."""

    kind: ClassVar[NodeKind]
    engine: ClassVar[str]

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
    # Where a node goes when it inherits this engine but the engine has no component for its
    # kind (Flink trains on ``local``). A node that names an engine explicitly never moves.
    fallback: ClassVar[str | None] = None
    modes: ClassVar[tuple[str, ...]] = ("batch", "stream")  # run modes it implements

    @abstractmethod
    def run_job(self, spec: JobSpec, ctx: JobContext) -> dict[str, Any]:
        """Run to completion (batch) or until ``ctx.stop`` is set (stream); return a result
        summary (rows per node, outputs written, model versions) for the meta store."""


def register_engine(cls: type[Engine]) -> type[Engine]:
    _engines[cls.name] = cls
    return cls


def register_component(kind: NodeKind, engine: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        cls.kind = kind
        cls.engine = engine
        _components[(kind, engine)] = cls
        return cls

    return decorate


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="aiflow.engines")}


def available_engines() -> list[str]:
    return sorted({*_BUILTIN_ENGINES, *_entry_points()})


def load_engine(name: str) -> type[Engine]:
    """Import the engine's module (which registers it and its components) and return it."""
    if name not in _loaded:
        module = _BUILTIN_ENGINES.get(name) or _entry_points().get(name)
        if module is None:
            raise InvalidInput(
                f"unknown engine {name!r} (available: {', '.join(available_engines())})"
            )
        importlib.import_module(module.split(":", 1)[0])
        _loaded.add(name)
    if name not in _engines:
        raise InvalidInput(f"engine module for {name!r} did not register an engine")
    return _engines[name]


def component_for(kind: NodeKind, engine: str) -> type[Component] | None:
    load_engine(engine)
    return _components.get((kind, engine))
