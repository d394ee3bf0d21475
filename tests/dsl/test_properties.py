"""Per-mode node properties (issue 8, defect 3): each node kind takes the properties the platform
defines for it, typed; an unknown key or a wrongly typed value fails when the workflow is built,
naming the node and the valid keys, and a stored plan with one fails before any job starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import Node, NodeKind
from aiflow.plan.properties import check_properties, valid_properties
from aiflow.translators import translator_for
from tests.dsl.wf_defs import Scale, example


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch": {"bogus": 1}}, r"node 'raw': unknown batch property 'bogus'; valid: limit"),
        (
            {"stream": {"poll_intervl": 1}},
            r"node 'raw': unknown stream property 'poll_intervl'; valid: poll_interval",
        ),
        ({"properties": {"x": 1}}, r"unknown property 'x'; valid: limit, poll_interval"),
        ({"batch": {"limit": "abc"}}, r"node 'raw': batch property 'limit': .*integer.*'abc'"),
        ({"batch": {"limit": -1}}, r"batch property 'limit': .*greater than or equal to 0"),
        ({"batch": {"limit": True}}, r"batch property 'limit'"),
        ({"stream": {"poll_interval": 0}}, r"stream property 'poll_interval': .*greater than 0"),
        ({"batch": {"poll_interval": 1.0}}, r"unknown batch property 'poll_interval'"),
    ],
)
def test_read_example_properties_are_checked_when_built(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPlan, match=message), af.workflow("props"):
        af.read_example(example(tmp_path), name="raw", **options)


def test_kinds_without_properties_refuse_any(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidPlan,
        match=r"node 'scale': unknown batch property 'limit'; valid: "
        r"none \(transform nodes take no batch properties\)",
    ):
        with af.workflow("props"):
            af.transform(af.read_example(example(tmp_path)), Scale(), batch={"limit": 3})


def test_valid_properties_are_recorded_as_given(tmp_path: Path) -> None:
    with af.workflow("props") as wf:
        raw = af.read_example(
            example(tmp_path), batch={"limit": 5}, stream={"poll_interval": 1}, name="raw"
        )
        af.predict(raw, af.Model("m"), stream={"model_refresh": 0.5}, properties={})
    assert wf.plan.node("raw").properties == {"batch": {"limit": 5}, "stream": {"poll_interval": 1}}
    assert wf.plan.node("predict").props("stream") == {"model_refresh": 0.5}
    assert valid_properties(NodeKind.READ_EXAMPLE, "batch") == ["limit"]
    assert valid_properties(NodeKind.PREDICT, "stream") == ["model_refresh"]


def test_a_stored_plan_with_a_bad_property_fails_at_translation(tmp_path: Path) -> None:
    """A plan that did not come from this DSL (an older workflow version) is checked too."""
    with af.workflow("props") as wf:
        raw = af.read_example(example(tmp_path), name="raw")
        af.write_example(raw, af.Example("o", batch_uri=tmp_path / "o.csv"))
    plan = wf.plan
    bad = plan.node("raw").model_copy(update={"properties": {"batch": {"limit": "abc"}}})
    plan = plan.model_copy(update={"nodes": [bad, *plan.nodes[1:]]})
    with pytest.raises(InvalidPlan, match=r"node 'raw': batch property 'limit'"):
        translator_for("batch").translate(plan)


def test_check_properties_directly() -> None:
    node = Node(id="n", kind=NodeKind.WRITE_EXAMPLE, properties={"stream": {"limit": 1}})
    with pytest.raises(InvalidPlan, match="unknown stream property 'limit'"):
        check_properties(node)


def test_an_engine_refuses_a_property_it_does_not_implement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Operators declare the properties they honour; the translator refuses the rest, so a
    property is never silently ignored by one engine."""
    from aiflow.translators.local.io import ReadExample

    with af.workflow("props") as wf:
        raw = af.read_example(example(tmp_path), name="raw", batch={"limit": 2})
        af.write_example(raw, af.Example("o", batch_uri=tmp_path / "o.csv"))
    translator_for("batch").translate(wf.plan)  # the local engine implements limit
    monkeypatch.setattr(ReadExample, "properties", frozenset())
    with pytest.raises(
        InvalidPlan,
        match=r"node 'raw': engine 'local' does not implement batch property 'limit' of "
        r"read_example nodes",
    ):
        translator_for("batch").translate(wf.plan)
    translator_for("stream").translate(wf.plan)  # not a stream property: nothing to refuse
