"""The ``yarn`` deployer: each job attempt a YARN application (docs/yarn.md)."""

from aiflow.deployers.yarn.deployer import YarnDeployer

__all__ = ["YarnDeployer"]
