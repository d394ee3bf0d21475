"""Warm gateway JVMs (``aiflow.translators.flink.gateways``): a Flink job started by the local
deployer adopts a JVM the pool started and warmed, that JVM is its alone and ends with it, its
log is the job's, and a pool that dies leaves no JVM behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from aiflow.translators.flink import gateways
from tests.e2e.conftest import Cli
from tests.flink.workflows import DOUBLE
from tests.services import alive, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.flink]

WORKFLOW = (
    DOUBLE
    + """
numbers = af.Example("numbers", schema={"x": "bigint"}, batch_uri="numbers.csv")
with af.workflow("gateways", engine="flink") as wf:
    doubled = af.transform(af.read_example(numbers), Double())
    af.write_example(doubled, af.Example("doubled", batch_uri="out/doubled.csv"))
"""
)


def test_launch_environment_decides_which_pool() -> None:
    """Per-job variables do not split pools; anything a JVM launch may read does."""
    base = {"PATH": "/usr/bin", "JAVA_HOME": "/jdk17"}
    job = base | {"AIFLOW_JOB_ID": "7", "AIFLOW__METASTORE__URI": "sqlite://", "PWD": "/x"}
    assert gateways.launch_env(job) == base
    assert gateways.socket_path(gateways.launch_env(job)) == gateways.socket_path(base)
    other = base | {"JAVA_HOME": "/jdk21"}
    assert gateways.socket_path(other) != gateways.socket_path(base)
    assert gateways.socket_path(base | {"HADOOP_CLASSPATH": "/h"}) != gateways.socket_path(base)


def test_the_warmup_stub_answers_a_submission_as_flink_would() -> None:
    """The warm-up submits to a stub of Flink's REST API: a chunked multipart upload is read
    to its end and accepted (202, a job URL), the job's status is RUNNING, nothing else is."""
    import http.client
    import json

    from aiflow.translators.flink.gateway_warmup import stub_cluster

    with stub_cluster() as url:
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        conn.putrequest("POST", "/v1/jobs")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.endheaders()
        for chunk in (b"--x\r\n" + b"j" * 5000, b"\r\n--x--\r\n"):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        accepted = conn.getresponse()
        assert accepted.status == 202
        job_url = json.loads(accepted.read())["jobUrl"]
        assert job_url.startswith("/jobs/")
        conn.request("GET", f"/v1{job_url}/status")  # the same connection: the body was read
        status = conn.getresponse()
        assert (status.status, json.loads(status.read())) == (200, {"status": "RUNNING"})
        conn.request("GET", "/v1/jobs/overview")
        assert conn.getresponse().status == 404
        conn.close()


def _flink_info(cli: Cli, execution: int) -> dict[str, Any]:
    job = cli.json("job", "list", str(execution))[0]
    info: dict[str, Any] = cli.json("job", "show", str(job["id"]))["result"]["engine"]["flink"]
    return info


def _status(pool: str) -> dict[str, Any]:
    return gateways.ask(Path(pool), {"op": "status"})


def test_a_job_adopts_a_warm_jvm_that_ends_with_it(tmp_path: Path, aiflow_home: Path) -> None:
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"x": range(10)}).to_csv(tmp_path / "numbers.csv", index=False)
    (tmp_path / "wf.py").write_text(WORKFLOW)
    cli = Cli(aiflow_home, tmp_path, {"AIFLOW__FLINK__WARM_GATEWAYS": "1"})

    first = cli.json("run", str(tmp_path / "wf.py"))
    pool = _flink_info(cli, first["execution"]).get("gateway_pool")
    assert pool, "a Flink job of the local deployer names the pool it asked"
    # the first job of a machine may find no pool (it starts one) or one still warming;
    # once a spare is ready the next job adopts it
    wait_for(lambda: Path(pool).exists() and _status(pool)["ready"], 240, "a warm spare JVM")
    spare = _status(pool)["ready"][0]
    # it was warmed: the warm-up planned and submitted its jobs (to its stub) without error
    assert "a spare JVM failed" not in Path(pool).with_suffix(".log").read_text()

    second = cli.json("run", str(tmp_path / "wf.py"))
    info = _flink_info(cli, second["execution"])
    assert info["gateway"] == "warm" and info["gateway_pool"] == pool
    assert info["gateway_pid"] == spare  # the JVM it ran on, which the pool started
    out = pd.read_csv(tmp_path / "out" / "doubled.csv")
    assert sorted(out["x2"]) == [2 * x for x in range(10)]
    # its JVM wrote its log where a launched one would: the attempt's directory
    logs = list(Path(info["jvm_log_dir"]).glob("flink-*-python-*.log"))
    assert logs and any(p.stat().st_size for p in logs)
    # that JVM was the job's alone and ended with it; a new spare replaces it
    wait_for(lambda: not alive(spare), 60, "the adopted JVM ended after its job")
    wait_for(lambda: _status(pool)["ready"], 240, "a new spare JVM")
    assert spare not in _status(pool)["ready"] and not _status(pool)["adopted"]

    # kill -9 of the pool takes its spare JVMs with it (PR_SET_PDEATHSIG)
    status = _status(pool)
    os.kill(status["pid"], signal.SIGKILL)
    wait_for(lambda: not any(alive(p) for p in status["ready"]), 30, "the spares gone")
    wait_for(lambda: not alive(status["pid"]), 10, "the pool gone")

    # the next job finds no pool: it launches its own JVM, and starts a pool again
    third = cli.json("run", str(tmp_path / "wf.py"))
    assert _flink_info(cli, third["execution"])["gateway"] == "launched"

    def restarted() -> bool:
        try:
            return _status(pool)["pid"] != status["pid"]
        except OSError:  # not listening yet
            return False

    wait_for(restarted, 30, "a new pool")
