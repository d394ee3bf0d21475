"""``EnginePlugin``: how an engine folder announces itself, without importing the engine.

An engine is one folder under ``translators/`` plus one line in the ``aiflow.engines`` entry
point group (``pyproject.toml``) naming its ``plugin``. Everything else about the engine is
found from here by *name*, so each consumer imports only what it needs, when it needs it:

* ``aiflow.config`` reads the engine's settings section (``[flink]`` in the config file,
  ``AIFLOW__FLINK__*`` in the environment) from ``settings``;
* ``aiflow --help`` lists the engine's command group from ``cli`` without importing the engine
  (whose module imports pandas or PyFlink);
* the translators, the runtime, ``aiflow check`` and ``aiflow job show/logs`` load the
  ``Engine`` class from ``engine`` and use its hooks.

This module imports nothing but ``aiflow.errors``: the config layer loads plugins through
their entry points, and must not pull in the translators to do so.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from aiflow.errors import InvalidInput


@dataclass(frozen=True)
class EnginePlugin:
    """Where an engine's parts live, as ``"module:attribute"`` references."""

    name: str
    engine: str  # the Engine subclass; importing its module registers its operators
    settings: str | None = None  # a pydantic model: the engine's config section, named `name`
    cli: str | None = None  # a typer app: `aiflow <name> ...`


def resolve(reference: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@cache
def plugins() -> dict[str, EnginePlugin]:
    """Every engine plugin, by name, from the ``aiflow.engines`` entry point group."""
    found: dict[str, EnginePlugin] = {}
    for ep in entry_points(group="aiflow.engines"):
        plugin = ep.load()
        if not isinstance(plugin, EnginePlugin) or plugin.name != ep.name:
            raise InvalidInput(
                f"entry point aiflow.engines:{ep.name} ({ep.value}) must name an EnginePlugin "
                f"called {ep.name!r}"
            )
        if ep.name in found and found[ep.name] != plugin:
            raise InvalidInput(
                f"two installed packages register the engine {ep.name!r}; uninstall one"
            )
        found[ep.name] = plugin
    return found
