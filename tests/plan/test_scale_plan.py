"""What the plan-scale work (benchmarks/plan_scale.py) must not change: plan hashes, lookups
and orders computed once per plan but never stale, the DSL's plan object reused only while
nothing was added, the garbage collector left as it was found, and a chain of thousands of
jobs translated. Behaviour only: no timings."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import (
    ActionRule,
    Channel,
    ComponentRef,
    ControlEdge,
    DataEdge,
    ExampleSpec,
    LogicalPlan,
    Node,
    NodeKind,
    plan_canonical_json,
    plan_hash,
)
from aiflow.plan.validate import topological_order
from aiflow.translators import translator_for


def pinned_plan() -> LogicalPlan:
    return LogicalPlan(
        workflow="pinned",
        nodes=[
            Node(
                id="read",
                kind=NodeKind.READ_EXAMPLE,
                example=ExampleSpec(name="ex", columns={"x": "double"}, batch_uri="/data/x.csv"),
            ),
            Node(
                id="scale",
                kind=NodeKind.TRANSFORM,
                component=ComponentRef(
                    module="file:wf.py", qualname="Scale", params={"factor": 1.5e-7, "name": "é"}
                ),
                deploy={"kubernetes": {"image": "img:1"}},
            ),
            Node(
                id="write",
                kind=NodeKind.WRITE_EXAMPLE,
                example=ExampleSpec(name="out", batch_uri="/data/out.csv"),
                retries=2,
                timeout=30.0,
            ),
        ],
        edges=[
            DataEdge(source=Channel(node="read"), target="scale", target_port=0),
            DataEdge(source=Channel(node="scale"), target="write", target_port=0),
        ],
        control_edges=[ControlEdge(upstream="read", downstream="write")],
    )


def test_plan_hashes_are_those_recorded_before() -> None:
    """Hashes computed by the code before this change: a recorded version stays recognised
    (a new hash would mint a new version of every unchanged workflow)."""
    plan = pinned_plan()
    assert plan.hash() == "fa3bc066821a0c34c344b7f0b454121b1ef7252b2de10db4a57e52925efcb4e4"
    ruled = plan.model_copy(
        update={"actions": [ActionRule(node="write", on="event", event_type="go")]}
    )
    assert ruled.hash() == "064d11bea611df4d7351f10dc892f0a1582b4dee4c9081313467a9887a26198b"


def test_hashing_a_dump_leaves_it_as_it_was() -> None:
    plan = pinned_plan()
    data = plan.model_dump(mode="json")
    before = repr(data)  # key order included
    assert plan_hash(data) == plan.hash()
    assert repr(data) == before
    assert '"deploy"' in plan_canonical_json(data)  # the node that has options keeps them
    assert plan_canonical_json(data).count('"deploy"') == 1
    assert '"actions"' not in plan_canonical_json(data)


def test_lookups_follow_the_plan_they_are_asked_of() -> None:
    plan = pinned_plan()
    assert plan.node("scale").kind is NodeKind.TRANSFORM
    assert [e.source.node for e in plan.inputs_of("write")] == ["scale"]
    assert plan.inputs_of("read") == []
    with pytest.raises(KeyError):
        plan.node("nope")
    assert topological_order(plan) == ["read", "scale", "write"]
    order = topological_order(plan)
    order.append("mine")  # a caller's copy: the plan's stays as it was
    assert topological_order(plan) == ["read", "scale", "write"]

    # a copy with other nodes and edges answers for its own
    other = plan.model_copy(
        update={
            "nodes": [*plan.nodes, Node(id="first", kind=NodeKind.TRANSFORM)],
            "edges": [
                *plan.edges,
                DataEdge(source=Channel(node="first"), target="read", target_port=0),
            ],
        }
    )
    assert other.node("first").id == "first"
    assert [e.source.node for e in other.inputs_of("read")] == ["first"]
    assert topological_order(other) == ["first", "read", "scale", "write"]
    assert other != plan and plan == pinned_plan()
    assert plan.model_dump() == pinned_plan().model_dump()


def test_inputs_come_in_port_order() -> None:
    nodes = [Node(id=n, kind=NodeKind.TRANSFORM) for n in ("a", "b", "c")]
    edges = [
        DataEdge(source=Channel(node="b"), target="c", target_port=1),
        DataEdge(source=Channel(node="a"), target="c", target_port=0),
    ]
    plan = LogicalPlan(workflow="w", nodes=nodes, edges=edges)
    assert [e.source.node for e in plan.inputs_of("c")] == ["a", "b"]


def test_order_ties_keep_declaration_order_and_cycles_name_their_nodes() -> None:
    nodes = [Node(id=n, kind=NodeKind.TRANSFORM) for n in ("z", "y", "x", "w")]
    plan = LogicalPlan(
        workflow="w", nodes=nodes, control_edges=[ControlEdge(upstream="w", downstream="z")]
    )
    assert topological_order(plan) == ["y", "x", "w", "z"]
    cyclic = plan.model_copy(
        update={"control_edges": [*plan.control_edges, ControlEdge(upstream="z", downstream="w")]}
    )
    with pytest.raises(InvalidPlan, match=r"cycle through nodes \['z', 'w'\]"):
        topological_order(cyclic)
    dangling = plan.model_copy(
        update={"control_edges": [ControlEdge(upstream="v", downstream="z")]}
    )
    with pytest.raises(InvalidPlan, match="node 'v', which is not in the workflow"):
        topological_order(dangling)


class Noop(af.Transformer):
    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch


def test_the_workflow_plan_is_one_object_until_something_is_added(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("x\n1\n")
    with af.workflow("reuse") as wf:
        ref = af.read_example(af.Example("in", schema={"x": "double"}, batch_uri=data))
        first = wf.plan
        assert wf.plan is first
        ref = af.transform(ref, Noop(), name="t")
        assert wf.plan is not first and [n.id for n in wf.plan.nodes] == ["read_in", "t"]
        second = wf.plan
        af.run_after(ref, ref)
        assert wf.plan is not second and len(wf.plan.control_edges) == 1
        wf.control_edges = []  # a list replaced whole (the planner does): a new plan too
        assert wf.plan.control_edges == []


_COLLECTOR_CHECKS = """
import gc, sys
from pathlib import Path
import aiflow as af
from aiflow.plan.gc_pause import FreezeAsItGrows, paused_gc

class Noop(af.Transformer):
    def transform(self, batch):
        return batch

assert gc.isenabled() and gc.get_freeze_count() == 0
with paused_gc():
    assert not gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled(), "an inner block leaves it to the outer one"
assert gc.isenabled()
gc.disable()
with paused_gc():
    pass
assert not gc.isenabled(), "disabled by someone else: stays so"
gc.enable()

freezer = FreezeAsItGrows(step=2)
freezer.grown(1)
assert gc.get_freeze_count() == 0
freezer.grown(2)
assert gc.get_freeze_count() > 0
freezer.release()
assert gc.get_freeze_count() == 0

gc.freeze()  # someone else's (a fork server's): not ours to unfreeze
other = FreezeAsItGrows(step=2)
other.grown(10)
other.release()
assert gc.get_freeze_count() > 0  # release() did not unfreeze what it did not freeze
gc.unfreeze()

data = Path(sys.argv[1])
data.write_text("x\\n1\\n")
with af.workflow("frozen") as wf:  # past the freezer's step: it froze, and released
    ref = af.read_example(af.Example("in", schema={"x": "double"}, batch_uri=data))
    for i in range(FreezeAsItGrows().step):
        ref = af.transform(ref, Noop(), name=f"t{i}")
assert len(wf.nodes) > FreezeAsItGrows().step
assert gc.get_freeze_count() == 0 and gc.isenabled()
"""


def test_the_collector_is_left_as_it_was_found(tmp_path: Path) -> None:
    """In an interpreter of its own: the collector's state is process-wide, and the test
    process's is whatever earlier tests (and the libraries they loaded) made it."""
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR_CHECKS, str(tmp_path / "in.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def op() -> None:
    """A user operation of its own job (no data edges: nothing fuses it with another)."""


def test_a_chain_of_thousands_of_jobs_translates() -> None:
    """3,000 jobs in a row, each after the one before: the job-cycle check walks them with a
    stack of its own, not Python's (whose limit is 1,000 frames)."""
    with af.workflow("long_chain") as wf:
        refs = [af.user_operation(op, name=f"op{i}") for i in range(3_000)]
        for up, down in itertools.pairwise(refs):
            af.run_after(down, up)
    physical = translator_for("batch").translate(wf.plan)
    assert len(physical.jobs) == 3_000
    assert physical.jobs[-1].depends_on == ["op2998"] and physical.jobs[0].depends_on == []
