"""The mini-cluster's fast Python worker boot (``translators/flink/loopback.py``): the launcher
Flink runs as ``python.executable`` hands the request to the job process over its socket, and
runs anything else with the real interpreter. The worker start itself (PyFlink's loopback
service) runs in every mini-cluster job of ``tests/flink`` (``test_engine`` checks the count)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiflow.translators.flink import loopback

BOOT = ["-m", "pyflink.fn_execution.beam.beam_boot"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boot server whose worker start records the request (and answers ``answer``)."""
    requests: list[dict[str, Any]] = []
    answer = {"error": ""}

    def start(request: dict[str, Any]) -> str:
        requests.append(request)
        return answer["error"]

    monkeypatch.setattr(loopback, "start_worker", start)
    boot = loopback.BootServer()
    yield boot, requests, answer
    boot.close()


def _launch(launcher: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHON_LOOPBACK_SERVER_ADDRESS"}
    return subprocess.run(
        [str(launcher), *args], env={**environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_the_launcher_hands_the_worker_request_to_the_job_process(server: Any) -> None:
    boot, requests, _ = server
    done = _launch(
        boot.launcher,
        [*BOOT, "--id=1-1", "--provision_endpoint=localhost:4242", "--semi_persist_dir", "/x"],
        PYTHON_LOOPBACK_SERVER_ADDRESS="localhost:1234",
        MARKER="kept",
    )
    assert done.returncode == 0, done.stderr
    [request] = requests
    assert request["id"] == "1-1" and request["provision_endpoint"] == "localhost:4242"
    assert request["semi_persist_dir"] == "/x"
    # beam_boot sends its whole environment: PyFlink reads PYTHONPATH, the working dir, ...
    assert request["env"]["MARKER"] == "kept"
    assert request["env"]["PYTHON_LOOPBACK_SERVER_ADDRESS"] == "localhost:1234"
    assert boot.booted == 1


def test_a_worker_that_fails_to_start_fails_the_launcher_with_its_error(server: Any) -> None:
    boot, _, answer = server
    answer["error"] = "Traceback: no such provision endpoint"
    done = _launch(
        boot.launcher, [*BOOT, "--id=2"], PYTHON_LOOPBACK_SERVER_ADDRESS="localhost:1234"
    )
    assert done.returncode == 1
    assert "Error starting worker: Traceback: no such provision endpoint" in done.stderr


def test_anything_else_runs_with_the_real_interpreter(server: Any) -> None:
    boot, requests, _ = server
    # no loopback address: a worker in a process of its own (the real beam_boot's other path)
    done = _launch(boot.launcher, ["-c", "import sys; print(sys.executable, sys.argv[1:])", "a"])
    assert done.returncode == 0 and done.stdout.split()[0] == sys.executable
    assert "['a']" in done.stdout
    done = _launch(
        boot.launcher, ["-c", "print('plain')"], PYTHON_LOOPBACK_SERVER_ADDRESS="localhost:1"
    )
    assert done.stdout.strip() == "plain"
    assert requests == []


def test_a_closed_server_sends_the_launcher_the_long_way(server: Any, tmp_path: Path) -> None:
    boot, requests, _ = server
    boot._socket.close()
    os.unlink(boot.path)
    # beam_boot itself then runs: it fails here on the unreachable loopback address, as it would
    done = _launch(
        boot.launcher,
        [*BOOT, "--id=3", "--provision_endpoint=localhost:1"],
        PYTHON_LOOPBACK_SERVER_ADDRESS="localhost:1",
    )
    assert requests == []
    assert "Initializing Python harness" in done.stdout + done.stderr


def test_the_socket_is_private_to_this_user(server: Any) -> None:
    boot, _, _ = server
    assert (boot.directory.stat().st_mode & 0o777) == 0o700
    assert (boot.directory.parent.stat().st_mode & 0o777) == 0o700


def test_a_killed_job_process_leaves_a_directory_the_next_server_removes(server: Any) -> None:
    boot, _, _ = server
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = boot.directory.parent / f"flink-boot-{dead.pid}-x1"
    stale.mkdir()
    (stale / "python").write_text("#!/bin/sh\n")
    live = boot.directory.parent / f"flink-boot-{os.getpid()}-x2"
    live.mkdir()
    try:
        other = loopback.BootServer()
        other.close()
        assert not stale.exists()
        assert live.exists() and boot.directory.exists()
    finally:
        live.rmdir()
