"""``aiflow workflow show`` on a plan of thousands of nodes: the plan table stops at
``--nodes`` rows (200 by default) and says how many it left out; a small plan prints whole,
as it always did, each node with its inputs."""

from __future__ import annotations

import itertools
import sys

import pytest

from aiflow.cli.main import main
from aiflow.plan.model import Channel, DataEdge, LogicalPlan, Node, NodeKind
from aiflow.store.sql_store import MetaStore


@pytest.fixture
def aiflow(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    def run(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["aiflow", *args])
        monkeypatch.setenv("COLUMNS", "200")
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        assert exited.value.code in (0, None), captured.err
        return captured.out

    return run


def record_chain(store: MetaStore, name: str, nodes: int) -> None:
    ids = [f"n{i}" for i in range(nodes)]
    plan = LogicalPlan(
        workflow=name,
        nodes=[Node(id=nid, kind=NodeKind.TRANSFORM) for nid in ids],
        edges=[
            DataEdge(source=Channel(node=up), target=down, target_port=0)
            for up, down in itertools.pairwise(ids)
        ],
    )
    store.register_workflow_version(name, plan.model_dump(mode="json"), plan.hash(), "s", "/x", [])


def node_rows(out: str) -> list[list[str]]:
    """The plan table's rows, as cells (the table's borders dropped)."""
    return [
        [cell for cell in line.replace("│", " ").replace("|", " ").split()]
        for line in out.splitlines()
        if " transform " in line
    ]


def test_a_big_plan_prints_a_bounded_table(aiflow: object, store: MetaStore) -> None:
    record_chain(store, "big", 1_200)
    out = aiflow("workflow", "show", "big")  # type: ignore[operator]
    rows = node_rows(out)
    assert len(rows) == 200 and rows[0][0] == "n0" and rows[-1][0] == "n199"
    assert "... and 1000 more of 1200 nodes (--nodes N shows more, --nodes 0 all)" in out
    assert len(node_rows(aiflow("workflow", "show", "big", "--nodes", "3"))) == 3  # type: ignore[operator]
    everything = aiflow("workflow", "show", "big", "--nodes", "0")  # type: ignore[operator]
    assert len(node_rows(everything)) == 1_200 and "more of" not in everything


def test_a_small_plan_prints_whole_with_inputs(aiflow: object, store: MetaStore) -> None:
    record_chain(store, "small", 3)
    out = aiflow("workflow", "show", "small")  # type: ignore[operator]
    rows = node_rows(out)
    assert [(row[0], row[-1]) for row in rows] == [("n0", "-"), ("n1", "n0"), ("n2", "n1")]
    assert "more of" not in out
