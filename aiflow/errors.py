"""The error family every layer raises.

Each error carries a stable ``code`` so the CLI (one line, non-zero exit) and, later, the REST
API (problem JSON) and its client can map it without parsing messages. Messages follow one rule:
what failed, the offending value (node, field, file), and how to fix it.
"""

from __future__ import annotations


class AiflowError(Exception):
    """Base of all errors aiflow raises on purpose; anything else is a bug."""

    code = "aiflow_error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPlan(AiflowError):
    """A workflow definition that cannot be run; raised before anything is written."""

    code = "invalid_plan"

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(f"node '{node}': {message}" if node else message)
        self.node = node


class NotFound(AiflowError):
    code = "not_found"


class AlreadyExists(AiflowError):
    code = "already_exists"


class InvalidInput(AiflowError):
    """Bad data or a bad argument from the user (a file, a record, a CLI option)."""

    code = "invalid_input"


class UserCodeError(AiflowError):
    """User code (a transformer, trainer, ...) raised; the original is kept as ``__cause__``."""

    code = "user_code_error"

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(f"node '{node}': {message}" if node else message)
        self.node = node


class DeploymentError(AiflowError):
    """A deployer could not launch, watch or stop a job."""

    code = "deployment_error"


class MetaStoreError(AiflowError):
    """The meta store is unreachable or at the wrong schema revision."""

    code = "metastore_error"


class FlinkUnavailable(AiflowError):
    """A Flink cluster cannot be used: its REST endpoint does not answer, it failed to start,
    or Java/PyFlink is missing. The message names the address or the missing piece."""

    code = "flink_unavailable"
