"""What the web dashboard relies on: the cookie session (sign in, CSRF, roles, revocation, sign
out), the static files under ``/`` (SPA fallback, caching, CSP, no path out of the build) and
the read endpoints added for it (physical plan, source snapshot, example usage).

Sessions and endpoints run against the shared ``aiflow server`` process (``api``); the static
files against an in-process app on a real uvicorn (``serving``) whose ``dashboard.DIST`` points
at a fake build, since the server process serves the package's own build.
"""

from __future__ import annotations

import http.client
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aiflow.config import ServerSettings, Settings
from aiflow.plan import snapshot
from aiflow.plan.model import LogicalPlan
from aiflow.schemas.entities import WorkflowVersion
from aiflow.server import dashboard
from aiflow.server.app import create_app
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import ROLES, ApiServer, HttpFactory, assert_problem, serving, unique

API = "/api/v1"
SESSION = f"{API}/session"
CSRF = "X-CSRF-Token"


@pytest.fixture
def store(api: ApiServer) -> Iterator[MetaStore]:
    """The server's own meta store, opened from the test process."""
    store = MetaStore(api.store_uri)
    yield store
    store.dispose()


def sign_in(http: HttpFactory, token: str) -> tuple[httpx.Client, dict[str, Any]]:
    """A client without an Authorization header, signed in by cookie; and the sign-in answer."""
    browser = http(None)
    response = browser.post(SESSION, json={"token": token})
    assert response.status_code == 200, response.text
    return browser, response.json()


# -- the session ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_signing_in_sets_an_http_only_strict_cookie(
    api: ApiServer, http: HttpFactory, role: str
) -> None:
    token = api.tokens[role]
    browser = http(None)
    response = browser.post(SESSION, json={"token": token})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"name", "role", "csrf_token", "dev"}
    assert (body["name"], body["role"], body["dev"]) == (f"fixture-{role}", role, False)
    assert token not in response.text  # the token travels in the cookie only
    assert response.headers["cache-control"] == "no-store"
    name, *attributes = [part.strip() for part in response.headers["set-cookie"].split(";")]
    assert name == f"aiflow_session={token}"
    lowered = {attribute.lower() for attribute in attributes}
    assert {"httponly", "samesite=strict", "path=/"} <= lowered, attributes
    assert "secure" not in lowered  # plain HTTP here; Secure is set behind HTTPS

    me = browser.get(SESSION)  # authenticated by the cookie alone
    assert me.status_code == 200, me.text
    assert me.json() == body  # the same CSRF token: stable for the token's life
    assert browser.get(f"{API}/workflows").status_code == 200
    by_bearer = http(role).get(SESSION).json()
    assert by_bearer["role"] == role and by_bearer["csrf_token"] is None  # no cookie session


def test_a_bad_token_signs_in_no_one(api: ApiServer, http: HttpFactory) -> None:
    browser = http(None)
    response = browser.post(SESSION, json={"token": "aif_not-a-real-token"})
    assert_problem(response, 401, "unauthorized")
    assert "set-cookie" not in response.headers and not browser.cookies
    assert_problem(browser.post(SESSION, json={"token": ""}), 422, "invalid_input")
    # A cross-site HTML form can post text/plain without a CORS preflight: that is no sign-in.
    form = browser.post(
        SESSION,
        content=f'{{"token": "{api.tokens["admin"]}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert form.status_code == 422 and "set-cookie" not in form.headers, form.text
    forged = http(None)
    forged.cookies.set("aiflow_session", "aif_forged")
    assert_problem(forged.get(SESSION), 401, "unauthorized")
    assert_problem(http(None).get(SESSION), 401, "unauthorized")


def test_changes_by_cookie_need_the_sessions_csrf_token(
    api: ApiServer, http: HttpFactory, store: MetaStore
) -> None:
    name = seed.model(store, versions=1)[0].model_name
    promote = f"{API}/models/{name}/versions/1/promote"
    tag = f"{API}/models/{name}/versions/1/tags/owner"
    editor, session = sign_in(http, api.tokens["editor"])
    _, other_session = sign_in(http, api.tokens["admin"])
    history = store.model_history(name)
    assert other_session["csrf_token"] != session["csrf_token"]

    for headers in ({}, {CSRF: "0" * 64}, {CSRF: other_session["csrf_token"]}, {CSRF: ""}):
        body = assert_problem(editor.post(promote, headers=headers), 403, "forbidden")
        assert CSRF in body["detail"]
        refused = editor.put(tag, json={"value": "x"}, headers=headers)
        assert_problem(refused, 403, "forbidden")
    unchanged = store.get_model_version(name, 1)
    assert unchanged.stage != "deployed" and unchanged.tags == {}
    assert store.model_history(name) == history

    right = {CSRF: session["csrf_token"]}
    promoted = editor.post(promote, headers=right)
    assert promoted.status_code == 200 and promoted.json()["stage"] == "deployed", promoted.text
    assert editor.put(tag, json={"value": "x"}, headers=right).status_code == 200
    assert store.get_model_version(name, 1).tags == {"owner": "x"}
    changes = store.model_history(name)[len(history) :]
    assert changes and {c.actor for c in changes} == {"token:fixture-editor"}
    # A bearer header wins over the cookie and needs no CSRF token: another site's page cannot
    # send an Authorization header (CORS), nor does the browser add one by itself.
    bearer = {"Authorization": f"Bearer {api.tokens['editor']}"}
    assert editor.delete(tag, headers=bearer).status_code == 204
    assert store.get_model_version(name, 1).tags == {}


def test_roles_still_apply_to_cookie_sessions(
    api: ApiServer, http: HttpFactory, store: MetaStore
) -> None:
    name = seed.model(store, versions=1)[0].model_name
    execution = seed.execution(store, seed.workflow(store)[0])
    viewer, session = sign_in(http, api.tokens["viewer"])
    right = {CSRF: session["csrf_token"]}

    promote = viewer.post(f"{API}/models/{name}/versions/1/promote", headers=right)
    assert "role viewer" in assert_problem(promote, 403, "forbidden")["detail"]
    stop = viewer.post(f"{API}/executions/{execution.id}/stop", headers=right)
    assert_problem(stop, 403, "forbidden")
    tokens = viewer.get(f"{API}/tokens")
    assert_problem(tokens, 403, "forbidden")
    assert store.get_model_version(name, 1).stage != "deployed"
    assert store.get_execution(execution.id).status == execution.status


def test_revoking_the_token_ends_its_sessions(http: HttpFactory) -> None:
    name = unique("session")
    created = http("admin").post(f"{API}/tokens", json={"name": name, "role": "viewer"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    browser, _ = sign_in(http, token)
    assert browser.get(SESSION).status_code == 200

    assert http("admin").delete(f"{API}/tokens/{name}").status_code == 200
    assert_problem(browser.get(SESSION), 401, "unauthorized")  # revoked here: at once
    assert_problem(browser.get(f"{API}/workflows"), 401, "unauthorized")
    assert_problem(http(None).post(SESSION, json={"token": token}), 401, "unauthorized")


def test_signing_out_clears_the_cookie(api: ApiServer, http: HttpFactory) -> None:
    browser, _ = sign_in(http, api.tokens["viewer"])
    response = browser.delete(SESSION)
    assert response.status_code == 204, response.text
    cleared = response.headers["set-cookie"].lower()
    assert cleared.startswith('aiflow_session="";') or cleared.startswith("aiflow_session=;")
    assert "max-age=0" in cleared and "httponly" in cleared
    assert "aiflow_session" not in browser.cookies
    assert_problem(browser.get(SESSION), 401, "unauthorized")
    assert http("viewer").get(SESSION).status_code == 200  # the token itself stays valid


# -- the static files -------------------------------------------------------------------------

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/app-abc.js">'
SCRIPT = "console.log('aiflow')"
SECRET = "outside the build: never served"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(URL, dist) of a dev-mode app serving a fake build, with a secret file beside it and a
    symlink inside it pointing at that file."""
    root = tmp_path_factory.mktemp("site").resolve()
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-abc.js").write_text(SCRIPT)
    (dist / "favicon.svg").write_text("<svg/>")
    (root / "secret.txt").write_text(SECRET)
    (dist / "link.txt").symlink_to(root / "secret.txt")
    store = MetaStore(f"sqlite:///{root / 'm.db'}")
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped, so set up before the autouse per-test AIFLOW_HOME: isolate it here.
        patch.setenv("AIFLOW_HOME", str(root / "home"))
        for name in [n for n in os.environ if n.startswith("AIFLOW__")]:
            patch.delenv(name)
        app = create_app(store=store, settings=Settings(server=ServerSettings(dev=True)))
        patch.setattr(dashboard, "DIST", dist)
        with serving(app) as url:
            yield url, dist
    store.dispose()


def csp(response: httpx.Response) -> dict[str, list[str]]:
    directives = response.headers["content-security-policy"].split(";")
    return {d.split()[0]: d.split()[1:] for d in directives if d.strip()}


@pytest.mark.parametrize("path", ["/", "/executions/42", "/models/m/versions/3?tab=history"])
def test_pages_are_the_apps_index_revalidated_under_a_strict_csp(
    site: tuple[str, Path], path: str
) -> None:
    response = httpx.get(site[0] + path)
    assert response.status_code == 200 and response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = csp(response)
    assert policy["script-src"] == ["'self'"]  # no inline scripts, no eval
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_assets_are_immutable_and_a_missing_one_is_404(site: tuple[str, Path]) -> None:
    url = site[0]
    asset = httpx.get(f"{url}/assets/app-abc.js")
    assert asset.status_code == 200 and asset.text == SCRIPT
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "script-src 'self'" in asset.headers["content-security-policy"]
    icon = httpx.get(f"{url}/favicon.svg")  # a file of the build outside assets/: revalidated
    assert icon.text == "<svg/>" and icon.headers["cache-control"] == "no-cache"
    assert_problem(httpx.get(f"{url}/assets/missing.js"), 404, "not_found")


def test_api_paths_are_never_the_app(site: tuple[str, Path]) -> None:
    url = site[0]
    assert_problem(httpx.get(f"{url}/api/v1/nope"), 404, "not_found")
    assert_problem(httpx.get(f"{url}/api/v2/workflows"), 404, "not_found")
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "aiflow"
    assert_problem(httpx.get(f"{url}/api"), 404, "not_found")
    # the catch-all serves GET only, and never shadows the API's own 404 and 405
    assert_problem(httpx.post(f"{url}/api/v1/workflowz"), 404, "not_found")
    put_health = httpx.put(f"{url}/health")
    assert put_health.status_code == 405 and put_health.headers["allow"] == "GET"
    assert httpx.head(f"{url}/executions/42").status_code == 200  # monitors may HEAD pages


def test_dev_mode_refuses_changes_from_other_sites(site: tuple[str, Path]) -> None:
    """Dev mode has no authentication: a page of another site must not make the browser
    change things on the loopback server (a cross-site form post), while programs can."""
    url = site[0]
    event = {"key": "k", "type": "dev_test", "value": "v"}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = httpx.post(f"{url}/api/v1/events", json=event, headers=headers)
        assert_problem(refused, 403, "forbidden")
    assert httpx.get(f"{url}/api/v1/events", params={"type": "dev_test"}).json()["data"] == []
    same = httpx.post(f"{url}/api/v1/events", json=event, headers={"Origin": url})
    program = httpx.post(f"{url}/api/v1/events", json=event)
    assert same.status_code == program.status_code == 201
    assert len(httpx.get(f"{url}/api/v1/events", params={"type": "dev_test"}).json()["data"]) == 2


@pytest.mark.parametrize(
    "raw_path",
    [
        "/..%2fsecret.txt",
        "/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd",
        "/assets/../../secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/link.txt",  # a symlink out of the build
        "/index.html%00.js",
    ],
)
def test_no_path_reaches_outside_the_build(site: tuple[str, Path], raw_path: str) -> None:
    # http.client sends the path as written; httpx, like browsers, would remove dot segments.
    address = urlsplit(site[0])
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        connection.close()
    assert response.status in (200, 404), (response.status, body)
    assert SECRET not in body and "root:" not in body
    if response.status == 200:
        assert body == INDEX  # at most the app's page


def test_an_unbuilt_dashboard_says_so(
    site: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "DIST", tmp_path / "never-built")
    for path in ("/", "/executions/42"):
        response = httpx.get(site[0] + path)
        assert response.status_code == 503 and "not built" in response.text
        assert response.headers["content-type"].startswith("text/html")
        assert csp(response)["script-src"] == ["'self'"]
    assert_problem(httpx.get(f"{site[0]}/assets/app-abc.js"), 404, "not_found")


# -- read endpoints for the dashboard ---------------------------------------------------------


def plannable(store: MetaStore, where: Path) -> WorkflowVersion:
    """``seed.plan`` with data that exists (planning checks it), the trainer on the workflow's
    engine, a stream source (a directory) and a real source snapshot of two files."""
    name = unique("wf")
    (where / "stream").mkdir(parents=True)
    (where / "x.csv").write_text("x\n1.0\n")
    plan = seed.plan(name).model_dump(mode="json")
    for node in plan["nodes"]:
        if node["example"]:
            node["example"].update(batch_uri=str(where / "x.csv"), stream_uri=str(where / "stream"))
        node["engine"] = None
    (where / "src" / "lib").mkdir(parents=True)
    (where / "src" / "workflow.py").write_text("import lib.util\n")
    (where / "src" / "lib" / "util.py").write_text("ANSWER = 'é'\n")
    source = snapshot.collect(where / "src" / "workflow.py")
    uri = snapshot.store(source, where / "snapshots")
    logical = LogicalPlan.model_validate(plan).model_dump(mode="json")
    return store.register_workflow_version(name, logical, "plan", source.hash, uri, [])


def test_physical_plan_per_mode_and_engine(
    http: HttpFactory, store: MetaStore, tmp_path: Path
) -> None:
    version = plannable(store, tmp_path)
    jobs = f"{API}/workflows/{version.workflow_name}/versions/1/jobs"
    viewer = http("viewer")

    batch = viewer.get(jobs)
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert (body["workflow"], body["version"], body["mode"], body["engine"]) == (
        version.workflow_name, 1, "batch", "local"
    )  # fmt: skip
    planned = {job["name"]: job for job in body["jobs"]}
    assert planned["predict"]["depends_on"] == ["train"] and planned["write"]["nodes"] == ["write"]
    assert "__from_read.0" in planned["predict"]["nodes"]  # batch: an intermediate between jobs
    stream = {j["name"]: j for j in viewer.get(jobs, params={"mode": "stream"}).json()["jobs"]}
    assert "read~predict" in stream["predict"]["nodes"]  # stream: the job reads the stream itself
    on_flink = viewer.get(jobs, params={"engine": "flink"}).json()
    assert on_flink["engine"] == "flink"
    assert {j["engine"] for j in on_flink["jobs"]} >= {"flink"}

    assert_problem(viewer.get(jobs, params={"mode": "forever"}), 422, "invalid_input")
    assert_problem(viewer.get(jobs, params={"engine": "Bad-Engine"}), 422, "invalid_input")
    unknown = assert_problem(viewer.get(jobs, params={"engine": "nope"}), 422, "invalid_plan")
    assert "unknown engine 'nope'" in unknown["detail"]
    missing = f"{API}/workflows/{version.workflow_name}/versions/9/jobs"
    assert_problem(viewer.get(missing), 404, "not_found")


def test_source_snapshot_files(http: HttpFactory, store: MetaStore, tmp_path: Path) -> None:
    version = plannable(store, tmp_path)
    source = f"{API}/workflows/{version.workflow_name}/versions/1/source"
    viewer = http("viewer")

    listing = viewer.get(source)
    assert listing.status_code == 200, listing.text
    assert listing.json() == {
        "workflow": version.workflow_name,
        "version": 1,
        "source_hash": version.source_hash,
        "files": [
            {"path": "lib/util.py", "size": 14},
            {"path": "workflow.py", "size": 16},
        ],  # bytes
    }
    text = viewer.get(f"{source}/lib/util.py")
    assert text.status_code == 200 and text.text == "ANSWER = 'é'\n"
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["x-content-type-options"] == "nosniff"
    for path in (
        "nope.py",
        "lib",
        "..%2Fsrc%2Fworkflow.py",
        "lib%2F..%2F..%2Fx.csv",
        "%2Fetc%2Fpasswd",
    ):
        assert_problem(viewer.get(f"{source}/{path}"), 404, "not_found")
    assert_problem(viewer.get(f"{source}/%2E%2E/%2E%2E/x.csv"), 404, "not_found")

    gone = seed.workflow(store)[0]  # its snapshot URI names no file
    url = f"{API}/workflows/{gone.workflow_name}/versions/1/source"
    assert "is gone" in assert_problem(viewer.get(url), 404, "not_found")["detail"]


def test_example_usage_names_the_reading_and_writing_nodes(
    http: HttpFactory, store: MetaStore
) -> None:
    versions = seed.workflow(store, versions=2)
    name = versions[0].workflow_name
    usage = http("viewer").get(f"{API}/examples/{name}-data/usage")
    assert usage.status_code == 200, usage.text
    assert usage.json() == [
        {"workflow": name, "version": 2, "reads": ["read"], "writes": ["write"]}
    ]
    missing = http("viewer").get(f"{API}/examples/{unique('no-example')}/usage")
    assert_problem(missing, 404, "not_found")


def test_the_event_tail_pages_newest_first(http: HttpFactory) -> None:
    editor, viewer = http("editor"), http("viewer")
    key = f"tail-{uuid.uuid4().hex[:8]}"
    sent = [
        editor.post("/api/v1/events", json={"key": key, "type": "t", "value": str(i)}).json()
        for i in range(3)
    ]
    first = viewer.get("/api/v1/events", params={"key": key, "order": "desc", "limit": 2}).json()
    assert [e["value"] for e in first["data"]] == ["2", "1"]
    assert first["next_cursor"] == str(sent[1]["seq"])
    older = viewer.get(
        "/api/v1/events",
        params={"key": key, "order": "desc", "before_seq": first["next_cursor"]},
    ).json()
    assert [e["value"] for e in older["data"]] == ["0"] and older["next_cursor"] is None
    oldest_first = viewer.get("/api/v1/events", params={"key": key}).json()
    assert [e["value"] for e in oldest_first["data"]] == ["0", "1", "2"]
