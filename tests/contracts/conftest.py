"""Fixtures of the contract suites: one parameter per *registered* engine and deployer.

The parameters come from the registries themselves (``available_engines()``,
``available_deployers()``), so a new engine or deployer is in the suites the moment it is
registered. What an implementation needs to be tested (a cluster, an image, a marker) is its
*target* below; a registered name without one fails the suite, naming the table to extend.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiflow.deployers import available_deployers, get_deployer
from aiflow.deployers.base import Deployer
from tests.services import alive, unavailable


def registered_engines() -> list[str]:
    """Every engine name the engine registry accepts (the one line to change if it moves)."""
    from aiflow.translators.engine import available_engines

    return available_engines()


# -- deployers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployerTarget:
    """How the deployer contract runs its job program on one deployer.

    ``python`` starts the job program on the target (a local interpreter; in a pod, the image's);
    ``shared`` is where the program publishes what the test observes, seen by both sides;
    ``alive(pid)`` tells whether a process the program reported still runs on the target, and
    ``kill(pid)`` ends one a failed test left behind (a safety net, not part of the contract);
    ``start_latency`` is how long a job may take to start there.
    """

    name: str
    make: Callable[[], Deployer]
    python: tuple[str, ...]
    shared: Path
    alive: Callable[[int], bool]
    kill: Callable[[int], None]
    # s for a submitted job's process to start on the target (a YARN container: the
    # scheduler's allocation, localization and the ApplicationMaster's JVM); tests whose
    # timing must include a started job add it
    start_latency: float = 0.0


def _kill_local(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _local_target(request: pytest.FixtureRequest, name: str, shared: Path) -> DeployerTarget:
    make = functools.partial(get_deployer, name)
    return DeployerTarget(name, make, (sys.executable,), shared, alive, _kill_local)


def _kubernetes_target(request: pytest.FixtureRequest, name: str, shared: Path) -> DeployerTarget:
    """The test control plane (``k8s``), a fresh namespace per test (attempt names repeat
    across tests: every test's store starts at execution 1). Its node agent runs pods as local
    processes, so the image's interpreter is this one and pids are this machine's."""
    k8s = request.getfixturevalue("k8s")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    # Environment, not a Settings object: the contract's driver subprocesses read it too.
    monkeypatch.setenv("AIFLOW__KUBERNETES__KUBECONFIG", str(k8s.kubeconfig))
    monkeypatch.setenv("AIFLOW__KUBERNETES__NAMESPACE", k8s.namespace("contract"))
    monkeypatch.setenv("AIFLOW__KUBERNETES__PYTHON", sys.executable)
    from aiflow.config import reset_settings

    reset_settings()
    make = functools.partial(get_deployer, name)
    return DeployerTarget(name, make, (sys.executable,), shared, alive, _kill_local)


def _yarn_target(request: pytest.FixtureRequest, name: str, shared: Path) -> DeployerTarget:
    """The test Hadoop cluster (``hadoop_nodes``: restored after the test), an application
    type of the test's own. Its NodeManagers run containers as local processes, so the
    interpreter is this one and pids are this machine's."""
    from tests.yarn.fixtures import use_cluster

    cluster = request.getfixturevalue("hadoop_nodes")
    use_cluster(request.getfixturevalue("monkeypatch"), cluster)
    make = functools.partial(get_deployer, name)
    return DeployerTarget(
        name, make, (sys.executable,), shared, alive, _kill_local, start_latency=10.0
    )


# name -> how to reach it (given the requesting test, for the fixtures it needs, e.g. a
# cluster); a YARN deployer adds its line here, and then must pass the same suite.
DEPLOYER_TARGETS: dict[str, Callable[[pytest.FixtureRequest, str, Path], DeployerTarget]] = {
    "local": _local_target,
    "kubernetes": _kubernetes_target,
    "yarn": _yarn_target,
}


@pytest.fixture(params=available_deployers())
def deployer_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeployerTarget]:
    name: str = request.param
    if name not in DEPLOYER_TARGETS:
        pytest.fail(
            f"deployer {name!r} is registered but the contract suite cannot run it: add its "
            "target to DEPLOYER_TARGETS in tests/contracts/conftest.py"
        )
    shared = tmp_path / "shared"
    shared.mkdir()
    target = DEPLOYER_TARGETS[name](request, name, shared)
    yield target
    # Whatever a failed test (or a deployer that failed to stop it) left running must not
    # outlive the test: the job program publishes every pid it starts.
    for published in [*shared.glob("*.pid"), *shared.glob("*.tree")]:
        for pid in map(int, published.read_text().split()):
            if target.alive(pid):
                target.kill(pid)


# -- engines --------------------------------------------------------------------------------------


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home and os.access(Path(home) / "bin" / "java", os.X_OK)) or bool(
        shutil.which("java")
    )


def _check_flink() -> None:
    if importlib.util.find_spec("pyflink") is None:
        unavailable("Flink not available: pyflink is not installed (pip install 'aiflow[flink]')")
    if not _java_available():
        unavailable("Flink not available: no java on PATH or in $JAVA_HOME")


# name -> (marks, availability check, AIFLOW__* settings its runs need). Flink: checkpoints
# every second, so a stream run commits its output files within seconds.
ENGINE_MARKS: dict[str, list[pytest.MarkDecorator]] = {"flink": [pytest.mark.flink]}
ENGINE_CHECKS: dict[str, Callable[[], None]] = {"flink": _check_flink}
ENGINE_SETTINGS: dict[str, dict[str, str]] = {"flink": {"AIFLOW__FLINK__CHECKPOINT_INTERVAL": "1"}}


def engine_params() -> list[object]:
    return [pytest.param(name, marks=ENGINE_MARKS.get(name, [])) for name in registered_engines()]


@pytest.fixture(params=engine_params())
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """An engine name, available and configured for this test (after ``aiflow_home``)."""
    name: str = request.param
    ENGINE_CHECKS.get(name, lambda: None)()
    for key, value in ENGINE_SETTINGS.get(name, {}).items():
        monkeypatch.setenv(key, value)
    from aiflow.config import reset_settings

    reset_settings()
    return name
