"""What a running job knows: its spec, the meta store, where things go, and when to stop.

``store`` is the job's access to the meta store (``JobAccess``): the ``MetaStore`` itself for a
job run without a server, the server's job API with a job-scoped token under a server
(``aiflow.translators.job_store``); operators use only what ``JobAccess`` lists.

``JobResult`` accumulates what the job did (rows per node, outputs, model versions, metrics);
the runtime stores it on the job row, which is how ``aiflow run`` prints its summary.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiflow.translators.physical import EXECUTION_DIR, JobSpec

if TYPE_CHECKING:
    from aiflow.config import Settings
    from aiflow.plan.model import Node
    from aiflow.schemas.entities import Execution, Job, ModelVersion
    from aiflow.translators.job_store import JobAccess, ServingLookup
    from aiflow.translators.usercode import UserCode


@dataclass
class JobResult:
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> {"in": n, "out": n}
    outputs: dict[str, str] = field(default_factory=dict)  # node -> where it wrote
    model_versions: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # node -> metrics
    batches: int = 0
    # node -> {"count": records that did not fit the schema, "uri": where they were kept}
    dead_letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)  # engine-specific: the Flink job id
    # validate nodes' decisions (version, outcome, metric, baseline, reason) and pushes made
    decisions: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    # Why the attempt failed, when it did: {"type", "message", "node", "attempt"[, "code"]}
    # (see ``fail``); the driver makes it the job's error instead of "exited with code 1".
    failure: dict[str, Any] | None = None
    # The attempt that ran to its end: how a driver that adopted the job after its own driver
    # died (and so cannot read its exit code) tells that it succeeded.
    succeeded: int | None = None

    def count(self, node: str, direction: str, n: int) -> None:
        slot = self.rows.setdefault(node, {"in": 0, "out": 0})
        slot[direction] += n

    def fail(self, exc: BaseException, attempt: int) -> None:
        """Record why attempt ``attempt`` failed: the exception's type and message and the node
        at fault (``UserCodeError`` and ``InvalidPlan`` carry it).

        The type is the user's exception when an engine wrapped one: engines report it as
        "Type: message" inside an aiflow error (the Flink engine can carry only that text back
        from its workers), so a ``ValueError('bad row')`` in a transformer is recorded as
        ``ValueError`` / ``bad row``, not as ``UserCodeError`` / ``ValueError: bad row``.
        """
        from aiflow.errors import AiflowError

        node = getattr(exc, "node", None)
        message = exc.message if isinstance(exc, AiflowError) else str(exc)
        message = message.removeprefix(f"node '{node}': ") if node else message
        kind = type(exc).__name__
        cause = exc.__cause__
        named = _NAMED.match(message)
        if cause is not None and message.startswith(f"{type(cause).__name__}: "):
            kind, message = type(cause).__name__, message[len(type(cause).__name__) + 2 :]
        elif isinstance(exc, AiflowError) and named:
            kind, message = named.group(1), named.group(2)
        self.failure = {"type": kind, "message": message, "node": node, "attempt": attempt}
        if isinstance(exc, AiflowError):
            self.failure["code"] = exc.code

    def to_dict(self) -> dict[str, Any]:
        result = {
            "rows": self.rows,
            "outputs": self.outputs,
            "model_versions": self.model_versions,
            "metrics": self.metrics,
            "batches": self.batches,
            "dead_letters": self.dead_letters,
            "engine": self.engine,
        }
        if self.failure is not None:  # only then: a successful job's result keeps its shape
            result["failure"] = self.failure
        if self.succeeded is not None:
            result["succeeded"] = self.succeeded
        if self.decisions or self.pushes:  # only for jobs with lifecycle nodes
            result["decisions"] = self.decisions[-_KEPT_DECISIONS:]
            result["pushes"] = self.pushes[-_KEPT_DECISIONS:]
        return result


_KEPT_DECISIONS = 100  # a stream job publishes its newest ones (the history has them all)

# "ValueError: bad row" -> ("ValueError", "bad row"): a Python exception's name as engines
# prefix the messages of the user exceptions they wrap.
_NAMED = re.compile(r"([A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt)): (.*)", re.DOTALL)


def describe_failure(failure: dict[str, Any]) -> str:
    """One line for a recorded failure, as the job's and execution's error field show it:
    ``node 'clean': ValueError: bad row``."""
    text = f"{failure.get('type') or 'Error'}: {failure.get('message', '')}"
    node = failure.get("node")
    return f"node '{node}': {text}" if node else text


@dataclass
class JobContext:
    store: JobAccess
    job: Job
    execution: Execution
    spec: JobSpec
    settings: Settings
    code: UserCode
    stop: threading.Event = field(default_factory=threading.Event)
    result: JobResult = field(default_factory=JobResult)

    @property
    def mode(self) -> str:
        return self.spec.mode

    @property
    def execution_dir(self) -> str:
        """The execution's intermediates: a path, or a URI under ``storage.root``."""
        return f"{self.settings.executions_uri}/{self.execution.id}"

    def resolve_uri(self, uri: str) -> str:
        return uri.replace(EXECUTION_DIR, self.execution_dir)

    def stream_consumer(self, node: Node) -> str:
        """Ledger key of a stream source. A user example's progress belongs to the workflow
        (a new execution continues where the last one stopped); an intermediate's belongs to
        its execution."""
        if self.spec.mode == "stream" and node.kind.value == "read_intermediate":
            return f"execution/{self.execution.id}/{node.id}"
        return f"workflow/{self.spec.workflow}/{node.id}"

    def dead_letter_dir(self, node: Node) -> str:
        """Where a source keeps the records that did not fit its schema (``on_error`` skip or
        dead_letter): the example's ``dead_letter_uri`` (one folder per execution, so runs
        never mix), else the execution's own directory."""
        assert node.example is not None
        chosen = node.example.options.get("dead_letter_uri")
        if chosen:
            return f"{self.resolve_uri(str(chosen)).rstrip('/')}/execution={self.execution.id}"
        return f"{self.execution_dir}/dead_letter/{node.id}"

    def model_version_for(self, node: Node) -> ModelVersion | None:
        """The model version a node evaluates or predicts with — the one rule every engine
        follows. A batch run uses the version its own train node registered (rerunning gives
        the same answer whatever was deployed meanwhile); otherwise the serving version (alias
        ``deployed``, else the newest). None only in stream mode, where serving waits for
        training's first version."""
        from aiflow.errors import NotFound

        assert node.model is not None
        store, name = self.store, node.model
        source = self.spec.model_sources.get(node.id)
        if self.mode == "batch" and source is not None:
            version = store.latest_model_version(
                name, execution_id=self.execution.id, node_id=source
            )
            if version is None:
                raise NotFound(
                    f"node '{node.id}': train node '{source}' registered no version of "
                    f"model '{name}' in execution {self.execution.id}"
                )
            return version
        version = store.serving_version(name)
        if version is None and self.mode != "stream":
            raise NotFound(
                f"node '{node.id}': model '{name}' has no versions yet "
                "(train it first, see `aiflow model versions`)"
            )
        return version

    def serving_lookup(self) -> ServingLookup:
        """What code in the job's other processes (Flink UDF workers) asks for the version to
        serve: picklable, and through the same credential as the job itself."""
        from aiflow.translators.job_store import JobApiClient, StoreAt

        if isinstance(self.store, JobApiClient):
            return self.store
        uri = getattr(self.store, "uri", None)
        assert isinstance(uri, str), f"{self.store!r} is neither a MetaStore nor a job API"
        return StoreAt(uri)

    def publish(self) -> None:
        self.store.update_job(self.job.id, result=self.result.to_dict())
