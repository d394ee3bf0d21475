"""The local Flink session cluster (``aiflow flink start|status|stop``), the REST client on it,
and job submission through ``create_table_env`` to it.

Real daemons and real jobs: the CLI test starts one short-lived cluster of its own (smaller
memory, stopped before the test ends); everything else uses the session cluster of
``tests/fixtures_flink.py``. Jobs are submitted from a child process, as the engine's job
process does, so this pytest process never starts a PyFlink JVM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiflow.errors import FlinkUnavailable, InvalidInput
from aiflow.translators.flink.cluster import FlinkCluster
from aiflow.translators.flink.rest import FlinkRest, log_slice, root_cause_line, user_error
from aiflow.translators.flink.settings import FlinkSettings
from aiflow.translators.flink.tableenv import table_env_options
from tests.services import free_port

# -- the CLI on a cluster of its own -------------------------------------------------------------


def _cli(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW__")}
    env |= {
        "AIFLOW_HOME": str(home),
        "COLUMNS": "200",
        # small, and read from the environment: the status must show what was asked for
        "AIFLOW__FLINK__SLOTS": "1",
        "AIFLOW__FLINK__JOBMANAGER_MEMORY": "768m",
        "AIFLOW__FLINK__TASKMANAGER_MEMORY": "1280m",
    }
    return subprocess.run(
        [sys.executable, "-m", "aiflow", "flink", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
@pytest.mark.flink
def test_cli_start_status_stop_round_trip(aiflow_home: Path) -> None:
    pytest.importorskip("pyflink")
    cluster = FlinkCluster(aiflow_home, FlinkSettings())
    try:
        # two concurrent starts (two processes): the lock lets one start, the other waits
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda _: _cli(aiflow_home, "start"), range(2)))
        assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
        said = sorted("already running" in r.stderr for r in runs)
        assert said == [False, True], [r.stderr for r in runs]
        exports = {r.stdout.strip() for r in runs}
        assert len(exports) == 1
        (export,) = exports
        assert export.startswith("export AIFLOW__FLINK__REST_URL=http://127.0.0.1:")
        url = export.split("=", 1)[1]
        assert f"REST API: {url}" in runs[0].stderr

        status = json.loads(_cli(aiflow_home, "status", "--json").stdout)
        assert status["running"] is True
        assert status["rest_url"] == url
        assert status["web_ui_url"].startswith(url)
        assert status["flink_version"] == "2.3.0"
        assert (status["taskmanagers"], status["slots_total"]) == (1, 1)
        assert status["running_jobs"] == 0
        pids = [status["jobmanager_pid"], status["taskmanager_pid"]]
        assert _our_daemons(cluster) == sorted(pids)  # exactly one cluster was started
        assert "127.0.0.1" in _cli(aiflow_home, "status").stdout  # the table form

        again = _cli(aiflow_home, "start")
        assert again.returncode == 0 and "already running" in again.stderr

        began = time.monotonic()
        stopped = _cli(aiflow_home, "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
        print(f"stop took {time.monotonic() - began:.1f} s (with the CLI's start-up)")
        assert _our_daemons(cluster) == []
        assert json.loads(_cli(aiflow_home, "status", "--json").stdout)["running"] is False
        assert "no Flink cluster running" in _cli(aiflow_home, "stop").stdout
    finally:
        cluster.stop()


def _our_daemons(cluster: FlinkCluster) -> list[int]:
    """Pids of live processes started with this cluster's conf dir (for assertions only)."""
    import psutil

    conf = str(cluster.conf_dir)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if conf in cmdline and "java" in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.info["pid"])
    return sorted(found)


# -- the session cluster: status, REST, submitted jobs --------------------------------------------

_SUBMIT = """
import sys
from pyflink.table import DataTypes
from pyflink.table.udf import udf
from aiflow.translators.flink.settings import FlinkSettings
from aiflow.translators.flink.tableenv import create_table_env

url, mode, kind = sys.argv[1:4]
t_env = create_table_env(mode, FlinkSettings(rest_url=url, checkpoint_interval=1.0),
                         job_name=f"test_{kind}")

@udf(result_type=DataTypes.DOUBLE())
def add_one(x):
    if kind == "boom" and x > 5:
        raise ValueError("boom")
    return x + 1.0

t_env.create_temporary_function("add_one", add_one)
rows = "'number-of-rows'='20'," if mode == "batch" else ""
t_env.execute_sql(
    f"CREATE TEMPORARY TABLE src (a DOUBLE) WITH ('connector'='datagen', {rows}"
    "'rows-per-second'='50', 'fields.a.min'='0', 'fields.a.max'='10')"
)
t_env.execute_sql("CREATE TEMPORARY TABLE snk (b DOUBLE) WITH ('connector'='blackhole')")
result = t_env.execute_sql("INSERT INTO snk SELECT add_one(a) FROM src")
print(result.get_job_client().get_job_id())
"""


def _submit(url: str, mode: str, kind: str) -> str:
    """Submit a tiny job with a Python UDF from a child process; its Flink job id."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW__")}
    done = subprocess.run(
        [sys.executable, "-c", _SUBMIT, url, mode, kind],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.flink
def test_session_cluster_status(flink_cluster: FlinkCluster, flink_session: str) -> None:
    status = flink_cluster.status()
    assert status.running and status.rest_url == flink_session
    assert status.taskmanagers == 1 and status.slots_total == 2
    assert status.flink_version == "2.3.0" and status.error is None
    overview = FlinkRest(flink_session).overview()
    assert overview.flink_version == "2.3.0"
    assert FlinkRest(flink_session).has_python_jar()  # no 42 MB jar shipped per job


@pytest.mark.slow
@pytest.mark.flink
def test_stream_job_runs_checkpoints_and_cancels(flink_session: str) -> None:
    rest = FlinkRest(flink_session)
    began = time.monotonic()
    job_id = _submit(flink_session, "stream", "ok")
    assert rest.wait(job_id, {"RUNNING"}, timeout=60) == "RUNNING"
    print(f"submit (child process, JVM start included) -> RUNNING: {time.monotonic() - began:.1f}s")
    assert any(j.job_id == job_id and j.name == "test_ok" for j in rest.jobs())
    assert rest.web_ui_url(job_id, "RUNNING").endswith(f"/#/job/running/{job_id}/overview")

    deadline = time.monotonic() + 60
    while rest.checkpoints(job_id).completed < 1:  # checkpoint_interval=1 s reached the job
        assert time.monotonic() < deadline, rest.checkpoints(job_id)
        time.sleep(0.5)
    assert rest.checkpoints(job_id).latest_id is not None

    began = time.monotonic()
    rest.cancel(job_id)
    assert rest.wait(job_id, set(), timeout=30) == "CANCELED"
    print(f"cancel -> CANCELED: {time.monotonic() - began:.1f}s")
    details = rest.job(job_id)
    assert details.terminal and "CANCELED" in details.timestamps
    counts = rest.vertex_metrics(job_id)
    assert any("Source: src" in name for name in counts), counts
    rest.cancel(job_id)  # cancelling an ended job is a no-op


@pytest.mark.slow
@pytest.mark.flink
def test_failing_udf_reports_the_users_error(flink_session: str) -> None:
    rest = FlinkRest(flink_session)
    job_id = _submit(flink_session, "batch", "boom")
    assert rest.wait(job_id, set(), timeout=90) == "FAILED"
    assert rest.root_cause(job_id) == "ValueError: boom"
    history = rest.exceptions(job_id)
    assert history and "ValueError: boom" in history[0].stacktrace
    assert rest.checkpoints(job_id).completed == 0  # batch: no checkpointing, no error
    log = rest.taskmanager_log(job_id)
    assert job_id in log.splitlines()[0] and job_id in log.splitlines()[-1]
    assert "ValueError: boom" in log  # the Python worker's traceback is in the window
    assert rest.web_ui_url(job_id, "FAILED").endswith(f"/#/job/completed/{job_id}/overview")


# -- no cluster needed --------------------------------------------------------------------------


def test_unreachable_rest_endpoint_names_the_url_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(FlinkUnavailable, match=f"Flink REST endpoint {url} is unreachable"):
        FlinkRest(url, timeout=2.0).overview()
    with pytest.raises(FlinkUnavailable, match=url):
        FlinkRest(url, timeout=2.0).cancel("0" * 32)
    # a host that never answers (TEST-NET-1): bounded by the connect timeout
    silent = "http://192.0.2.1:8081"
    with pytest.raises(FlinkUnavailable, match=silent):
        FlinkRest(silent, timeout=1.0).overview()
    assert time.monotonic() - began < 10


def test_create_table_env_fails_fast_on_an_unreachable_cluster() -> None:
    pytest.importorskip("pyflink")
    from aiflow.translators.flink.tableenv import create_table_env

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(FlinkUnavailable, match=url):
        create_table_env("batch", FlinkSettings(rest_url=url))


def test_job_ids_are_checked_before_any_request() -> None:
    with pytest.raises(InvalidInput, match="not a Flink job id"):
        FlinkRest("http://127.0.0.1:1").job("../overview")


_TRACE = """org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoff...
\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handle(X.java:1)
Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: \
Traceback (most recent call last):
  File "/venv/apache_beam/runners/worker/sdk_worker.py", line 311, in _execute
    response = task()
  File "<stdin>", line 9, in add_one
ValueError: boom

\tat org.apache.beam.runners.fnexecution.control.FnApiControlClient.x(FnApiControlClient.java:1)
Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: \
Traceback (most recent call last):
  File "<stdin>", line 9, in add_one
ValueError: boom
"""


def test_user_error_is_the_last_python_error_line() -> None:
    assert user_error(_TRACE) == "ValueError: boom"
    assert user_error(_TRACE.replace("\n", "\r\n")) == "ValueError: boom"
    java_only = "org.apache.flink.X: outer\nCaused by: java.io.IOException: disk full\n\tat a.b(C)"
    assert user_error(java_only) is None
    assert root_cause_line(java_only) == "java.io.IOException: disk full"
    assert root_cause_line(_TRACE) == "ValueError: boom"
    assert log_slice("a\nb job1 start\nc\nd job1 end\ne", "job1") == "b job1 start\nc\nd job1 end"


def test_table_env_options_for_a_session_cluster(tmp_path: Path) -> None:
    pytest.importorskip("pyflink")
    jar = tmp_path / "connector.jar"
    jar.touch()
    remote = FlinkSettings(rest_url="http://127.0.0.1:8082", parallelism=2, checkpoint_interval=2)
    options = table_env_options("stream", remote, jars=[jar], job_name="7_train")
    assert options["execution.target"] == "remote"
    assert (options["rest.address"], options["rest.port"]) == ("127.0.0.1", "8082")
    assert options["python.executable"] == sys.executable
    assert options["restart-strategy.type"] == "none"
    assert options["execution.checkpointing.interval"] == "2000 ms"
    assert options["pipeline.name"] == "7_train"
    assert options["parallelism.default"] == "2"
    first, second = options["pipeline.jars"].split(";")
    assert "flink-python" in first and second == jar.as_uri()

    assert options["python.fn-execution.bundle.size"] == "200000"
    assert options["python.fn-execution.arrow.batch.size"] == "25000"
    local = table_env_options("batch", FlinkSettings(), ship_python_jar=False)
    assert "execution.target" not in local and "pipeline.jars" not in local
    assert "execution.checkpointing.interval" not in local
    # a batch bundle is bounded (the JVM keeps every record's row and result until it ends):
    # an unbounded one failed a 2M-row job on a session cluster (direct buffer memory)
    assert local["python.fn-execution.bundle.size"] == "200000"
    assert local["python.fn-execution.arrow.batch.size"] == "50000"
    assert local["python.metric.enabled"] == "false"
    small = table_env_options("batch", FlinkSettings(batch_bundle_rows=700))
    assert small["python.fn-execution.bundle.size"] == "700"
    with pytest.raises(InvalidInput, match="unknown Flink mode"):
        table_env_options("online", FlinkSettings())
    with pytest.raises(InvalidInput, match="http://host:port"):
        table_env_options("batch", FlinkSettings(rest_url="ftp://x:1"))
