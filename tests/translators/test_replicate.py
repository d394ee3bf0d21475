"""Stream jobs read their streams themselves (``translators/replicate.py``): the stream source
and the transforms after it are copied into each consuming job, each copy with its own id (so
its own ledger); what cannot be copied keeps the materialized intermediate."""

from __future__ import annotations

from pathlib import Path

import aiflow as af
from aiflow.plan.model import NodeKind
from aiflow.translators import translator_for
from tests.dsl.wf_defs import Majority, Scale, build_ml, example


def _stream_jobs(wf: af.Workflow) -> dict[str, list[str]]:
    return {
        j.name: [n.id for n in j.nodes] for j in translator_for("stream").translate(wf.plan).jobs
    }


def test_a_stream_job_gets_its_own_copy_of_source_and_transforms(tmp_path: Path) -> None:
    physical = translator_for("stream").translate(build_ml(tmp_path).plan)
    train, serve = physical.jobs
    assert [n.id for n in train.nodes] == ["read_points", "scale", "train_majority"]
    copies = ["read_points~write_preds", "scale~write_preds"]
    assert [n.id for n in serve.nodes] == [*copies, "evaluate_acc", "predict", "write_preds"]
    read_copy, scale_copy = serve.nodes[:2]
    original = {n.id: n for n in train.nodes}
    # the same node (example, properties, component), under an id of its own
    assert read_copy.model_copy(update={"id": "read_points"}) == original["read_points"]
    assert scale_copy.model_copy(update={"id": "scale"}) == original["scale"]
    edges = {(e.source.node, e.target) for e in serve.edges if e.kind == "data"}
    assert edges == {
        ("read_points~write_preds", "scale~write_preds"),
        ("scale~write_preds", "evaluate_acc"),
        ("scale~write_preds", "predict"),
        ("predict", "write_preds"),
    }
    assert serve.depends_on == ["train_majority"]  # still started after the trainer runs
    assert not any(n.kind is NodeKind.WRITE_INTERMEDIATE for n in train.nodes)


def test_batch_runs_and_other_engines_keep_the_intermediate(tmp_path: Path) -> None:
    batch = translator_for("batch").translate(build_ml(tmp_path).plan)
    assert batch.jobs[1].nodes[0].id == "__from_scale.0"
    with af.workflow("mixed") as wf:
        raw = af.read_example(example(tmp_path), stream={"poll_interval": 0.1})
        model = af.train(raw, Majority(), model=af.Model("m"))
        preds = af.predict(af.transform(raw, Scale(), engine="flink"), model, engine="flink")
        af.write_example(preds, af.Example("o", stream_uri=tmp_path / "o"), engine="flink")
    jobs = {
        j.name: [n.id for n in j.nodes] for j in translator_for("stream").translate(wf.plan).jobs
    }
    assert jobs["train_m"] == ["read_points", "train_m", "__to_read_points.0"]
    assert jobs["scale"][0] == "__from_read_points.0"  # a Flink job does not copy a source


def test_an_upstream_fed_by_a_model_is_not_copied(tmp_path: Path) -> None:
    with af.workflow("fed") as wf:
        raw = af.read_example(example(tmp_path), stream={"poll_interval": 0.1})
        first = af.train(raw, Majority(), model=af.Model("first"))
        scored = af.predict(raw, first, name="score")
        second = af.train(scored, Majority(), model=af.Model("second"))
        af.write_example(af.predict(scored, second), af.Example("o", stream_uri=tmp_path / "o"))
    jobs = {
        j.name: [n.id for n in j.nodes] for j in translator_for("stream").translate(wf.plan).jobs
    }
    assert jobs["train_second"][0] == "read_points~train_second"  # the source alone: copied
    assert jobs["write_o"][0] == "__from_score.0"  # a predict's output: materialized once
