"""Stopping a Flink stream job on the session cluster cancels its Flink job even when the job
process's gateway JVM does not answer: the stop signal reaches the whole process group, so that
JVM is going away at the same moment, and a py4j call in flight may block until the SIGKILL
after the stop grace. The cluster's job must not run on without its driver."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import Cli
from tests.flink.workflows import DOUBLE
from tests.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.flink]

WORKFLOW = (
    DOUBLE
    + """
numbers = af.Example("numbers", schema={"x": "bigint"}, stream_uri="in/")
with af.workflow("frozen", engine="flink") as wf:
    doubled = af.transform(af.read_example(numbers, stream={"poll_interval": 0.2}), Double())
    af.write_example(doubled, af.Example("doubled", stream_uri="out/"))
"""
)


def _gateway_jvm(job_id: int) -> psutil.Process:
    """The PyFlink gateway JVM started by the job process of aiflow job ``job_id``."""
    wanted = ["aiflow.runtime", "--job-id", str(job_id)]
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if all(part in cmdline for part in wanted):
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "java" in child.name():
                        return child
    raise AssertionError(f"no gateway JVM under the process of job {job_id}")


def test_stop_cancels_the_flink_job_while_the_gateway_jvm_hangs(
    tmp_path: Path, aiflow_home: Path, flink_session: str
) -> None:
    from aiflow.translators.flink.rest import FlinkRest

    (tmp_path / "in").mkdir()
    (tmp_path / "wf.py").write_text(WORKFLOW)
    cli = Cli(
        aiflow_home,
        tmp_path,
        {
            "AIFLOW__FLINK__REST_URL": flink_session,
            "AIFLOW__SCHEDULER__KILL_GRACE": "30",
            # a JVM of the job's own, in its process group (an adopted warm one is not)
            "AIFLOW__FLINK__WARM_GATEWAYS": "0",
        },
    )
    rest = FlinkRest(flink_session)
    started = cli.json("run", str(tmp_path / "wf.py"), "--mode", "stream", "--detach")

    def ours() -> list[str]:
        return [j.state for j in rest.jobs() if j.name.startswith("frozen/")]

    wait_for(lambda: "RUNNING" in ours(), 180, "the Flink job running")
    job = cli.json("job", "list", str(started["execution"]))[0]
    jvm = _gateway_jvm(job["id"])
    jvm.send_signal(signal.SIGSTOP)  # frozen: the job's next status call blocks in py4j
    try:
        time.sleep(1.5)
        stopping = time.monotonic()
        cli.run("execution", "stop", str(started["execution"]), "--wait", "0")
        # cancelled well within the 30 s stop grace, by the job process itself
        wait_for(lambda: "RUNNING" not in ours(), 20, "the Flink job cancelled")
        assert time.monotonic() - stopping < 20
    finally:
        with contextlib.suppress(psutil.Error):
            jvm.send_signal(signal.SIGCONT)
        with contextlib.suppress(OSError):
            os.kill(jvm.pid, signal.SIGKILL)
    assert set(ours()) <= {"CANCELED", "CANCELLING"}
