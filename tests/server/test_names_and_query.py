"""The API's edges: one name rule for path and body names (the client checks it before a
request), unknown query parameters refused on every route (once the caller is known), and
keyset pages of examples and tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.config import ServerSettings, Settings
from aiflow.errors import InvalidInput
from aiflow.schemas.entities import Role
from aiflow.schemas.inputs import ExampleCreate
from aiflow.server.app import create_app
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import ApiServer, HttpFactory, assert_problem, serving, unique

API = "/api/v1"
METHODS = {"get", "put", "post", "delete", "patch"}
# name -> the same name as one percent-encoded URL path segment (a client that sends ".." as
# it is gets another URL: httpx, like browsers, removes dot segments).
BAD_SEGMENTS = {"..": "%2E%2E", "<script>": "%3Cscript%3E", "a b": "a%20b", ".": "%2E"}
GOOD_ALIASES = ["champion", "a.b-c_d", "a..b", "v1.", "X" * 64]


@pytest.fixture
def dev_app(tmp_path: Path) -> Iterator[tuple[str, MetaStore]]:
    """(URL, store) of an in-process dev-mode server (every request is an admin) on an empty
    store of its own, for exact pages and for calls that must never reach a shared store."""
    store = MetaStore(f"sqlite:///{tmp_path / 'm.db'}")
    app = create_app(store=store, settings=Settings(server=ServerSettings(dev=True)))
    with serving(app) as url:
        yield url, store
    store.dispose()


def field_errors(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body["errors"]]


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_SEGMENTS))
def test_bad_names_in_paths_are_422_naming_the_parameter(
    api: ApiServer, http: HttpFactory, name: str
) -> None:
    store = MetaStore(api.store_uri)
    model = seed.model(store, versions=1)[0].model_name
    editor, segment = http("editor"), BAD_SEGMENTS[name]
    for method, path, where in [
        ("PUT", f"{API}/models/{model}/aliases/{segment}", "path.alias"),
        ("DELETE", f"{API}/models/{model}/aliases/{segment}", "path.alias"),
        ("GET", f"{API}/models/{segment}", "path.name"),
        ("GET", f"{API}/models/{segment}/versions", "path.name"),
        ("GET", f"{API}/workflows/{segment}", "path.name"),
        ("GET", f"{API}/examples/{segment}", "path.name"),
        ("GET", f"{API}/triggers/{segment}", "path.name"),
    ]:
        response = editor.request(method, path, json={"version": 1})
        body = assert_problem(response, 422, "invalid_input")
        assert field_errors(body) == [where], (method, path, body)
        assert "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]*$'" in body["detail"]
    rollback = editor.post(f"{API}/models/{model}/rollback", params={"alias": name})
    assert field_errors(assert_problem(rollback, 422, "invalid_input")) == ["query.alias"]
    assert store.get_model_version(model, 1).aliases == []


@pytest.mark.parametrize("name", ["..", "<script>", "a b", "../x; drop"])
def test_bad_names_in_bodies_are_422_naming_the_field(
    api: ApiServer, http: HttpFactory, name: str
) -> None:
    workflow = seed.workflow(MetaStore(api.store_uri))[0].workflow_name
    admin = http("admin")
    token = admin.post(f"{API}/tokens", json={"name": name, "role": "viewer"})
    assert field_errors(assert_problem(token, 422, "invalid_input")) == ["body.name"]
    trigger = {"name": unique("t"), "workflow": name, "interval": 60}
    refused = admin.post(f"{API}/triggers", json=trigger)
    assert field_errors(assert_problem(refused, 422, "invalid_input")) == ["body.workflow"]
    trigger = {"name": name, "workflow": workflow, "interval": 60}
    refused = admin.post(f"{API}/triggers", json=trigger)
    assert field_errors(assert_problem(refused, 422, "invalid_input")) == ["body.name"]


def test_a_name_with_a_slash_reaches_no_route(api: ApiServer, http: HttpFactory) -> None:
    """'/' ends a path segment, so '../x; drop' cannot even name a route's parameter."""
    model = seed.model(MetaStore(api.store_uri), versions=1)[0].model_name
    response = http("editor").put(
        f"{API}/models/{model}/aliases/..%2Fx%3B%20drop", json={"version": 1}
    )
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("name", ["..", "<script>", "a b", "../x; drop", "42", ""])
def test_the_client_refuses_bad_names_before_any_request(name: str) -> None:
    def no_request(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the client sent {request.method} {request.url}")

    with Client("http://aiflow.invalid", transport=httpx.MockTransport(no_request)) as client:
        for call in (
            lambda: client.set_model_alias("m", name, 1),
            lambda: client.delete_model_alias("m", name),
            lambda: client.roll_back_alias("m", name),
        ):
            with pytest.raises(InvalidInput, match=re.escape(f"alias {name!r} is invalid")):
                call()
        if name == "42":
            return  # a number is a fine model name, only an ambiguous alias
        with pytest.raises(InvalidInput, match=re.escape(f"model name {name!r} is invalid")):
            client.get_model(name)
        with pytest.raises(InvalidInput, match=re.escape(f"workflow name {name!r} is invalid")):
            client.get_workflow(name)
        with pytest.raises(InvalidInput, match=re.escape(f"example name {name!r} is invalid")):
            client.get_example(name)


def test_every_alias_the_client_can_set_it_can_delete(api: ApiServer) -> None:
    store = MetaStore(api.store_uri)
    model = seed.model(store, versions=2)[0].model_name
    with Client(api.url, api.tokens["editor"]) as client:
        for alias in GOOD_ALIASES:
            assert alias in client.set_model_alias(model, alias, 2).aliases
        assert sorted(client.get_model_version(model, 2).aliases) == sorted(GOOD_ALIASES)
        for alias in GOOD_ALIASES:
            client.delete_model_alias(model, alias)
        assert client.get_model_version(model, 2).aliases == []


# -- unknown query parameters ---------------------------------------------------------------------


def documented_operations(url: str) -> list[tuple[str, str, set[str]]]:
    """(method, path, documented query parameters) of every operation of the document."""
    document = httpx.get(f"{url}/openapi.json").json()
    return [
        (
            method,
            path,
            {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"},
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_route_refuses_unknown_query_parameters_listing_the_valid_ones(
    dev_app: tuple[str, MetaStore],
) -> None:
    url, _ = dev_app
    operations = documented_operations(url)
    assert len(operations) > 30
    for method, path, documented in operations:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = httpx.request(method, f"{url}{concrete}?limt=5&bogus=")
        where = f"{method.upper()} {path}"
        body = assert_problem(response, 422, "invalid_input")
        assert field_errors(body) == ["query.limt", "query.bogus"], (where, body)
        listed = body["errors"][0]["message"].split("this endpoint takes: ")[1]
        assert listed == (", ".join(sorted(documented)) or "none"), (where, body)
        assert "query.limt: unknown query parameter" in body["detail"]


def test_known_query_parameters_still_work(dev_app: tuple[str, MetaStore]) -> None:
    url, _ = dev_app
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.get(f"{url}{API}/workflows", params={"limit": 1, "count": "true"}).json() == {
        "data": [],
        "next_cursor": None,
        "total": 0,
    }


def test_authentication_comes_before_the_query_check(http: HttpFactory) -> None:
    """A token in the query is not a way to authenticate: 401 says so (no 422 that would
    suggest fixing the parameter); a role too low is 403 whatever the query."""
    assert_problem(http(None).get(f"{API}/workflows", params={"token": "x"}), 401, "unauthorized")
    assert_problem(http(None).get(f"{API}/workflows", params={"bogus": 1}), 401, "unauthorized")
    viewer = http("viewer")
    forbidden = viewer.post(f"{API}/models/m/rollback", params={"bogus": 1})
    assert_problem(forbidden, 403, "forbidden")
    refused = assert_problem(
        viewer.get(f"{API}/workflows", params={"token": "x"}), 422, "invalid_input"
    )
    assert field_errors(refused) == ["query.token"]
    assert "this endpoint takes: count, cursor, limit" in refused["detail"]
    assert "x" not in str(refused["errors"])  # the value is not echoed (it may be a secret)


def test_the_job_api_refuses_unknown_query_parameters(dev_app: tuple[str, MetaStore]) -> None:
    url, store = dev_app
    execution = seed.execution(store, seed.workflow(store)[0])
    job = store.list_jobs(execution.id)[0]
    job_api = f"{url}{API}/job-api/jobs/{job.id}"
    assert_problem(httpx.get(job_api, params={"bogus": 1}), 401, "unauthorized")
    token = store.create_job_token(job.id, 1)
    headers = {"Authorization": f"Bearer {token}"}
    body = assert_problem(
        httpx.get(job_api, params={"bogus": 1}, headers=headers), 422, "invalid_input"
    )
    assert field_errors(body) == ["query.bogus"]
    assert "this endpoint takes: none" in body["detail"]


# -- pages of examples and tokens -----------------------------------------------------------------


def test_examples_and_tokens_are_paged_like_every_list(dev_app: tuple[str, MetaStore]) -> None:
    url, store = dev_app
    names = [f"n{i:02d}" for i in range(5)]
    examples = [ExampleCreate(name=name, columns={"x": "int"}, format="csv") for name in names]
    store.register_workflow_version("wf", {}, "p", "s", "file:///snap", examples)
    for name in names:
        store.create_token(name, Role.VIEWER)

    for resource in ("examples", "tokens"):
        first = httpx.get(f"{url}{API}/{resource}", params={"limit": 2, "count": "true"}).json()
        assert [e["name"] for e in first["data"]] == names[:2]
        assert (first["next_cursor"], first["total"]) == ("n01", 5)
        rest = httpx.get(f"{url}{API}/{resource}", params={"cursor": "n01", "limit": 3}).json()
        assert [e["name"] for e in rest["data"]] == names[2:]
        assert (rest["next_cursor"], rest["total"]) == (None, None)
        too_many = httpx.get(f"{url}{API}/{resource}", params={"limit": 501})
        assert field_errors(assert_problem(too_many, 422, "invalid_input")) == ["query.limit"]

    with Client(url) as client:
        page = client.page_examples(limit=2, count=True)
        assert ([e.name for e in page.data], page.next_cursor, page.total) == (names[:2], "n01", 5)
        assert [e.name for e in client.list_examples()] == names
        tokens = client.page_tokens(cursor="n03")
        assert [t.name for t in tokens.data] == ["n04"] and tokens.next_cursor is None
        assert [t.name for t in client.list_tokens()] == names
        assert not hasattr(client.list_tokens()[0], "token")  # never a secret
