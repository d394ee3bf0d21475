"""Helpers for the tests' real services and processes: free ports, readiness waits, liveness.

One copy for every fixture that starts something (PostgreSQL, MariaDB, Kafka, Flink, the aiflow
server) and for the tests that wait on processes they started. What is *not* here: starting any
particular service — that stays in its fixture module, which knows its binaries and logs.

A missing service is skipped on a developer's machine but fails under ``CI=true`` or
``AIFLOW_REQUIRE_SERVICES=1``: a silently skipped dialect or engine would hide regressions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any, NoReturn

import psutil
import pytest


def services_required() -> bool:
    """True where a missing service must fail the run instead of skipping its tests."""
    return os.environ.get("CI") == "true" or os.environ.get("AIFLOW_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for a missing service, or fail it where services are required."""
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all sockets stay bound until every port is chosen.

    Another process may still take a port between this call and the service's bind; fixtures
    that see "Address already in use" retry once.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """A loopback port nothing listens on right now (also what a test of "unreachable" uses)."""
    return free_ports(1)[0]


class NotReady(Exception):
    """``wait_ready`` gave up: the service's process exited or the timeout passed.

    ``exit_code`` is the process's exit status when it exited (else None) and ``last_error``
    the probe's last exception, so the fixture can say why in its own words with its log.
    """

    def __init__(self, exit_code: int | None, last_error: BaseException | None) -> None:
        why = f"exited with {exit_code}" if exit_code is not None else "timed out"
        super().__init__(f"{why}: {last_error}" if last_error is not None else why)
        self.exit_code = exit_code
        self.last_error = last_error


def wait_ready(
    probe: Callable[[], object],
    *,
    timeout: float,
    errors: tuple[type[BaseException], ...] = (Exception,),
    process: subprocess.Popen[Any] | None = None,
    interval: float = 0.1,
) -> None:
    """Call ``probe`` until it returns without raising one of ``errors``.

    Readiness is a real request (a query, a metadata call, ``/health``), never an open port:
    ports open before servers can answer. Raises ``NotReady`` as soon as ``process`` (the
    service, when the test started it) has exited, or after ``timeout`` seconds. Exceptions not
    in ``errors`` propagate at once: they are bugs, not a slow start.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except errors as exc:
            last: BaseException = exc
        exited = process.poll() if process is not None else None
        if exited is not None or time.monotonic() > deadline:
            raise NotReady(exited, last) from last
        time.sleep(interval)


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 90,
    what: str = "condition",
    interval: float = 0.2,
) -> None:
    """Poll ``predicate`` until it is true; fail the test naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has ended; only its parent's wait is
    missing)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def all_gone(*pids: int) -> bool:
    return not any(alive(pid) for pid in pids)
