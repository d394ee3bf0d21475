"""The error family every layer raises, and its wire form.

Every error aiflow raises on purpose is a class in this module (a test keeps it so): the
library, the CLI, the server and the client all import it from here, whatever layer raises it.
Each class carries three stable attributes:

* ``code``: what a program switches on (the CLI, the problem JSON's ``code``, the client);
* ``status``: the HTTP status the REST API answers with;
* ``title``: a short summary of the problem type (the problem JSON's ``title``).

``problem_fields`` turns an error into the fields of an RFC 9457 (ex-7807) problem and
``error_for`` turns them back into the same class, so an error survives the REST round trip
without lookup tables: adding an error is adding a class here. Messages follow one rule: what
failed, the offending value (node, field, file), and how to fix it.

Not here: the HTTP response itself and the errors Starlette raises on its own (routing, upload
limits): ``aiflow.server.problems``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pathlib import Path


class AiflowError(Exception):
    """Base of all errors aiflow raises on purpose; anything else is a bug.

    Raised as such only when an error arrives with a code nobody knows; raise a subclass."""

    code: ClassVar[str] = "aiflow_error"
    # Not a ClassVar: ApiError carries the status a server answered with per instance.
    status: int = 500
    title: ClassVar[str] = "Error"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPlan(AiflowError):
    """A workflow definition that cannot be run; raised before anything is written."""

    code = "invalid_plan"
    status = 422
    title = "Invalid workflow"

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(f"node '{node}': {message}" if node else message)
        self.node = node


class NotFound(AiflowError):
    code = "not_found"
    status = 404
    title = "Not found"


class AlreadyExists(AiflowError):
    code = "already_exists"
    status = 409
    title = "Already exists"


class InvalidInput(AiflowError):
    """Bad data or a bad argument from the user (a file, a record, a CLI option)."""

    code = "invalid_input"
    status = 422
    title = "Invalid input"


class MLError(InvalidInput, ValueError):
    """Bad input to an ``aiflow.ml`` stage: a param out of its rule, a missing or mistyped
    column, an empty table, mismatched vector sizes. The message names the stage and the param
    or column; a ``ValueError`` too, as Python's own checks raise."""

    code = "ml_error"


class UserCodeError(AiflowError):
    """User code (a transformer, trainer, ...) raised; the original is kept as ``__cause__``."""

    code = "user_code_error"
    status = 422
    title = "User code failed"

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(f"node '{node}': {message}" if node else message)
        self.node = node


class ExecutionFailed(AiflowError):
    """A workflow execution that was waited for ended failed (or killed)."""

    code = "execution_failed"
    status = 409
    title = "Execution failed"


class DeploymentError(AiflowError):
    """A deployer could not launch, watch or stop a job."""

    code = "deployment_error"
    status = 502
    title = "Deployment failed"


class ArtifactCorrupt(AiflowError):
    """A model artifact that cannot be loaded as registered: its file is missing, unreadable or
    not a pickle, or its sha256 differs from the registered one. ``uri``, ``expected`` and
    ``found`` (digests) are set where known."""

    code = "artifact_corrupt"
    status = 409
    title = "Model artifact corrupt"

    def __init__(
        self,
        message: str,
        *,
        uri: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(message)
        self.uri, self.expected, self.found = uri, expected, found


class MetaStoreError(AiflowError):
    """The meta store is unreachable or at the wrong schema revision."""

    code = "metastore_error"
    status = 503
    title = "Meta store unavailable"


class MetaStoreUnavailable(MetaStoreError):
    """The meta store's database could not be reached or dropped the connection (restarting,
    a network partition): worth retrying, unlike a wrong schema revision."""

    code = "metastore_unavailable"


# -- the REST API's authentication -------------------------------------------------------------


class Unauthorized(AiflowError):
    """No credentials, or ones that are not (or no longer) valid: 401."""

    code = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(AiflowError):
    """Valid credentials whose role does not allow the request: 403."""

    code = "forbidden"
    status = 403
    title = "Not allowed"


# -- the Flink engine's environment: a cluster, the Flink package, the connector jars ------------


class FlinkUnavailable(AiflowError):
    """A Flink cluster cannot be used: its REST endpoint does not answer, it failed to start,
    or Java/PyFlink is missing. The message names the address or the missing piece."""

    code = "flink_unavailable"
    status = 503
    title = "Flink unavailable"


class FlinkVersionError(FlinkUnavailable):
    """The installed ``apache-flink`` is missing or not the version the jars were chosen for."""

    code = "flink_version_mismatch"
    title = "Wrong Flink version"


class JarCacheError(AiflowError):
    """The jars could not be fetched (no Maven, Maven failed, the resolved set drifted)."""

    code = "jar_cache_error"
    status = 503
    title = "Connector jars unavailable"


class ChecksumMismatch(JarCacheError):
    """A jar's SHA-256 differs from the pinned one."""

    code = "jar_checksum_mismatch"
    title = "Connector jar corrupt"

    def __init__(self, path: Path, expected: str, actual: str, hint: str = "") -> None:
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}"
            + (f"; {hint}" if hint else "")
        )
        self.path, self.expected, self.actual = path, expected, actual


# -- the wire form -----------------------------------------------------------------------------


class ApiError(AiflowError):
    """An error response that maps to no aiflow error class (upload limits, unknown routes,
    a proxy's own errors, a newer server's new code); ``status`` is the HTTP status and
    ``problem_code`` the code the response gave, if any."""

    code = "api_error"
    title = "Error response"

    def __init__(self, message: str, status: int, problem_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem_code = problem_code


def family() -> list[type[AiflowError]]:
    """``AiflowError`` and every subclass defined in this module (subclasses defined elsewhere,
    which a test forbids, are left out: which classes exist must not depend on imports)."""
    found: list[type[AiflowError]] = []
    pending: list[type[AiflowError]] = [AiflowError]
    while pending:
        cls = pending.pop(0)
        if cls.__module__ == __name__:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


def error_for(code: str | None, message: str, status: int = 500) -> AiflowError:
    """The error a problem with ``code`` and ``message`` (its ``detail``) describes: an
    instance of the class whose ``code`` it is, else an ``ApiError`` keeping ``status``.

    Built without calling the class's ``__init__``: some take extra arguments (a node, a
    path) whose text is already part of ``message``."""
    for cls in family():
        if cls.code == code and cls is not ApiError:
            error = cls.__new__(cls)
            AiflowError.__init__(error, message)
            return error
    return ApiError(message, status, code)


def problem_fields(exc: AiflowError) -> dict[str, Any]:
    """The problem-details fields (``status``, ``code``, ``title``, ``detail``) ``exc``
    travels as; ``error_for(code, detail, status)`` rebuilds it. An ``ApiError`` passed on
    keeps the code it arrived with."""
    code = exc.problem_code if isinstance(exc, ApiError) and exc.problem_code else exc.code
    return {"status": exc.status, "code": code, "title": exc.title, "detail": exc.message}
