"""Stopping a Flink job with its aiflow job: one Flink job per aiflow job, and it must not run
on without its driver.

The stop signal reaches the job process's whole process group, PyFlink's gateway JVM too. A
py4j call of the main thread in flight — the submission, a status poll — then blocks until that
JVM has run its shutdown hooks, which can outlast the stop grace; the SIGKILL after it would
leave the session cluster's job running. So a thread of the job's own, started before the
submission, cancels through Flink's REST API the moment a stop is asked for: by id once the
job has one, else by name (a submission the cluster accepted while our JVM was going away).
On the embedded mini-cluster the job lives in that JVM: if it is gone, so is the job."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from aiflow.errors import AiflowError

if TYPE_CHECKING:
    from aiflow.translators.context import JobContext

log = logging.getLogger(__name__)

SUBMISSION_WAIT = 10.0  # seconds a stopped job looks for a submission still landing


def cancel_on_stop(ctx: JobContext, name: str, info: dict[str, Any], rest_url: str) -> None:
    """Watch ``ctx.stop`` from a daemon thread; on a stop, cancel the Flink job through REST:
    ``info["job_id"]`` once known, else the job named ``name`` when it appears."""

    def watch() -> None:
        ctx.stop.wait()
        # the JVM going away is expected now: py4j's connection errors (calls in flight,
        # Java objects collected at exit) are noise in the job's log. PyFlink gives
        # py4j.java_gateway a level of its own (WARN), so the parent's would not do.
        for name in ("py4j", "py4j.java_gateway", "py4j.clientserver"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        # A collection run by this thread's allocations finalizes py4j proxies, each telling
        # the JVM to drop its object: a hung JVM would block the cancel below until it dies.
        # The process is ending; its garbage can wait.
        gc.disable()
        deadline = time.monotonic() + SUBMISSION_WAIT
        while True:
            flink_id = info.get("job_id")
            if flink_id:
                cancel(None, flink_id, rest_url)
                log.info("stop: cancelled Flink job %s through %s", flink_id, rest_url)
                return
            if cancel_named(rest_url, name) or time.monotonic() > deadline:
                return
            time.sleep(0.5)

    threading.Thread(target=watch, name="flink-cancel-on-stop", daemon=True).start()


def cancel_named(rest_url: str, name: str) -> bool:
    """Cancel the running jobs called ``name`` (their ids never reached us); True if any."""
    from aiflow.translators.flink.rest import TERMINAL_STATES, FlinkRest

    rest = FlinkRest(rest_url)
    try:
        found = [j for j in rest.jobs() if j.name == name and j.state not in TERMINAL_STATES]
        for job in found:
            rest.cancel(job.job_id)
            log.info("cancelled Flink job %s (%s) on stop", name, job.job_id)
    except AiflowError as exc:
        log.warning("could not look for Flink job %s on %s: %s", name, rest_url, exc)
        return False
    return bool(found)


def cancel(client: Any, flink_id: str, rest_url: str | None) -> None:
    """Cancel a job we were asked to stop: through REST on a session cluster (our JVM, the
    JobClient's way there, may be gone), else through the JobClient (``None``: no fallback)."""
    if rest_url:
        from aiflow.translators.flink.rest import FlinkRest

        try:
            FlinkRest(rest_url).cancel(flink_id)
            return
        except AiflowError as exc:
            log.warning("could not cancel Flink job %s through %s: %s", flink_id, rest_url, exc)
    if client is None:
        return
    with contextlib.suppress(Exception):  # already ended, or went down with the JVM
        client.cancel().result()
