"""A small typed client for a Flink JobManager's REST API: cluster overview, jobs, cancel,
exceptions, checkpoints, per-vertex record counts and log slices.

Why our own and not PyFlink's ``JobClient``: the driver that submitted a job may be gone (the
server, ``aiflow job logs`` or a restarted scheduler look at it later), and REST needs no JVM.
Every call has a bounded timeout; an endpoint that does not answer raises
``FlinkUnavailable`` naming the URL, an unknown job ``NotFound``.

``user_error(stacktrace)`` reduces a Java stack trace with an embedded Python traceback (what a
failing UDF produces) to the user's own error line, e.g. ``ValueError: boom``.
"""

from __future__ import annotations

import functools
import re
import ssl
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from aiflow.errors import FlinkUnavailable, InvalidInput, NotFound

TERMINAL_STATES = frozenset({"FINISHED", "FAILED", "CANCELED"})  # globally terminal
_PY_ERROR = re.compile(r"^\w+(?:Error|Exception): .*$", re.MULTILINE)
# "Caused by: x.YException: msg", or Py4J's first line of a Java error ": x.YException: msg"
_CAUSED_BY = re.compile(r"^(?:Caused by|): ([\w.$]+(?:Error|Exception): .+)$", re.MULTILINE)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Overview:
    flink_version: str
    taskmanagers: int
    slots_total: int
    slots_available: int
    jobs_running: int
    jobs_finished: int
    jobs_cancelled: int
    jobs_failed: int


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    name: str
    state: str
    start_time: int | None  # epoch ms
    end_time: int | None
    duration_ms: int | None


@dataclass(frozen=True)
class Vertex:
    """A job vertex (a chain of operators). The record counts are what Flink counts at the
    chain's edges: a source's ``records_in`` and a sink's ``records_out`` stay 0."""

    id: str
    name: str
    parallelism: int
    status: str
    records_in: int
    records_out: int


@dataclass(frozen=True)
class JobDetails(JobSummary):
    timestamps: dict[str, int] = field(default_factory=dict)  # state -> epoch ms it was entered
    vertices: list[Vertex] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class FlinkException:
    name: str
    stacktrace: str
    timestamp: int | None
    task_name: str | None
    concurrent: list[FlinkException] = field(default_factory=list)


@dataclass(frozen=True)
class CheckpointSummary:
    completed: int
    failed: int
    in_progress: int
    restored: int
    latest_id: int | None  # the latest completed checkpoint
    latest_end_to_end_ms: int | None
    latest_completed_at: int | None  # epoch ms


class FlinkRest:
    """The REST API at ``url`` (``http://host:port``, the JobManager's ``rest.port``);
    ``web_ui``: where users reach the web UI when that is elsewhere (a YARN session's
    ResourceManager proxy), else ``url``."""

    def __init__(self, url: str, timeout: float = 10.0, web_ui: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.web_ui = (web_ui or url).rstrip("/")

    # -- cluster ---------------------------------------------------------------------------------

    def overview(self) -> Overview:
        data = self._get("/overview")
        return Overview(
            flink_version=str(data.get("flink-version", "")),
            taskmanagers=int(data.get("taskmanagers", 0)),
            slots_total=int(data.get("slots-total", 0)),
            slots_available=int(data.get("slots-available", 0)),
            jobs_running=int(data.get("jobs-running", 0)),
            jobs_finished=int(data.get("jobs-finished", 0)),
            jobs_cancelled=int(data.get("jobs-cancelled", 0)),
            jobs_failed=int(data.get("jobs-failed", 0)),
        )

    def has_python_jar(self) -> bool:
        """Whether the JobManager's classpath has ``flink-python`` (aiflow's own cluster does),
        so a submission need not ship that 42 MB jar in ``pipeline.jars``."""
        try:
            classpath = self._get("/jobmanager/environment").get("classpath", [])
        except NotFound:  # a Flink before 1.17 does not say: ship the jar to be safe
            return False
        return any("flink-python" in entry for entry in classpath)

    def web_ui_url(self, job_id: str | None = None, state: str | None = None) -> str:
        """The web UI, or a job's page in it (``completed`` once the job has ended)."""
        if job_id is None:
            return f"{self.web_ui}/#/overview"
        where = "completed" if state in TERMINAL_STATES else "running"
        return f"{self.web_ui}/#/job/{where}/{job_id}/overview"

    # -- jobs ------------------------------------------------------------------------------------

    def jobs(self) -> list[JobSummary]:
        """All jobs the JobManager knows (running and archived), newest first."""
        items = self._get("/jobs/overview").get("jobs", [])
        jobs = [_summary(item) for item in items]
        return sorted(jobs, key=lambda j: j.start_time or 0, reverse=True)

    def job(self, job_id: str) -> JobDetails:
        data = self._get(f"/jobs/{_checked(job_id)}")
        vertices = [
            Vertex(
                id=str(v.get("id")),
                name=str(v.get("name", "")),
                parallelism=int(v.get("parallelism", 0)),
                status=str(v.get("status", "")),
                records_in=int(v.get("metrics", {}).get("read-records", 0)),
                records_out=int(v.get("metrics", {}).get("write-records", 0)),
            )
            for v in data.get("vertices", [])
        ]
        base = _summary(data)
        return JobDetails(
            **asdict(base),
            timestamps={k: int(v) for k, v in data.get("timestamps", {}).items() if v},
            vertices=vertices,
        )

    def state(self, job_id: str) -> str:
        return self.job(job_id).state

    def wait(self, job_id: str, states: Iterable[str], timeout: float) -> str:
        """Poll until the job is in one of ``states`` (or has ended); its state then.

        Raises ``FlinkUnavailable`` when ``timeout`` passes first."""
        wanted = set(states) | TERMINAL_STATES
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(job_id)
            if state in wanted:
                return state
            if time.monotonic() > deadline:
                raise FlinkUnavailable(
                    f"Flink job {job_id} at {self.url} still {state} after {timeout:.0f} s"
                )
            time.sleep(0.2)

    def cancel(self, job_id: str) -> None:
        """Ask Flink to cancel the job (``PATCH /jobs/<id>?mode=cancel``, answered at once);
        the job reaches CANCELED shortly after. Cancelling an ended job is a no-op."""
        self._request("PATCH", f"/jobs/{_checked(job_id)}", params={"mode": "cancel"})

    # -- failures --------------------------------------------------------------------------------

    def exceptions(self, job_id: str) -> list[FlinkException]:
        """The job's exception history, newest first."""
        data = self._get(f"/jobs/{_checked(job_id)}/exceptions")
        entries = data.get("exceptionHistory", {}).get("entries", [])
        found = [_exception(e) for e in entries]
        if not found and data.get("root-exception"):  # the pre-history format
            found = [FlinkException("", str(data["root-exception"]), data.get("timestamp"), None)]
        return sorted(found, key=lambda e: e.timestamp or 0, reverse=True)

    def root_cause(self, job_id: str) -> str | None:
        """The newest failure reduced to one line: the user's Python error if a UDF raised,
        else the innermost Java cause; None when the job has no exception."""
        history = self.exceptions(job_id)
        if not history:
            return None
        newest = history[0]
        for exc in (newest, *newest.concurrent):
            user = user_error(exc.stacktrace)
            if user:
                return user
        return root_cause_line(newest.stacktrace)

    # -- progress --------------------------------------------------------------------------------

    def checkpoints(self, job_id: str) -> CheckpointSummary:
        try:
            data = self._get(f"/jobs/{_checked(job_id)}/checkpoints")
        except NotFound as exc:
            if "Checkpointing has not been enabled" not in str(exc):
                raise
            data = {}  # a batch job, or a stream job without checkpointing
        counts = data.get("counts", {})
        latest = (data.get("latest") or {}).get("completed") or {}
        return CheckpointSummary(
            completed=int(counts.get("completed", 0)),
            failed=int(counts.get("failed", 0)),
            in_progress=int(counts.get("in_progress", 0)),
            restored=int(counts.get("restored", 0)),
            latest_id=latest.get("id"),
            latest_end_to_end_ms=latest.get("end_to_end_duration"),
            latest_completed_at=latest.get("latest_ack_timestamp"),
        )

    def vertex_metrics(self, job_id: str) -> dict[str, tuple[int, int]]:
        """Vertex name -> (records in, records out): live while the job runs (Flink refreshes
        them every ``metrics.fetcher.update-interval``, 2 s on aiflow's cluster, 10 s by
        default) and final once it ended. Records a sink wrote are its ``records in``."""
        return {v.name: (v.records_in, v.records_out) for v in self.job(job_id).vertices}

    # -- logs ------------------------------------------------------------------------------------

    def taskmanager_log(self, job_id: str, max_bytes: int = 16 << 20) -> str:
        """The TaskManagers' log lines from the first to the last one naming ``job_id`` (the TM
        log is shared by all jobs, so this is the job's time window in it, with the Python
        workers' output). Empty when no TaskManager mentions the job (yet)."""
        _checked(job_id)
        managers = self._get("/taskmanagers").get("taskmanagers", [])
        parts = []
        for tm in managers:
            text = self._text(f"/taskmanagers/{tm['id']}/log", max_bytes)
            piece = log_slice(text, job_id)
            if piece:
                parts.append(piece)
        return "\n".join(parts)

    def jobmanager_log(self, job_id: str, max_bytes: int = 16 << 20) -> str:
        """Like ``taskmanager_log``, from the JobManager's log (scheduling, state changes)."""
        return log_slice(self._text("/jobmanager/log", max_bytes), _checked(job_id))

    # -- transport -------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self._request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise FlinkUnavailable(
                f"{self.url}{path} did not answer JSON: is {self.url} a Flink REST endpoint?"
            ) from None

    def _request(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            response = httpx.request(
                method, self.url + path, params=params, timeout=self._timeout(), verify=_tls()
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        self._check(response, path)
        return response

    def _text(self, path: str, max_bytes: int) -> str:
        """A (log) file's last ``max_bytes``; the whole stream is read, but never more than
        that is kept, and the read as a whole is bounded by 3x the timeout."""
        deadline = time.monotonic() + 3 * self.timeout
        tail = bytearray()
        try:
            with httpx.stream(
                "GET", self.url + path, timeout=self._timeout(), verify=_tls()
            ) as response:
                self._check(response, path)
                for chunk in response.iter_bytes():
                    tail += chunk
                    if len(tail) > 2 * max_bytes:
                        del tail[: len(tail) - max_bytes]
                    if time.monotonic() > deadline:
                        break
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return bytes(tail[-max_bytes:]).decode(errors="replace")

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0))

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.is_success:
            return
        response.read()
        detail = _errors(response)
        if response.status_code == 404:
            raise NotFound(f"Flink at {self.url}: {path} not found ({detail})")
        if response.status_code == 400:
            raise InvalidInput(f"Flink at {self.url} rejected {path}: {detail}")
        raise FlinkUnavailable(
            f"Flink REST endpoint {self.url} answered {response.status_code} for {path}: {detail}"
        )

    def _unreachable(self, exc: httpx.HTTPError) -> FlinkUnavailable:
        reason = str(exc) or type(exc).__name__
        return FlinkUnavailable(
            f"Flink REST endpoint {self.url} is unreachable ({reason}); is the cluster "
            "running? (`aiflow flink status`, or check flink.rest_url)"
        )


# -- stack traces and logs ------------------------------------------------------------------------


def user_error(stacktrace: str) -> str | None:
    """The user's error from a failed Python UDF: the last line of the form ``XxxError: msg``
    or ``XxxException: msg`` with an unqualified name, i.e. the last line of the Python
    traceback that Flink embeds in the Java one (Java class names are qualified, so they do not
    match). None when the trace has no Python error."""
    found = _PY_ERROR.findall(stacktrace.replace("\r", ""))
    return found[-1].strip() if found else None


def root_cause_line(stacktrace: str) -> str:
    """The user's Python error if any, else the innermost ``Caused by:``, else the first line."""
    user = user_error(stacktrace)
    if user:
        return user
    causes = _CAUSED_BY.findall(stacktrace)
    if causes:
        return str(causes[-1]).strip()
    lines = stacktrace.strip().splitlines()
    return lines[0] if lines else "unknown error"


def log_slice(text: str, needle: str) -> str:
    """The lines of ``text`` from the first to the last one containing ``needle``."""
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if needle in line]
    return "\n".join(lines[hits[0] : hits[-1] + 1]) if hits else ""


def _summary(data: dict[str, Any]) -> JobSummary:
    def ms(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, int | float) and value >= 0 else None

    return JobSummary(
        job_id=str(data.get("jid")),
        name=str(data.get("name", "")),
        state=str(data.get("state", "")),
        start_time=ms("start-time"),
        end_time=ms("end-time"),
        duration_ms=ms("duration"),
    )


def _exception(entry: dict[str, Any]) -> FlinkException:
    return FlinkException(
        name=str(entry.get("exceptionName", "")),
        stacktrace=str(entry.get("stacktrace", "")),
        timestamp=entry.get("timestamp"),
        task_name=entry.get("taskName"),
        concurrent=[_exception(e) for e in entry.get("concurrentExceptions", [])],
    )


def _checked(job_id: str) -> str:
    if not _JOB_ID.match(job_id):
        raise InvalidInput(f"'{job_id}' is not a Flink job id (32 hex digits)")
    return job_id


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors")
    except ValueError:
        return response.text[:300]
    if isinstance(errors, list) and errors:
        return str(errors[0]).strip().splitlines()[0][:300]
    return response.reason_phrase


@functools.cache
def _tls() -> ssl.SSLContext:
    """This process's TLS settings for the REST API (httpx's defaults: certificates verified
    against its CA bundle), built once: each ``httpx.request`` would otherwise build a client
    and load the bundle again (~70 ms here), on every status poll of a running job."""
    return httpx.create_ssl_context()
