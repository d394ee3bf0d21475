"""REST server fixtures: a real ``aiflow server`` process per backend, and HTTP clients for it.

* ``api`` (session, per backend "sqlite" / "postgres"): ``python -m aiflow server`` on a free
  loopback port with its own ``AIFLOW_HOME``, meta store and secret key, and one token per
  role. Started once per backend per session: tests share it, so they must not assume an empty
  store (create uniquely named things; compare counts before and after).
* ``http`` (function): ``http("viewer")`` is an ``httpx.Client`` on the server with that role's
  token; ``http(None)`` sends none; ``http(token="aif_...")`` sends the given one.

Helpers for tests: ``assert_problem`` (the problem JSON contract), ``check_access`` (the auth
matrix of one endpoint), ``running_server`` (another short-lived server, e.g. in dev mode) and
``serving`` (an app object on a real uvicorn in a thread, for apps a test builds itself).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.schemas.entities import Role
from aiflow.store import db
from aiflow.store.sql_store import MetaStore
from tests.services import NotReady, free_port, wait_ready

SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ROLES = ("viewer", "editor", "admin")
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}


@dataclass(frozen=True)
class ApiServer:
    url: str
    home: Path
    store_uri: str
    tokens: dict[str, str]  # role -> plaintext token

    def env(self) -> dict[str, str]:
        """Environment for a CLI process on this server's meta store."""
        return server_env(self.home, self.store_uri)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``aiflow ARGS`` on this server's meta store."""
        done = subprocess.run(
            [sys.executable, "-m", "aiflow", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"aiflow {' '.join(args)} failed:\n{done.stderr}")
        return done


HttpFactory = Callable[..., httpx.Client]


def server_env(home: Path, store_uri: str | None, **settings: str) -> dict[str, str]:
    """A clean environment for a server or CLI process: none of this process's ``AIFLOW*``
    variables (the autouse ``aiflow_home`` fixture sets them per test), then ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env["AIFLOW_HOME"] = str(home)
    if store_uri is not None:
        env["AIFLOW__METASTORE__URI"] = store_uri
    env["AIFLOW__SERVER__SECRET_KEY"] = SECRET_KEY
    # Tests seed executions straight into the store that no driver should pick up; the test of
    # the embedded scheduler turns it back on.
    env["AIFLOW__SERVER__SCHEDULER"] = "false"
    env.update(settings)
    return env


@contextmanager
def running_server(env: dict[str, str], *args: str, log: Path) -> Iterator[str]:
    """``aiflow server ARGS`` on a free port; yields its URL once ``/health`` answers.

    Output goes to ``log`` (shown when the server fails to start). Stopped with SIGTERM (a
    graceful uvicorn shutdown), killed if that takes longer than ``STOP_TIMEOUT``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "aiflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen([*command, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, url, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Unhealthy(Exception):
    pass


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    def healthy() -> None:
        status = httpx.get(f"{url}/health", timeout=1).status_code
        if status != 200:
            raise _Unhealthy(f"/health answered {status}")

    try:
        errors = (httpx.TransportError, _Unhealthy)
        wait_ready(healthy, timeout=START_TIMEOUT, errors=errors, process=process, interval=0.05)
    except NotReady as exc:
        exited = exc.exit_code is not None
        why = f"exited with {exc.exit_code}" if exited else f"not healthy after {START_TIMEOUT}s"
        raise RuntimeError(f"server {why}:\n{log.read_text()}") from None


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an app object on a real uvicorn (free port, in a thread); yield its URL.

    For apps a test builds itself (a store at an old revision, an extra route); everything
    that can use the ``aiflow server`` process should (``api``, ``running_server``).
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)


def create_role_tokens(store_uri: str) -> dict[str, str]:
    store = MetaStore(store_uri)
    try:
        return {role: store.create_token(f"fixture-{role}", Role(role))[1] for role in ROLES}
    finally:
        store.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp(f"api-{request.param}")
    database = None
    if request.param == "sqlite":
        store_uri = f"sqlite:///{home / 'aiflow.db'}"
    else:
        postgres = request.getfixturevalue("postgres_server")
        database = postgres.create_database(template=request.getfixturevalue("postgres_template"))
        store_uri = postgres.database_url(database)
    try:
        tokens = create_role_tokens(store_uri)
        with running_server(server_env(home, store_uri), log=home / "server.log") as url:
            yield ApiServer(url=url, home=home, store_uri=store_uri, tokens=tokens)
    finally:
        db.dispose_engine(store_uri)
        if database is not None:
            postgres.drop_database(database)


@pytest.fixture
def http(api: ApiServer) -> Iterator[HttpFactory]:
    clients: list[httpx.Client] = []

    def make(role: str | None = "admin", *, token: str | None = None) -> httpx.Client:
        secret = token or (api.tokens[role] if role else None)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        client = httpx.Client(base_url=api.url, headers=headers, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def unique(prefix: str) -> str:
    """A name no other test on the shared server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert PROBLEM_FIELDS <= set(body) <= PROBLEM_FIELDS | {"errors"}, body
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:aiflow:problem:{code}", body
    assert body["instance"] == response.request.url.path, body
    assert body["title"] and body["detail"], body
    assert "Traceback" not in response.text
    return body


def check_access(
    http: HttpFactory, method: str, path: str, least: Role, **request: Any
) -> dict[str | None, httpx.Response]:
    """The auth matrix of one endpoint: no token -> 401, roles below ``least`` -> 403, and
    ``least`` and above get past authorization (any other status). Returns the responses by
    role (None: no token) for further checks. Keyword arguments go to ``httpx.request``."""
    responses: dict[str | None, httpx.Response] = {}
    for role in (None, *ROLES):
        response = http(role).request(method, path, **request)
        responses[role] = response
        if role is None:
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        elif not Role(role).at_least(least):
            assert_problem(response, 403, "forbidden")
        else:
            assert response.status_code not in (401, 403), (role, response.text)
    return responses
