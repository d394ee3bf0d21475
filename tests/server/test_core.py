"""The server's own endpoints (health, readiness, metrics), problem JSON, start-up checks and
dev mode -- against real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from aiflow import errors
from aiflow.config import ServerSettings, Settings
from aiflow.errors import InvalidInput
from aiflow.schemas.entities import ExecutionStatus, JobStatus
from aiflow.server.app import check_server, create_app, is_loopback
from aiflow.store import migrations
from aiflow.store.sql_store import JobCreate, MetaStore
from tests.server.conftest import (
    SECRET_KEY,
    ApiServer,
    HttpFactory,
    assert_problem,
    running_server,
    server_env,
    serving,
    unique,
)

API = "/api/v1"
UNREACHABLE = "postgresql+psycopg://aiflow:hunter2@127.0.0.1:9/aiflow?connect_timeout=2"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus exposition -> {(sample name, labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def new_execution(store_uri: str) -> int:
    store = MetaStore(store_uri)
    version = store.register_workflow_version(unique("wf"), {}, "p", "s", "file:///snap", [])
    jobs = [
        JobCreate(name="a", engine="local", spec={}),
        JobCreate(name="b", engine="local", spec={}),
    ]
    return store.create_execution(version.id, "batch", "local", "local", jobs).id


# -- health and readiness -----------------------------------------------------------------------


def test_health_needs_no_token(api: ApiServer) -> None:
    response = httpx.get(f"{api.url}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "x-aiflow-dev-mode" not in response.headers


def test_ready(api: ApiServer, http: HttpFactory) -> None:
    response = http("viewer").get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == migrations.head()
    assert http(None).get("/ready").json() == {"status": "ready"}  # a probe: no token, no details


def test_ready_is_503_while_the_store_is_unreachable(tmp_path: Path) -> None:
    """The server still starts (the database may come up later) but is not ready."""
    log = tmp_path / "server.log"
    with running_server(server_env(tmp_path, UNREACHABLE), log=log) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        response = httpx.get(f"{url}/ready", headers={"Authorization": "Bearer aif_anything"})
        body = assert_problem(response, 503, "metastore_unavailable")
        assert "127.0.0.1:9" in body["detail"] and "hunter2" not in response.text
    assert "could not reconcile executions" in log.read_text()


def test_ready_is_503_while_the_schema_is_behind(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    migrations.upgrade(uri, "0001")
    store = MetaStore(uri, auto_upgrade=False)
    app = create_app(store=store, settings=Settings(server=ServerSettings(dev=True)))
    with serving(app) as url:
        body = assert_problem(httpx.get(f"{url}/ready"), 503, "metastore_error")
        assert "at revision 0001" in body["detail"] and "aiflow db upgrade" in body["detail"]
        migrations.upgrade(uri)
        assert httpx.get(f"{url}/ready").status_code == 200  # checked afresh every time


# -- metrics ------------------------------------------------------------------------------------


def test_metrics(api: ApiServer, http: HttpFactory) -> None:
    viewer = http("viewer")
    before = samples(viewer.get("/metrics").text)
    execution_id = new_execution(api.store_uri)
    store = MetaStore(api.store_uri)
    store.transition_execution(execution_id, ExecutionStatus.RUNNING)
    store.emit_event(unique("key"), "TEST")
    viewer.get("/health")
    viewer.delete(f"{API}/tokens/{unique('missing')}")  # 403: a viewer
    viewer.get(f"{API}/no/such/path")  # (outside the API, paths are the dashboard's pages)

    response = viewer.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def gauge(name: str, status: str, data: dict) -> float:
        return data.get((name, frozenset({("status", status)})), 0.0)

    assert (
        gauge("aiflow_executions", "running", after)
        == gauge("aiflow_executions", "running", before) + 1
    )
    assert gauge("aiflow_jobs", "queued", after) == gauge("aiflow_jobs", "queued", before) + 2
    for status in ExecutionStatus:
        assert ("aiflow_executions", frozenset({("status", status.value)})) in after
    for status in JobStatus:
        assert ("aiflow_jobs", frozenset({("status", status.value)})) in after
    assert after[("aiflow_metastore_up", frozenset())] == 1
    assert 0 <= after[("aiflow_event_lag_seconds", frozenset())] < 60

    def requests(route: str, method: str, status: str) -> float:
        labels = frozenset({("route", route), ("method", method), ("status", status)})
        return after.get(("aiflow_http_request_duration_seconds_count", labels), 0.0)

    assert requests("/health", "GET", "200") >= 1
    assert requests(f"{API}/tokens/{{name}}", "DELETE", "403") >= 1  # the template, not the path
    assert requests("unmatched", "GET", "404") >= 1
    assert not any("missing-" in dict(labels).get("route", "") for _, labels in after)


# -- problems -----------------------------------------------------------------------------------


def test_every_error_the_server_raises_has_a_status() -> None:
    """Every error class says which HTTP status the server answers it with."""
    raised = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.AiflowError)
    ]
    unmapped = {cls.code for cls in raised if not 400 <= cls.status < 600}
    assert not unmapped, f"give these error classes an HTTP status (aiflow.errors): {unmapped}"


def test_unknown_route_and_method_are_problems(http: HttpFactory) -> None:
    admin = http("admin")
    assert_problem(admin.get(f"{API}/no/such/thing"), 404, "not_found")
    response = admin.put("/health")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_validation_errors_name_the_fields(http: HttpFactory) -> None:
    admin = http("admin")
    body = assert_problem(
        admin.post(f"{API}/tokens", json={"name": "has space", "role": "root"}),
        422,
        "invalid_input",
    )
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.role"}
    assert "body.name" in body["detail"] and "body.role" in body["detail"]
    assert "has space" not in json.dumps(body)  # submitted values are not echoed

    path = assert_problem(admin.delete(f"{API}/tokens/bad%20name"), 422, "invalid_input")
    assert [error["field"] for error in path["errors"]] == ["path.name"]

    missing = assert_problem(admin.post(f"{API}/tokens", json={}), 422, "invalid_input")
    assert [error["field"] for error in missing["errors"]] == ["body.name"]


def test_a_body_that_is_not_json_is_400(http: HttpFactory) -> None:
    response = http("admin").post(
        f"{API}/tokens", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "bad_request")


def test_a_bug_is_a_500_problem_without_the_traceback(tmp_path: Path) -> None:
    app = create_app(
        store=MetaStore(f"sqlite:///{tmp_path / 'm.db'}"),
        settings=Settings(server=ServerSettings(dev=True)),
    )

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom)
    with serving(app) as url:
        response = httpx.get(f"{url}/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.text and "RuntimeError" not in response.text
    assert "server log" in body["detail"]


# -- start-up and dev mode ----------------------------------------------------------------------


def run_server(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``aiflow server ARGS`` expected to refuse to start (a timeout means it served)."""
    env = server_env(tmp_path, None, **settings)
    return subprocess.run(
        [sys.executable, "-m", "aiflow", "server", "--port", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_start_up_refuses_without_a_secret_key(tmp_path: Path) -> None:
    done = run_server(tmp_path, AIFLOW__SERVER__SECRET_KEY="")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "AIFLOW__SERVER__SECRET_KEY" in lines[0], done.stderr
    assert "Traceback" not in done.stderr

    with pytest.raises(InvalidInput, match="at least 32 characters"):
        check_server(ServerSettings(secret_key=SecretStr("too-short")))
    check_server(ServerSettings(secret_key=SecretStr(SECRET_KEY)))


def test_dev_mode_refuses_non_loopback_addresses(tmp_path: Path) -> None:
    done = run_server(tmp_path, "--dev", "--host", "0.0.0.0")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    expected = "only allowed on a loopback address (127.0.0.1, ::1, localhost), not 0.0.0.0"
    assert expected in done.stderr
    check_server(ServerSettings(dev=True))  # 127.0.0.1 by default, no secret key needed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),  # a name may resolve to anything
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_dev_mode_needs_no_token_and_says_so(tmp_path: Path) -> None:
    env = server_env(tmp_path, f"sqlite:///{tmp_path / 'dev.db'}", AIFLOW__SERVER__SECRET_KEY="")
    log = tmp_path / "server.log"
    with running_server(env, "--dev", log=log) as url:
        response = httpx.post(f"{url}{API}/tokens", json={"name": "made-in-dev"})
        assert response.status_code == 201, response.text
        assert response.headers["x-aiflow-dev-mode"] == "1"
        listed = httpx.get(f"{url}{API}/tokens")
        assert listed.headers["x-aiflow-dev-mode"] == "1"
        assert [t["name"] for t in listed.json()["data"]] == ["made-in-dev"]
        assert httpx.get(f"{url}/no/such").headers["x-aiflow-dev-mode"] == "1"  # errors too
    assert "DEV MODE: authentication is OFF" in log.read_text()


def test_config_show_masks_the_secret_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aiflow", "config", "show"],
        env=server_env(tmp_path, None),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["server"]["secret_key"] == "***"
    assert SECRET_KEY not in done.stdout
