"""Engines in one workflow: nodes inherit the workflow's engine, or its fallback for kinds it
cannot run (Flink trains on local); intermediates between engines use a format both read."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.translators import translator_for
from tests.dsl.wf_defs import build_ml


def _summary(plan: af.Workflow, engine: str | None = None) -> dict[str, tuple[str, list[str]]]:
    physical = translator_for("batch").translate(plan.plan, engine=engine)
    return {j.name: (j.engine, [n.id for n in j.nodes]) for j in physical.jobs}


def test_flink_workflow_trains_and_evaluates_on_local(tmp_path: Path) -> None:
    jobs = _summary(build_ml(tmp_path), engine="flink")
    assert jobs == {
        "scale": ("flink", ["read_points", "scale", "__to_scale.0"]),
        "train_majority": ("local", ["__from_scale.0", "train_majority"]),
        "evaluate_acc": ("local", ["__from_scale.0", "evaluate_acc"]),
        "write_preds": ("flink", ["__from_scale.0", "predict", "write_preds"]),
    }


def test_intermediate_format_is_one_both_engines_read(tmp_path: Path) -> None:
    physical = translator_for("batch").translate(build_ml(tmp_path).plan, engine="flink")
    formats = {
        n.id: n.example.format
        for job in physical.jobs
        for n in job.nodes
        if n.id.startswith("__") and n.example is not None
    }
    assert set(formats.values()) == {"json"}
    local = translator_for("batch").translate(build_ml(tmp_path).plan)
    assert {n.example.format for j in local.jobs for n in j.nodes if n.id.startswith("__")} == {
        "parquet"
    }


def test_readers_run_on_their_consumers_engine(tmp_path: Path) -> None:
    physical = translator_for("batch").translate(build_ml(tmp_path).plan, engine="flink")
    for job in physical.jobs:
        for node in job.nodes:
            if node.id.startswith("__from_"):
                assert node.engine == job.engine


def test_explicit_flink_on_a_train_node_is_an_error_naming_it(tmp_path: Path) -> None:
    from tests.dsl.wf_defs import Majority, example

    with af.workflow("bad") as wf:
        raw = af.read_example(example(tmp_path))
        af.train(raw, Majority(), model=af.Model("m"), engine="flink")
    with pytest.raises(InvalidPlan, match=r"node 'train_m'.*flink.*no operator for train"):
        translator_for("batch").translate(wf.plan)


def test_kafka_examples_need_the_flink_engine(tmp_path: Path) -> None:
    topic = af.Example("events", schema={"x": "double"}, stream_uri="kafka://127.0.0.1:9/events")
    with af.workflow("k") as wf:
        af.write_example(af.read_example(topic), af.Example("o", batch_uri=tmp_path / "o.csv"))
    with pytest.raises(InvalidPlan, match=r"node 'read_events'.*need the flink engine"):
        translator_for("stream").translate(wf.plan)
    jobs = translator_for("stream").translate(wf.plan, engine="flink").jobs
    assert [j.engine for j in jobs] == ["flink"]


def test_a_malformed_kafka_uri_is_refused_where_the_example_is_defined() -> None:
    with pytest.raises(ValueError, match=r"example .e.*invalid Kafka URI.*not host:port"):
        af.Example("e", stream_uri="kafka://localhost/topic")
