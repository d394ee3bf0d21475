"""A workflow version's graph a page at a time (``/graph/nodes``, ``/graph/edges``): every node
and edge exactly once across pages, in ``/graph``'s order, bounded pages, and bad paging
parameters refused naming the parameter. ``/graph`` itself is unchanged."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.config import ServerSettings, Settings
from aiflow.plan.model import Channel, ControlEdge, DataEdge, LogicalPlan, Node, NodeKind
from aiflow.server.app import create_app
from aiflow.server.routes.workflows import MAX_GRAPH_PAGE
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import assert_problem, serving

API = "/api/v1"


@pytest.fixture
def dev_app(tmp_path: Path) -> Iterator[tuple[str, MetaStore]]:
    """(API URL, store) of an in-process dev-mode server on an empty store of its own."""
    store = MetaStore(f"sqlite:///{tmp_path / 'm.db'}")
    app = create_app(store=store, settings=Settings(server=ServerSettings(dev=True)))
    with serving(app) as url:
        yield url + API, store
    store.dispose()


def chain_plan(name: str, nodes: int) -> LogicalPlan:
    """A chain of ``nodes`` transforms after a read, every tenth node also ordered after the
    read by a control edge: data and control edges both."""
    ids = ["read", *(f"t{i}" for i in range(nodes - 1))]
    return LogicalPlan(
        workflow=name,
        nodes=[Node(id=ids[0], kind=NodeKind.READ_EXAMPLE)]
        + [Node(id=nid, kind=NodeKind.TRANSFORM) for nid in ids[1:]],
        edges=[
            DataEdge(source=Channel(node=up), target=down, target_port=0)
            for up, down in itertools.pairwise(ids)
        ],
        control_edges=[ControlEdge(upstream="read", downstream=nid) for nid in ids[10::10]],
    )


def record(store: MetaStore, plan: LogicalPlan) -> None:
    store.register_workflow_version(
        plan.workflow, plan.model_dump(mode="json"), plan.hash(), "src", "/nowhere", []
    )


def walk(url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """The pages of a collection, following ``next_cursor``."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor is not None else {})}
        response = httpx.get(url, params=query, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_pages_hold_every_node_and_edge_once_in_graph_order(
    dev_app: tuple[str, MetaStore],
) -> None:
    url, store = dev_app
    size = 1_500  # above the store's GRAPH_CACHE_FROM: pages come from its kept graph
    record(store, chain_plan("big", size))
    whole = httpx.get(f"{url}/workflows/big/versions/1/graph", timeout=30).json()
    assert len(whole["nodes"]) == size
    assert len(whole["edges"]) == (size - 1) + len(range(10, size, 10))

    for collection in ("nodes", "edges"):
        pages = walk(f"{url}/workflows/big/versions/1/graph/{collection}", limit=400)
        assert all(len(page) == 400 for page in pages[:-1]) and 0 < len(pages[-1]) <= 400
        items = [item for page in pages for item in page]
        assert items == whole[collection], f"{collection}: each once, in /graph's order"

    first = httpx.get(f"{url}/workflows/big/versions/1/graph/nodes", params={"count": True})
    assert first.json()["total"] == size and first.json()["next_cursor"] == "1000"
    assert len(first.json()["data"]) == 1000, "the default page"


def test_a_small_graph_is_one_default_page_and_graph_is_unchanged(
    dev_app: tuple[str, MetaStore],
) -> None:
    url, store = dev_app
    name = seed.workflow(store)[0].workflow_name
    whole = httpx.get(f"{url}/workflows/{name}/versions/1/graph").json()
    assert set(whole) == {"workflow", "version", "engine", "nodes", "edges"}
    for collection in ("nodes", "edges"):
        page = httpx.get(f"{url}/workflows/{name}/versions/1/graph/{collection}").json()
        assert page == {"data": whole[collection], "next_cursor": None, "total": None}
        one = walk(f"{url}/workflows/{name}/versions/1/graph/{collection}", limit=1)
        assert [item for page in one for item in page] == whole[collection]
        assert len(one) == len(whole[collection])
    past = httpx.get(f"{url}/workflows/{name}/versions/1/graph/nodes", params={"cursor": 99})
    assert past.json() == {"data": [], "next_cursor": None, "total": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": MAX_GRAPH_PAGE + 1}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"cursor": 0}, "query.cursor"),
        ({"cursor": "abc"}, "query.cursor"),
        ({"offset": 5}, "query.offset"),
    ],
)
def test_bad_paging_parameters_are_422_naming_the_parameter(
    dev_app: tuple[str, MetaStore], params: dict[str, Any], field: str
) -> None:
    url, store = dev_app
    name = seed.workflow(store)[0].workflow_name
    for collection in ("nodes", "edges"):
        response = httpx.get(f"{url}/workflows/{name}/versions/1/graph/{collection}", params=params)
        body = assert_problem(response, 422, "invalid_input")
        assert [error["field"] for error in body["errors"]] == [field], body


def test_an_unknown_version_is_404_naming_it(dev_app: tuple[str, MetaStore]) -> None:
    url, store = dev_app
    name = seed.workflow(store)[0].workflow_name
    for collection in ("nodes", "edges"):
        response = httpx.get(f"{url}/workflows/{name}/versions/7/graph/{collection}")
        assert response.status_code == 404
        assert f"'{name}' version 7" in response.json()["detail"]


def test_the_client_reads_a_graph_a_page_at_a_time(dev_app: tuple[str, MetaStore]) -> None:
    url, store = dev_app
    size = 1_200
    record(store, chain_plan("paged", size))
    with Client(url.removesuffix(API)) as client:
        whole = client.get_workflow_graph("paged", 1)
        first = client.page_workflow_graph_nodes("paged", 1, count=True)
        assert first.total == size and len(first.data) == 1_000  # the default page
        nodes = list(first.data)
        cursor = first.next_cursor
        while cursor is not None:
            page = client.page_workflow_graph_nodes("paged", 1, cursor=int(cursor), limit=150)
            nodes.extend(page.data)
            cursor = page.next_cursor
        assert nodes == whole.nodes
        edges = client.page_workflow_graph_edges("paged", 1, limit=MAX_GRAPH_PAGE)
        assert edges.next_cursor is None and edges.data == whole.edges
