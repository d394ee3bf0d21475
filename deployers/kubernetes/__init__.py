"""The Kubernetes deployer: each job attempt a ``batch/v1`` Job (see ``deployer``).

The client library loads only when the deployer is used: ``aiflow --help`` imports
``aiflow.deployers`` and must stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .deployer import KubernetesDeployer

__all__ = ["KubernetesDeployer"]


def __getattr__(name: str) -> Any:
    if name == "KubernetesDeployer":
        from .deployer import KubernetesDeployer

        return KubernetesDeployer
    raise AttributeError(name)
