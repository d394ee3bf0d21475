"""The ``hadoop`` session fixture: one real HDFS + YARN cluster for every YARN test of a session.

It starts on first use (~17 s: HDFS and the ResourceManager ~11 s, then two NodeManagers in
parallel; the first run also fetches the ``hadoop-cluster`` jars, ~25 s cold) and stops at the
session's end. Missing Java, Maven or jars: skipped on a developer's machine, a failure under
``CI=true`` (``tests.services.unavailable``).

Convention: a test that kills NodeManagers, or that may leave YARN applications behind, uses
``hadoop_nodes`` (the same cluster) instead of ``hadoop``: after the test it kills unfinished
applications and starts NodeManagers until ``SESSION_NODEMANAGERS`` run again, so the next test
sees a full cluster whatever this one did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from aiflow.errors import AiflowError
from tests.services import unavailable
from tests.yarn.cluster import HadoopCluster, HadoopError, start_hadoop

if TYPE_CHECKING:
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

SESSION_NODEMANAGERS = 2


@pytest.fixture(scope="session")
def hadoop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HadoopCluster]:
    try:
        cluster = start_hadoop(tmp_path_factory.mktemp("hadoop"), SESSION_NODEMANAGERS)
    except AiflowError as exc:  # the jars: no Maven, a failed fetch, a checksum mismatch
        unavailable(f"the Hadoop test cluster's jars are not available: {exc.message}")
    except HadoopError as exc:
        unavailable(f"the Hadoop test cluster did not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def hadoop_nodes(hadoop: HadoopCluster) -> Iterator[HadoopCluster]:
    """The session cluster, restored after the test: unfinished applications killed, lost
    NodeManagers replaced, and the RM seeing exactly the running ones (a killed node is LOST
    only after the 10 s expiry, so a teardown after a kill takes that long)."""
    yield hadoop
    hadoop.kill_applications()
    missing = SESSION_NODEMANAGERS - len(hadoop.running_nodemanagers())
    if missing > 0:
        hadoop.start_nodemanagers(missing)
    hadoop.wait_nodes(timeout=90)


@pytest.fixture(scope="session")
def flink_on_yarn(
    hadoop: HadoopCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FlinkYarnSession]:
    """A Flink session running as a YARN application on ``hadoop`` (started once, ~25 s; its
    TaskManagers are YARN containers Flink asks for as jobs need slots). Its home, where its
    state file lives, is a directory of its own (``.state_file.parent.parent``)."""
    import getpass
    import sys

    from aiflow.deployers.yarn.settings import YarnSettings
    from aiflow.errors import FlinkUnavailable
    from aiflow.hadoop.conf import resolve
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.flink.tableenv import find_java_home, pyflink_home
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

    try:
        pyflink_home()
        find_java_home()
    except FlinkUnavailable as exc:
        unavailable(f"Flink not available: {exc}")
    session = FlinkYarnSession(
        resolve(
            YarnSettings(resource_manager=hadoop.resource_manager, hadoop_conf_dir=hadoop.conf_dir)
        ),
        hadoop.conf_dir,
        user=getpass.getuser(),
        python=sys.executable,
        home=tmp_path_factory.mktemp("flink-yarn-home"),
        settings=FlinkSettings(**FLINK_ON_YARN_MEMORY),
        hadoop_classpath=hadoop_classpath(hadoop),
    )
    session.start(timeout=240)
    try:
        yield session
    finally:
        session.stop()


# small enough for 2 NodeManagers beside the other tests' containers; TaskManagers of 1280 MB
FLINK_ON_YARN_MEMORY = {"jobmanager_memory": "768m", "taskmanager_memory": "1280m"}


def hadoop_classpath(cluster: HadoopCluster) -> str:
    """What ``hadoop classpath`` prints on a real cluster: conf dir, then the client jars."""
    return ":".join(cluster.classpath)


def use_cluster(monkeypatch: pytest.MonkeyPatch, cluster: HadoopCluster) -> str:
    """Point the yarn deployer (in this process and the drivers it starts: environment, not a
    Settings object) at ``cluster``, under an application type of this test's own, so that
    ``find_attempts`` sees only its applications (every test's store starts at execution 1).
    Returns that application type."""
    import json
    import uuid

    from aiflow.config import reset_settings

    app_type = f"aiflow-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HADOOP_CONF_DIR", str(cluster.conf_dir))
    monkeypatch.setenv("AIFLOW__YARN__APPLICATION_CLASSPATH", json.dumps(cluster.classpath))
    monkeypatch.setenv("AIFLOW__YARN__APPLICATION_TYPE", app_type)
    monkeypatch.setenv("AIFLOW__YARN__MEMORY", "512")
    reset_settings()
    return app_type
