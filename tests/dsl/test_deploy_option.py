"""``deploy=``: per-deployer options on a node, recorded in the plan without changing the plan
(or its hash) of workflows that do not use them, and plans recorded before the option existed
still load and hash as they did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import LogicalPlan
from tests.dsl.wf_defs import Majority, Scale, build_ml, example

# A plan as recorded before ``deploy`` existed, and the hash it was recorded under then.
OLD_PLAN = (
    '{"control_edges":[],"edges":[{"kind":"data","source":{"node":"a","port":0},"target":"b",'
    '"target_port":0}],"engine":"local","format_version":1,"nodes":[{"component":null,'
    '"engine":null,"example":{"batch_uri":"/x.csv","columns":null,"format":"csv","name":"e",'
    '"options":{},"stream_uri":null},"id":"a","kind":"read_example","model":null,'
    '"output_columns":null,"properties":{},"retries":0,"retry_delay":0.0,"timeout":null},'
    '{"component":null,"engine":null,"example":{"batch_uri":"/y.csv","columns":null,'
    '"format":"csv","name":"f","options":{},"stream_uri":null},"id":"b","kind":"write_example",'
    '"model":null,"output_columns":null,"properties":{},"retries":2,"retry_delay":0.0,'
    '"timeout":null}],"workflow":"w"}'
)
OLD_HASH = "b121a11e4038b7feb4ec9bbe71dfd01798402f34254f5224a0bf43469e59c044"

GPU = {"image": "registry.example/aiflow-gpu:1", "resources": {"limits": {"nvidia.com/gpu": 1}}}


def test_a_plan_recorded_before_the_option_loads_and_keeps_its_hash() -> None:
    plan = LogicalPlan.model_validate_json(OLD_PLAN)
    assert [node.deploy for node in plan.nodes] == [{}, {}]
    assert plan.canonical_json() == OLD_PLAN
    assert plan.hash() == OLD_HASH


def test_the_option_is_recorded_and_round_trips(tmp_path: Path) -> None:
    with af.workflow("gpu") as wf:
        raw = af.read_example(example(tmp_path))
        feats = af.transform(raw, Scale(), deploy={"kubernetes": GPU, "local": {}})
        af.train(feats, Majority(), deploy={"kubernetes": {"labels": {"team": "ml"}}})
    plan = wf.plan
    assert plan.node("scale").deploy == {"kubernetes": GPU}, "an empty option set is dropped"
    assert plan.node("read_points").deploy == {}
    assert json.loads(plan.canonical_json())["nodes"][1]["deploy"] == {"kubernetes": GPU}
    again = LogicalPlan.model_validate_json(plan.model_dump_json())
    assert again == plan and again.hash() == plan.hash()


def test_the_option_changes_the_hash_only_when_used(tmp_path: Path) -> None:
    plain = build_ml(tmp_path).plan
    assert all("deploy" not in node for node in json.loads(plain.canonical_json())["nodes"])
    with af.workflow("ml") as empty:
        raw = af.read_example(example(tmp_path), deploy={"kubernetes": {}})
        af.transform(raw, Scale())
    with af.workflow("ml") as none:
        raw = af.read_example(example(tmp_path))
        af.transform(raw, Scale())
    with af.workflow("ml") as used:
        raw = af.read_example(example(tmp_path), deploy={"kubernetes": {"image": "x:1"}})
        af.transform(raw, Scale())
    assert empty.plan.hash() == none.plan.hash() != used.plan.hash()


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        ("kubernetes", r"deploy= must map deployer names to options.*got str"),
        ({1: {}}, r"deploy= key 1 is not a deployer name"),
        ({"kubernetes": ["image"]}, r"deploy\['kubernetes'\] must be a dict of options, got list"),
    ],
)
def test_a_malformed_option_names_the_node(tmp_path: Path, deploy: object, message: str) -> None:
    with pytest.raises(InvalidPlan, match=rf"node 'read_points': {message}"):
        with af.workflow("bad"):
            af.read_example(example(tmp_path), deploy=deploy)  # type: ignore[arg-type]


def test_option_values_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=r"node 'read_points' deploy\['kubernetes'\]: \w*Path is not a JSON value"
    ):
        with af.workflow("bad"):
            af.read_example(example(tmp_path), deploy={"kubernetes": {"x": tmp_path}})
