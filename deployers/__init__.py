"""Deployers: run a physical job on a target (each deployer one module here plus a registry line).

``get_deployer(name)`` resolves the name stored in ``execution.deployer``: built-ins first, then
the ``aiflow.deployers`` entry-point group, so a plugin package can add a target without touching
aiflow. Nothing is imported until a deployer is asked for: the CLI imports this module and must
stay fast, and a Kubernetes deployer's client library should only load when it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from aiflow.errors import InvalidInput

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from aiflow.config import Settings
    from aiflow.deployers.base import Deployer

__all__ = ["available_deployers", "get_deployer"]

# name -> "module:Class"; built-ins win over entry points of the same name, so a stale plugin
# cannot shadow them.
_BUILTINS: dict[str, str] = {
    "local": "aiflow.deployers.local:LocalDeployer",
    "kubernetes": "aiflow.deployers.kubernetes:KubernetesDeployer",
    "yarn": "aiflow.deployers.yarn:YarnDeployer",
}
_GROUP = "aiflow.deployers"


def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=_GROUP)}


def available_deployers() -> list[str]:
    """Every name ``get_deployer`` accepts, sorted."""
    return sorted(set(_BUILTINS) | set(_entry_points()))


def get_deployer(name: str, settings: Settings | None = None) -> Deployer:
    """Return a new instance of the deployer called ``name``, configured by ``settings``
    (default: the process's settings, read when needed).

    A fresh instance per call: deployers keep per-driver state (the local one keeps the
    processes it started), which must not be shared between drivers in one process.
    """
    from aiflow.deployers.base import Deployer

    target: object
    if name in _BUILTINS:
        module_name, _, attr = _BUILTINS[name].partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    else:
        entry_point = _entry_points().get(name)
        if entry_point is None:
            valid = ", ".join(available_deployers())
            raise InvalidInput(f"unknown deployer '{name}'; valid deployers: {valid}")
        target = entry_point.load()
    if not (isinstance(target, type) and issubclass(target, Deployer)):
        raise InvalidInput(
            f"deployer '{name}' resolves to {target!r}, which is not a Deployer subclass; "
            "fix the plugin's 'aiflow.deployers' entry point"
        )
    return target(settings)
