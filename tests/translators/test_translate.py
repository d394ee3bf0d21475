"""Translators: fusion into jobs, materialized boundaries (train/serve and engines), and the
checks a run mode needs."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import NodeKind
from aiflow.translators import translator_for
from aiflow.translators.engine import Engine, register_engine, register_operator
from aiflow.translators.local.engine import LocalOperator
from tests.dsl.wf_defs import Scale, build_ml, example


def _jobs(wf: af.Workflow, mode: str = "batch") -> dict[str, list[str]]:
    physical = translator_for(mode).translate(wf.plan)
    return {j.name: [n.id for n in j.nodes] for j in physical.jobs}


def test_train_and_serve_split_with_materialized_features(tmp_path: Path) -> None:
    physical = translator_for("batch").translate(build_ml(tmp_path).plan)
    train, serve = physical.jobs
    assert [n.id for n in train.nodes] == ["read_points", "scale", "train_majority", "__to_scale.0"]
    assert [n.id for n in serve.nodes] == [
        "__from_scale.0",
        "evaluate_acc",
        "predict",
        "write_preds",
    ]
    assert serve.depends_on == ["train_majority"]
    assert serve.model_sources == {"evaluate_acc": "train_majority", "predict": "train_majority"}
    writer, reader = train.nodes[-1], serve.nodes[0]
    assert writer.kind is NodeKind.WRITE_INTERMEDIATE and reader.kind is NodeKind.READ_INTERMEDIATE
    assert writer.example is not None and reader.example is not None
    assert (
        writer.example.batch_uri
        == reader.example.batch_uri
        == "{execution_dir}/intermediate/scale.0/"
    )
    assert reader.output_columns == {"x": "double", "y": "double", "label": "int"}
    # the serve job's inputs are rewired to the reader
    assert {e.source.node for e in serve.edges} == {"__from_scale.0", "predict"}


def test_pure_data_chain_is_one_job(tmp_path: Path) -> None:
    with af.workflow("etl") as wf:
        raw = af.read_example(example(tmp_path))
        af.write_example(af.transform(raw, Scale()), af.Example("o", batch_uri=tmp_path / "o.csv"))
    assert _jobs(wf) == {"write_o": ["read_points", "scale", "write_o"]}


def test_independent_chains_are_separate_jobs_and_control_edges_order_them(tmp_path: Path) -> None:
    with af.workflow("two") as wf:
        a = af.write_example(
            af.read_example(example(tmp_path, "a")), af.Example("oa", batch_uri=tmp_path / "oa.csv")
        )
        b = af.write_example(
            af.read_example(example(tmp_path, "b")), af.Example("ob", batch_uri=tmp_path / "ob.csv")
        )
        af.run_after(b, a)
    physical = translator_for("batch").translate(wf.plan)
    assert [(j.name, j.depends_on) for j in physical.jobs] == [
        ("write_oa", []),
        ("write_ob", ["write_oa"]),
    ]


@register_engine
class OtherEngine(Engine):
    """A second engine, registered the way a real one (Flink) plugs in: no translator change."""

    name = "other"

    def run_job(self, spec, ctx):  # type: ignore[no-untyped-def]
        raise NotImplementedError


@register_operator(NodeKind.TRANSFORM, "other")
class OtherTransform(LocalOperator):
    pass


for kind in (NodeKind.READ_INTERMEDIATE, NodeKind.WRITE_INTERMEDIATE):
    register_operator(kind, "other")(type(f"Other{kind.value}", (LocalOperator,), {}))


def test_engine_boundary_materializes_and_orders_jobs(tmp_path: Path) -> None:
    with af.workflow("mixed") as wf:
        raw = af.read_example(example(tmp_path))
        remote = af.transform(raw, Scale(), engine="other", name="remote")
        af.write_example(
            af.transform(remote, Scale(), name="back"),
            af.Example("o", batch_uri=tmp_path / "o.csv"),
        )
    physical = translator_for("batch").translate(wf.plan)
    assert [(j.name, j.engine, [n.id for n in j.nodes], j.depends_on) for j in physical.jobs] == [
        ("read_points", "local", ["read_points", "__to_read_points.0"], []),
        ("remote", "other", ["__from_read_points.0", "remote", "__to_remote.0"], ["read_points"]),
        ("write_o", "local", ["__from_remote.0", "back", "write_o"], ["remote"]),
    ]


def test_engine_without_operator_or_unknown_engine_names_the_node(tmp_path: Path) -> None:
    with af.workflow("bad_engine") as wf:
        af.write_example(
            af.read_example(example(tmp_path)), af.Example("o", batch_uri=tmp_path / "o.csv")
        )
    with pytest.raises(InvalidPlan, match=r"node 'read_points': unknown engine 'nope'"):
        translator_for("batch").translate(wf.plan, engine="nope")
    with pytest.raises(
        InvalidPlan,
        match=r"node 'read_points': engine 'other' has no operator for read_example.*local",
    ):
        translator_for("batch").translate(wf.plan, engine="other")


def test_unknown_mode() -> None:
    with pytest.raises(InvalidPlan, match="unknown mode 'realtime'"):
        translator_for("realtime")


def test_missing_example_file_and_missing_views(tmp_path: Path) -> None:
    with af.workflow("missing") as wf:
        gone = af.Example("gone", schema={"x": "double"}, batch_uri=tmp_path / "nope.csv")
        af.write_example(af.read_example(gone), af.Example("o", batch_uri=tmp_path / "o.csv"))
    with pytest.raises(InvalidPlan, match=r"node 'read_gone'.*nope.csv does not exist"):
        translator_for("batch").translate(wf.plan)
    with pytest.raises(
        InvalidPlan, match=r"node 'read_only'.*no batch_uri, so it cannot be read in batch"
    ):
        with af.workflow("stream_only") as wf2:
            only = af.Example("only", stream_uri=tmp_path / "nowhere")
            af.write_example(af.read_example(only), af.Example("o", batch_uri=tmp_path / "o.csv"))
        translator_for("batch").translate(wf2.plan)
    with pytest.raises(
        InvalidPlan, match=r"stream directory .*nowhere of example 'only' does not exist"
    ):
        translator_for("stream").translate(wf2.plan)


def test_stream_job_reads_one_stream(tmp_path: Path) -> None:
    with af.workflow("two_streams") as wf:
        a = af.read_example(example(tmp_path / "a", "a"))
        b = af.read_example(example(tmp_path / "b", "b"))
        af.user_operation(join, a, b)
    _jobs(wf, "batch")  # fine in batch mode
    with pytest.raises(InvalidPlan, match="would read 2 streams"):
        _jobs(wf, "stream")


def join(a, b):  # type: ignore[no-untyped-def]
    return a
