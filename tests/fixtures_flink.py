"""A real Flink session cluster for the test session, started with aiflow's own library.

``flink_cluster`` starts one ``aiflow.translators.flink.cluster.FlinkCluster`` (JobManager +
TaskManager from the ``apache-flink`` wheel's scripts) in a private home under pytest's temp
dir, once per session: it takes about 2.7 GB and 10-25 s to start on a 2-core machine, so never
per test. It is stopped (its own two pids) at teardown. ``flink_session`` is its REST URL,
what tests put in ``AIFLOW__FLINK__REST_URL``.

No PyFlink or no Java: skip, or fail under ``CI=true`` / ``AIFLOW_REQUIRE_SERVICES=1`` like the
database fixtures. A cluster that does not start with both present is a bug in aiflow: it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.services import unavailable

if TYPE_CHECKING:
    from aiflow.translators.flink.cluster import FlinkCluster

_START_TIMEOUT = 180.0  # a cold start on 2 busy cores; typically 10-25 s


@pytest.fixture(scope="session")
def flink_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlinkCluster]:
    """The session's running cluster (``.root`` is its private tree, logs in ``.log_dir``)."""
    from aiflow.errors import FlinkUnavailable
    from aiflow.translators.flink.cluster import FlinkCluster
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.flink.tableenv import find_java_home, pyflink_home

    try:
        pyflink_home()
        find_java_home()
    except FlinkUnavailable as exc:
        unavailable(f"Flink not available: {exc}")
    # explicit settings: the developer's aiflow.toml or AIFLOW__FLINK__* must not leak in
    cluster = FlinkCluster(tmp_path_factory.mktemp("flink-session"), FlinkSettings())
    for attempt in (1, 2):
        try:
            cluster.start(timeout=_START_TIMEOUT)
            break
        except FlinkUnavailable as exc:
            cluster.stop()
            # Once seen on a loaded 2-core box: a daemon's JVM died in its own initialization
            # ("InternalError: Bad level"); a second start is the honest remedy for that.
            if attempt == 2:
                pytest.fail(f"the Flink session cluster did not start (twice): {exc}")
            print(f"the Flink session cluster did not start, trying again: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def flink_session(flink_cluster: FlinkCluster) -> str:
    """REST URL of the session's running cluster (``http://127.0.0.1:<port>``).

    Checked before every test (one REST call): a test that broke the shared cluster (a
    TaskManager killed and not brought back) fails on its own; the next test gets the cluster
    started again instead of failing far from the cause for want of task slots."""
    status = flink_cluster.status()
    if not (status.running and status.taskmanager_pid):
        print(f"the Flink session cluster lost a daemon ({status}); starting it again")
        flink_cluster.start(timeout=_START_TIMEOUT)
        status = flink_cluster.status()
    assert status.running and status.rest_url, status
    return status.rest_url


@pytest.fixture
def two_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aiflow.ml's Flink jobs on the embedded mini-cluster with two tasks each (so data is
    really sharded), whatever the developer's settings say."""
    from aiflow.config import reset_settings

    monkeypatch.setenv("AIFLOW__FLINK__PARALLELISM", "2")
    monkeypatch.delenv("AIFLOW__FLINK__REST_URL", raising=False)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session", autouse=True)
def _gateway_pools_end_with_the_session() -> Iterator[None]:
    """Flink jobs of the local deployer start a gateway pool (``aiflow.translators.flink
    .gateways``) that outlives them by design; the test session does not leave it behind."""
    yield
    from aiflow.translators.flink.gateways import stop_pools

    stop_pools()
