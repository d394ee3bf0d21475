"""Registering a workflow that declares thousands of examples (a 100,000-node plan declares
2,000): new ones inserted, changed ones updated and unchanged ones untouched in bulk, over
more rows than one statement takes; and a big version's graph read once, then kept."""

from __future__ import annotations

import itertools

import pytest

from aiflow.errors import NotFound
from aiflow.plan.model import Channel, DataEdge, LogicalPlan, Node, NodeKind
from aiflow.schemas.inputs import ExampleCreate
from aiflow.store.sql_store import MetaStore

MANY = 1_203  # more than two statements' worth of rows (500 each)


def example(i: int, uri: str = "/data") -> ExampleCreate:
    return ExampleCreate(
        name=f"ex{i}", columns={"x": "double"}, format="csv", batch_uri=f"{uri}/{i}.csv"
    )


def test_thousands_of_examples_are_inserted_updated_or_left_in_bulk(store: MetaStore) -> None:
    store.register_workflow_version(
        "w", {}, "p1", "s", "/nowhere", [example(i) for i in range(MANY)]
    )
    first = {e.name: e for e in store.list_examples()}
    assert len(first) == MANY and first["ex1202"].batch_uri == "/data/1202.csv"

    # ex0..ex9 move, ex10.. stay as they were, ex1203..ex1205 are new
    changed = [example(i, "/moved") for i in range(10)]
    kept = [example(i) for i in range(10, MANY)]
    new = [example(i) for i in range(MANY, MANY + 3)]
    store.register_workflow_version("w", {}, "p2", "s", "/nowhere", changed + kept + new)
    second = {e.name: e for e in store.list_examples()}
    assert len(second) == MANY + 3
    for i in range(10):
        moved = second[f"ex{i}"]
        assert moved.batch_uri == f"/moved/{i}.csv"
        assert moved.updated_at >= first[f"ex{i}"].updated_at
        assert moved.created_at == first[f"ex{i}"].created_at and moved.id == first[f"ex{i}"].id
    assert all(second[f"ex{i}"] == first[f"ex{i}"] for i in range(10, MANY)), "untouched"
    assert {second[f"ex{i}"].batch_uri for i in range(MANY, MANY + 3)} == {
        f"/data/{i}.csv" for i in range(MANY, MANY + 3)
    }


def chain(nodes: int) -> LogicalPlan:
    ids = [f"n{i}" for i in range(nodes)]
    return LogicalPlan(
        workflow="big",
        nodes=[Node(id=nid, kind=NodeKind.TRANSFORM) for nid in ids],
        edges=[
            DataEdge(source=Channel(node=up), target=down, target_port=0)
            for up, down in itertools.pairwise(ids)
        ],
    )


def test_a_big_graph_is_read_once_then_kept(store: MetaStore) -> None:
    plan = chain(1_500)
    store.register_workflow_version("big", plan.model_dump(mode="json"), plan.hash(), "s", "/x", [])
    graph = store.get_workflow_graph("big", 1)
    assert [n.id for n in graph.nodes] == [n.id for n in plan.nodes]
    assert [(e.source, e.target) for e in graph.edges] == [
        (e.source.node, e.target) for e in plan.edges
    ]
    assert store.get_workflow_graph("big", 1) is graph, "kept: a version never changes"
    with pytest.raises(NotFound, match=r"workflow 'big' version 2 not found"):
        store.get_workflow_graph("big", 2)
    with pytest.raises(NotFound, match=r"workflow 'nope' not found"):
        store.get_workflow_graph("nope", 1)
