"""The contract between the scheduler and where jobs run (local processes, Kubernetes, YARN).

The scheduler's driver owns *when* a job runs (dependencies, retries, timeouts, stops); a deployer
owns only *how*: start one attempt, report whether it still runs, end it, and read its output.
Keeping the surface this small is what lets the same driver run a workflow on a laptop or on a
cluster, and lets a driver that restarted after a crash find jobs again from the JSON handle it
stored in ``job.handle`` alone.

Optional capabilities are advertised with ``supports_*`` class flags rather than extra abstract
methods, so a minimal deployer stays a minimal class and callers ask before relying on them.

``logs`` is the only way anything reads a job's output: the CLI, the REST API and the web all
go through it (via ``aiflow.scheduler.logs``), so a new deployer's logs show everywhere. Log
URIs and handles come from the meta store, which user code can write: ``logs`` must read only
what its jobs wrote (the local deployer: regular files inside the logs directory).
"""

from __future__ import annotations

import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from aiflow.errors import InvalidInput

if TYPE_CHECKING:
    from aiflow.config import Settings

Handle = dict[str, Any]
"""What ``submit`` returns and the scheduler stores as ``job.handle``: JSON-able, self-contained."""


@dataclass(frozen=True)
class JobLaunch:
    """Everything a deployer needs to start one attempt of one job.

    The driver builds it; a deployer must not read the meta store to fill gaps, so a deployer
    can be tested, and used by other drivers, without a database.
    """

    job_id: int
    execution_id: int
    job_name: str
    attempt: int  # 1 for the first launch, 2 for the first retry, ...
    command: list[str]
    env: dict[str, str]  # merged over the environment the deployer itself runs with
    log_path: Path  # stdout and stderr of every attempt, appended
    workdir: Path
    # This deployer's part of the job's ``deploy=`` options (``JobSpec.deploy[name]``),
    # accepted by its ``check_overrides`` when the run was submitted.
    overrides: dict[str, Any] = field(default_factory=dict)
    # The execution's workflow, for targets that show it (a YARN application's name); empty
    # where a caller has none.
    workflow_name: str = ""


@dataclass(frozen=True)
class JobState:
    """A job attempt as a deployer sees it right now.

    ``exit_code`` follows ``subprocess``: negative means "killed by signal -exit_code". It is
    ``None`` while running and when the deployer cannot know it, e.g. for a local process that a
    previous driver started: then only liveness is reliable and ``error`` says so.
    """

    running: bool
    exit_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class LogRange:
    """Bytes of an attempt's log as written (undecoded), for paging through a large log: the
    REST API's ``offset``/``length`` reads and its ``X-Log-Size``/``X-Next-Offset`` headers.

    ``chunks`` is read lazily and releases what it holds (an open file) when exhausted or
    closed. ``size`` and ``next_offset`` are ``None`` where they are unknown (a log read as
    lines from a deployer without ``supports_log_ranges``).
    """

    chunks: Iterator[bytes]
    size: int | None = None  # bytes in the log when it was opened
    next_offset: int | None = None  # where the range after this one starts


class Deployer(ABC):
    """Starts, watches, stops and reads the logs of job attempts on one kind of target.

    One instance serves one driver; it may keep in-memory state about the jobs it started (the
    local deployer keeps ``Popen`` objects for exact exit codes) but every method must also work
    from the handle alone, because drivers restart and ``aiflow stop`` runs in another process.

    ``get_deployer(name, settings)`` constructs it with the settings of the process that asks
    (a server's may differ from the environment's); ``None`` means ``get_settings()``, read
    when needed. A subclass that overrides ``__init__`` accepts the same argument.
    """

    name: ClassVar[str]
    # ``logs(..., follow=True)`` streams new output as it is written instead of ending at EOF.
    supports_follow_logs: ClassVar[bool] = False
    # ``read_log`` returns byte ranges, and ``logs`` accepts ``offset``: logs can be paged by
    # byte (the REST API's offset/length). Without it, logs are read as lines only.
    supports_log_ranges: ClassVar[bool] = False
    # ``wait_for_change`` returns as soon as a started job ends, instead of just sleeping; the
    # driver relies on this for low job-end -> successor-start latency.
    supports_wait: ClassVar[bool] = False
    # The jobs are processes of the driver's host, which no other host can poll or stop (the
    # local deployer). Such drivers hold no lease in the meta store and are judged dead only
    # from their own host (``aiflow.scheduler.lease``).
    host_bound: ClassVar[bool] = False

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The settings given at construction, else the process's current ones."""
        if self._settings is not None:
            return self._settings
        from aiflow.config import get_settings

        return get_settings()

    def prepare(self, env: dict[str, str] | None = None, timeout: float = 0.0) -> bool:
        """Get ready to submit soon, e.g. start a warm process to fork jobs from (the local
        deployer), for jobs whose ``JobLaunch.env`` will be ``env`` plus per-job ``AIFLOW*``
        variables; wait up to ``timeout`` s for it. Whether it is ready. A driver calls it
        before its first submit; submitting never requires it. The default has nothing to do.
        """
        return True

    @abstractmethod
    def submit(self, launch: JobLaunch) -> Handle:
        """Start one attempt and return its handle; raise ``DeploymentError`` if it cannot start."""

    @abstractmethod
    def poll(self, handle: Handle) -> JobState:
        """Report the attempt's state without blocking.

        The driver calls this for every running job on every loop turn (up to
        ``1 / scheduler.poll_interval`` times a second), so a remote deployer should answer
        from a cache or a watch. For an attempt another instance started, only liveness may be
        known: ``exit_code`` is then ``None`` and ``error`` says so.
        """

    @abstractmethod
    def stop(self, handle: Handle, grace: float) -> None:
        """End the attempt and everything it started: ask politely, force after ``grace`` s.

        Must be idempotent and must not fail if the attempt already ended; returns once the
        attempt is gone (or the target has confirmed it will be).
        """

    @abstractmethod
    def logs(
        self,
        handle_or_log_uri: Handle | str,
        *,
        follow: bool = False,
        tail: int | None = None,
        offset: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """Yield the attempt's output line by line (without line endings).

        ``tail`` limits the output already written to its last lines; ``offset`` (only with
        ``supports_log_ranges``) starts at that byte instead, e.g. where a ``read_log`` range
        ended. ``follow`` keeps yielding new lines until the attempt ends (or forever when only
        a log URI is given) or until ``until()`` returns true, checked between reads: that is
        how a caller ends following a log URI when the meta store says the job ended, or when
        its own client went away. What was written by then is yielded first.

        Raises ``NotFound`` *before returning* when the log does not exist (unless following,
        which waits for it) or may not be read, so that callers can answer "not found" before
        they start streaming.
        """

    def check_overrides(self, overrides: dict[str, Any], where: str) -> None:
        """Refuse per-node options (``deploy={name: overrides}``) this deployer would not
        honour, raising ``InvalidInput`` that names ``where`` (the node) and the option.

        Submitting a run calls this for every node before anything is recorded or started,
        so a typo fails the run at once instead of being ignored, or failing a job an hour
        in. The default takes none; a deployer that honours some overrides this, and gets
        them in ``JobLaunch.overrides``.
        """
        if overrides:
            raise InvalidInput(
                f"the {self.name} deployer takes no per-node overrides ({where}: "
                f"deploy['{self.name}'] sets {', '.join(sorted(overrides))})"
            )

    def refuse_offset(self, offset: int | None) -> None:
        """What ``logs`` does with an ``offset`` on a deployer without ``supports_log_ranges``:
        refuse it, saying how its logs can be read."""
        if offset is not None and not self.supports_log_ranges:
            raise InvalidInput(
                f"the {self.name} deployer reads logs by lines (whole, tail or follow), "
                "not from a byte offset"
            )

    def wait_for_change(self, timeout: float) -> None:
        """Block up to ``timeout`` s, returning early when a job this instance started may have
        ended. The driver calls ``poll`` afterwards, so a spurious early return is harmless.

        The default just sleeps; deployers that can be woken (``supports_wait``) override it.
        """
        time.sleep(max(timeout, 0.0))

    def read_log(
        self,
        handle_or_log_uri: Handle | str,
        *,
        offset: int | None = None,
        length: int | None = None,
        tail: int | None = None,
    ) -> LogRange:
        """The log's bytes from byte ``offset`` (at most ``length`` of them), or its last
        ``tail`` lines, up to its size when opened; only with ``supports_log_ranges``.

        Like ``logs``, it raises ``NotFound`` before returning if the log cannot be read.
        """
        raise InvalidInput(
            f"the {self.name} deployer cannot read byte ranges of logs; read them by lines "
            "(whole, tail or follow) instead"
        )


def describe_exit(exit_code: int) -> str:
    """Say how a process ended, naming the signal for negative (``subprocess``-style) codes, so
    that "killed by SIGKILL" rather than "-9" reaches the user."""
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by {name} (signal {-exit_code})"
    return f"exited with code {exit_code}"
