"""The ``local`` deployer: each job attempt an OS process group on this machine.

``deployer.py`` is the deployer; ``processes.py`` finds and ends processes from a handle alone;
``warm.py`` talks to this process's fork server (``aiflow.runtime.forkserver``), which starts
jobs already past their imports (warm job workers).
"""

from .deployer import LocalDeployer

__all__ = ["LocalDeployer"]
