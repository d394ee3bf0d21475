"""What a running job knows: its spec, the meta store, where things go, and when to stop.

``JobResult`` accumulates what the job did (rows per node, outputs, model versions, metrics);
the runtime stores it on the job row, which is how ``aiflow run`` prints its summary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.translators.physical import EXECUTION_DIR, JobSpec

if TYPE_CHECKING:
    from aiflow.config import Settings
    from aiflow.plan.model import Node
    from aiflow.runtime.usercode import UserCode
    from aiflow.store.entities import Execution, Job
    from aiflow.store.sql_store import MetaStore


@dataclass
class JobResult:
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> {"in": n, "out": n}
    outputs: dict[str, str] = field(default_factory=dict)  # node -> where it wrote
    model_versions: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # node -> metrics
    batches: int = 0

    def count(self, node: str, direction: str, n: int) -> None:
        slot = self.rows.setdefault(node, {"in": 0, "out": 0})
        slot[direction] += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "outputs": self.outputs,
            "model_versions": self.model_versions,
            "metrics": self.metrics,
            "batches": self.batches,
        }


@dataclass
class JobContext:
    store: MetaStore
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
    def execution_dir(self) -> Path:
        return self.settings.executions_dir / str(self.execution.id)

    def resolve_uri(self, uri: str) -> str:
        return uri.replace(EXECUTION_DIR, str(self.execution_dir))

    def stream_consumer(self, node: Node) -> str:
        """Ledger key of a stream source. A user example's progress belongs to the workflow
        (a new execution continues where the last one stopped); an intermediate's belongs to
        its execution."""
        if self.spec.mode == "stream" and node.kind.value == "read_intermediate":
            return f"execution/{self.execution.id}/{node.id}"
        return f"workflow/{self.spec.workflow}/{node.id}"

    def publish(self) -> None:
        self.store.update_job(self.job.id, result=self.result.to_dict())
