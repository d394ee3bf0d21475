"""Live progress and the final summary of an execution, rendered with rich.

Shared by ``aiflow run`` and ``af.run`` so a run looks the same from the CLI and from Python.
It lives beside the DSL because ``af.run`` shows it; the scheduler never imports it: it takes
any ``ExecutionProgress`` factory (``run_workflow(progress=LiveProgress)``).
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from aiflow.schemas.entities import Execution, Job


class JobSource(Protocol):
    """Where an execution's jobs are read from: a ``MetaStore`` (a local run) or the CLI's
    ``Backend`` (``aiflow execution show``, possibly through a server)."""

    def list_jobs(self, execution_id: int) -> list[Job]: ...


STATUS_STYLE = {
    "queued": "dim",
    "running": "bold cyan",
    "stopping": "yellow",
    "succeeded": "bold green",
    "failed": "bold red",
    "killed": "yellow",
    "upstream_failed": "red",
}

# Piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80 columns, which
# would truncate the metrics and paths that are the point of these tables.
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.2f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def jobs_table(jobs: list[Job], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("job", "id", "engine", "status", "attempt", "duration"):
        table.add_column(column)
    for job in jobs:
        table.add_row(
            job.name,
            str(job.id),
            job.engine,
            status_text(job.status.value),
            str(job.attempt),
            fmt_duration(job.duration),
        )
    return table


class LiveProgress:
    """A live-updating jobs table; a no-op on non-terminals apart from the final summary."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self._live = Live(console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> LiveProgress:
        console.print(
            f"[bold]execution {self.execution.id}[/bold] of workflow "
            f"[bold]{self.execution.workflow_name}[/bold] ({self.execution.mode} mode, "
            f"engine {self.execution.engine}, deployer {self.execution.deployer})"
        )
        self._live.__enter__()
        return self

    def update(self, execution: Execution, jobs: list[Job]) -> None:
        self._live.update(jobs_table(jobs, title=f"status: {execution.status.value}"))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def finish(self, store: JobSource, final: Execution) -> None:
        print_summary(store, final)


def summary_data(store: JobSource, execution: Execution) -> dict[str, Any]:
    """The facts the summary shows, as plain data (also what ``--json`` prints)."""
    jobs = store.list_jobs(execution.id)
    versions, metrics, outputs = [], {}, {}
    for job in jobs:
        result = job.result or {}
        versions.extend(result.get("model_versions", []))
        metrics.update(result.get("metrics", {}))
        outputs.update(result.get("outputs", {}))
    duration = None
    if execution.started_at and execution.ended_at:
        duration = (execution.ended_at - execution.started_at).total_seconds()
    return {
        "execution": execution.id,
        "workflow": execution.workflow_name,
        "mode": execution.mode,
        "status": execution.status.value,
        "error": execution.error,
        "duration": duration,
        "jobs": [
            {
                "id": j.id,
                "name": j.name,
                "status": j.status.value,
                "attempt": j.attempt,
                "duration": j.duration,
                "error": j.error,
                "log": j.log_uri,
            }
            for j in jobs
        ],
        "model_versions": versions,
        "metrics": metrics,
        "outputs": outputs,
    }


def print_summary(store: JobSource, execution: Execution) -> None:
    data = summary_data(store, execution)
    jobs = store.list_jobs(execution.id)
    parts: list[Any] = [
        Text.assemble(
            ("execution ", "bold"),
            (str(execution.id), "bold"),
            "  ",
            status_text(execution.status.value),
            f"  in {fmt_duration(data['duration'])}",
        ),
        jobs_table(jobs),
    ]
    if execution.error:
        parts.append(Text(f"error: {execution.error}", style="red"))
    for job in jobs:
        if job.error:
            parts.append(Text(f"  {job.name}: {job.error}  (log: {job.log_uri})", style="red"))
    for v in data["model_versions"][-5:]:
        parts.append(
            Text(f"model {v['model']} version {v['version']} registered ({v['artifact_uri']})")
        )
    if len(data["model_versions"]) > 5:
        parts.append(Text(f"  ... {len(data['model_versions'])} versions registered in all"))
    for node, values in data["metrics"].items():
        shown = ", ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        parts.append(Text(f"metrics of {node}: {shown}"))
    for node, where in data["outputs"].items():
        parts.append(Text(f"{node} wrote {where}"))
    console.print(Group(*parts))
