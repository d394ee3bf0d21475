"""What the driver hands to deployers and how drivers themselves are started.

Shared by the driver loop, ``request_stop`` and ``reconcile``, which all need to build job
commands or stop many jobs at once, and by ``aiflow run --detach`` (``spawn_driver``).

Job credentials: a driver started for a server (its environment has ``AIFLOW_JOB_API``, which
``aiflow server`` sets for every driver it starts, and an operator sets for an ``aiflow
scheduler`` running beside a server) gives each job attempt a job token and the job API's URL
instead of the meta store URL (``job_env``): the job runs user code, which must not be able to
write anything into the store but its own results. A driver started by ``aiflow run`` gives its
jobs the store URL, as the user's own code on the user's own store.

A job of an execution an event rule started also gets that event, as JSON in
``AIFLOW_EVENT`` (``af.current_event()``): a validation job started by a new model version
knows which version to validate, whether or not it can reach the store.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from aiflow.config import Settings, get_settings
from aiflow.dsl.events import EVENT_ENV
from aiflow.errors import NotFound
from aiflow.translators.job_store import JOB_API_ENV, job_api_environment, without_credentials

if TYPE_CHECKING:
    from aiflow.deployers.base import Deployer, Handle
    from aiflow.schemas.entities import Event, Job
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")


def default_command(job: Job) -> list[str]:
    """The aiflow runtime, in the driver's own interpreter so that the job sees the same
    installed packages as the workflow that was submitted."""
    # -P: the working directory (often the user's project) must not shadow the standard
    # library (a user's json.py); user code is imported from the snapshot instead.
    return [sys.executable, "-P", "-m", "aiflow.runtime", "--job-id", str(job.id)]


# What every job's environment has besides its own AIFLOW* variables (``Deployer.prepare``).
COMMON_JOB_ENV = {"PYTHONUNBUFFERED": "1"}  # logs reach the file as they are written, not at exit


def job_log_path(execution_id: int, job_name: str, attempt: int) -> Path:
    return get_settings().logs_dir / str(execution_id) / job_name / f"attempt-{attempt}.log"


def job_env(
    store_uri: str,
    job: Job,
    attempt: int,
    settings: Settings,
    fired: Callable[[], Event | None] | None = None,
) -> dict[str, str]:
    """Environment a job attempt gets on top of the deployer's: enough to find the same home
    as the driver even when the driver was configured by a config file, not env, and the meta
    store: its URL, or, under a server, the job API's URL and a token for this attempt alone
    (minted here, in the store, valid while the attempt runs; see ``aiflow.store.job_tokens``);
    and the event that started its execution, if a rule did (``EVENT_ENV``): ``fired()``
    when given (a driver reads it once per execution), else read here.

    The token travels in the environment: fine for a local child process (only the same OS
    user can read it); a Kubernetes deployer puts it in a Secret mounted into the pod rather
    than in the pod spec."""
    env = {
        **COMMON_JOB_ENV,
        "AIFLOW_HOME": str(settings.home),
        "AIFLOW_EXECUTION_ID": str(job.execution_id),
        "AIFLOW_JOB_ID": str(job.id),
        "AIFLOW_JOB_NAME": job.name,
        "AIFLOW_ATTEMPT": str(attempt),
    }
    event = fired() if fired is not None else fired_by(store_uri, job.execution_id)
    if event is not None:
        env[EVENT_ENV] = event.model_dump_json()
    job_api = os.environ.get(JOB_API_ENV)
    if job_api:
        token = _store(store_uri).create_job_token(job.id, attempt)
        return env | job_api_environment(job_api, token)
    return env | {"AIFLOW__METASTORE__URI": store_uri}


def fired_by(store_uri: str, execution_id: int) -> Event | None:
    """The event whose fire started execution ``execution_id``, or ``None`` (not started by an
    event rule, or the event is no longer in the log: its job then runs without it)."""
    store = _store(store_uri)
    seq = store.get_execution(execution_id).trigger_event_seq
    if seq is None:
        return None
    try:
        return store.get_event(seq)
    except NotFound:
        log.warning("execution %s: the event %s that started it is gone", execution_id, seq)
        return None


@cache
def _store(uri: str) -> MetaStore:
    """One store object per URI (minting tokens, reading events): a new one would check the
    schema again."""
    from aiflow.store.sql_store import MetaStore

    return MetaStore(uri)


def catch_stop_signals(on_signal: Callable[[str], None]) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``on_signal(name)`` instead of ending the process, so the
    driver can stop its jobs (which run in sessions of their own and never see the signal)
    and record why; returns a function that restores the previous handlers. A no-op outside
    the main thread, where Python cannot install handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)

    return restore


def stop_all(deployer: Deployer, handles: Sequence[Handle], grace: float) -> None:
    """Stop jobs in parallel, so ending N jobs takes one grace period, not N; errors are
    logged, never raised: the caller is already on a path that must finish."""

    def stop(handle: Handle) -> None:
        try:
            deployer.stop(handle, grace)
        except Exception:
            log.exception("could not stop job %s", handle)

    if len(handles) == 1:
        stop(handles[0])
        return
    threads = [threading.Thread(target=stop, args=(h,), daemon=True) for h in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _fork_driver(
    command: list[str], env: dict[str, str], log_fd: int, settings: Settings
) -> int | None:
    """The driver forked from the user's zygote (``aiflow.runtime.zygote``, the one its jobs
    come from) when one is listening: it starts with aiflow imported, in milliseconds rather
    than ~0.5 s. None: start it as a new interpreter."""
    scheduler = settings.scheduler
    if not scheduler.warm_workers:
        return None
    from aiflow.deployers.local.deployer import pidfds_work
    from aiflow.deployers.local.warm import fork_detached

    if not pidfds_work():
        return None
    preload = tuple(scheduler.warm_preload)
    return fork_detached(command, env, os.getcwd(), log_fd, preload, scheduler.warm_shared_idle)


def spawn_driver(execution_id: int, *, store_uri: str | None = None, adopt: bool = False) -> int:
    """Start ``python -m aiflow.scheduler --execution-id N`` detached and return its pid;
    with ``adopt``, a driver that replaces the running execution's dead one (``--adopt``).

    Detached means a new session, so closing the terminal that ran ``aiflow run --detach`` does
    not end it; its output goes to ``logs_dir/<id>/driver.log``. The store URI travels in the
    environment, never on the command line, where ``ps`` would show its password. The driver
    gets no server secret or client token (it needs neither); ``AIFLOW_JOB_API``, when this
    process has it (a server), passes through, so the driver's jobs get job tokens.
    """
    settings = get_settings()
    log_path = settings.logs_dir / str(execution_id) / "driver.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **without_credentials(os.environ),
        "AIFLOW_HOME": str(settings.home),
        "AIFLOW__METASTORE__URI": store_uri or settings.metastore_uri,
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-P", "-m", "aiflow.scheduler", "--execution-id", str(execution_id)]
    command += ["--adopt"] if adopt else []
    with open(log_path, "ab") as out:
        pid = _fork_driver(command, env, out.fileno(), settings)
        if pid is not None:
            return pid
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    # Reap it if this process outlives it, so a long-lived caller collects no zombies and
    # liveness checks do not mistake a zombie for a running driver.
    threading.Thread(target=proc.wait, name=f"aiflow-driver-{proc.pid}", daemon=True).start()
    return proc.pid
