"""DSL -> logical plan: shapes, recorded parameters, validation errors, JSON and hash stability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import LogicalPlan, NodeKind
from tests.dsl import wf_defs
from tests.dsl.wf_defs import Majority, NeedsStringX, NeedsY, Scale, build_ml, example

REPO = Path(__file__).resolve().parents[2]


def test_plan_shape_params_and_properties(tmp_path: Path) -> None:
    plan = build_ml(tmp_path, factor=3.0).plan
    kinds = [(n.id, n.kind) for n in plan.nodes]
    assert kinds == [
        ("read_points", NodeKind.READ_EXAMPLE),
        ("scale", NodeKind.TRANSFORM),
        ("train_majority", NodeKind.TRAIN),
        ("evaluate_acc", NodeKind.EVALUATE),
        ("predict", NodeKind.PREDICT),
        ("write_preds", NodeKind.WRITE_EXAMPLE),
    ]
    scale = plan.node("scale")
    assert scale.component is not None
    assert scale.component.qualname == "Scale"
    assert scale.component.params == {"factor": 3.0, "columns": ["x", "y"]}  # defaults recorded
    read = plan.node("read_points")
    assert read.props("batch") == {"limit": 10}
    assert read.props("stream") == {"poll_interval": 0.1}
    assert read.example is not None and read.example.batch_uri == str(tmp_path / "points.csv")
    model_edges = [(e.source.node, e.target) for e in plan.edges if e.kind == "model"]
    assert model_edges == [("train_majority", "evaluate_acc"), ("train_majority", "predict")]
    assert plan.node("predict").model == "majority"


def test_json_round_trip_and_hash(tmp_path: Path) -> None:
    plan = build_ml(tmp_path).plan
    again = LogicalPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.hash() == plan.hash()
    assert build_ml(tmp_path).plan.hash() == plan.hash()  # same code, same hash
    assert build_ml(tmp_path, factor=5.0).plan.hash() != plan.hash()  # a parameter changed


def test_hash_is_stable_across_processes() -> None:
    code = (
        "from pathlib import Path; from aiflow.translators.usercode import load_workflow_file;"
        "print(load_workflow_file(Path('examples/wine/workflow.py')).wf.plan.hash())"
    )
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(hashes) == 1 and len(next(iter(hashes))) == 64


def test_input_from_another_workflow_is_rejected(tmp_path: Path) -> None:
    src = example(tmp_path)
    with af.workflow("first"):
        raw = af.read_example(src)
    with pytest.raises(InvalidPlan, match=r"node 'scale'.*output of workflow 'first'"):
        with af.workflow("second"):
            af.transform(raw, Scale())


def test_control_cycle_is_rejected_naming_nodes(tmp_path: Path) -> None:
    src = example(tmp_path)
    with pytest.raises(InvalidPlan, match=r"cycle through nodes \['a', 'b'\]"):
        with af.workflow("cyclic"):
            raw = af.read_example(src)
            a = af.transform(raw, Scale(), name="a")
            b = af.transform(a, Scale(), name="b")
            af.run_after(a, b)


def test_schema_mismatch_names_both_nodes(tmp_path: Path) -> None:
    src = example(tmp_path)
    with pytest.raises(InvalidPlan, match=r"node 'train_m'.*needs column 'y'.*'drop_y'"):
        with af.workflow("mismatch"):
            feats = af.transform(af.read_example(src), wf_defs.DropY())
            af.train(feats, NeedsY(), model=af.Model("m"))
    with pytest.raises(InvalidPlan, match=r"column 'x': 'scale' produces double.*expects string"):
        with af.workflow("mismatch2"):
            feats = af.transform(af.read_example(src), Scale())
            af.train(feats, NeedsStringX(), model=af.Model("m"))


def test_component_params_must_be_json() -> None:
    with pytest.raises(TypeError, match=r"Scale\(factor=...\): object is not a JSON value"):
        Scale(factor=object())  # type: ignore[arg-type]


def test_locally_defined_component_is_rejected(tmp_path: Path) -> None:
    class Local(af.Transformer):
        pass

    with pytest.raises(InvalidPlan, match="defined inside a function"), af.workflow("local"):
        af.transform(af.read_example(example(tmp_path)), Local())


def test_dsl_outside_workflow_and_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidPlan, match=r"inside `with af.workflow"):
        af.read_example(example(tmp_path))
    with pytest.raises(InvalidPlan, match="used twice"), af.workflow("dupes"):
        raw = af.read_example(example(tmp_path))
        af.transform(raw, Scale(), name="t")
        af.transform(raw, Scale(), name="t")


def test_bad_example_definitions(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="column 'x': unknown column type 'decimal'"):
        af.Example("bad", schema={"x": "decimal"}, batch_uri="x.csv")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        af.Example("bad", batch_uri="x.xml", format="xml")


def test_relative_uris_resolve_against_the_defining_file() -> None:
    ex = af.Example("rel", batch_uri="data/x.csv", stream_uri="data/s/")
    here = Path(__file__).resolve().parent
    assert ex.spec.batch_uri == str(here / "data" / "x.csv")
    assert ex.spec.stream_uri == str(here / "data" / "s") + "/"
    assert af.Example("remote", batch_uri="s3://bucket/x.csv").spec.batch_uri == "s3://bucket/x.csv"


def test_train_default_model_name_and_user_operation(tmp_path: Path) -> None:
    with af.workflow("ops") as wf:
        raw = af.read_example(example(tmp_path))
        af.train(raw, Majority())
        af.user_operation(wf_defs_fn, raw, params={"k": 2})
    plan = wf.plan
    assert plan.node("train_ops.majority").model == "ops.majority"
    op = plan.node("wf_defs_fn")
    assert op.kind is NodeKind.USER_OPERATION and op.component is not None
    assert op.component.params == {"k": 2}


def wf_defs_fn(batch, k):  # type: ignore[no-untyped-def]
    return batch.head(k)


def test_unknown_node_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['nmae'\].*valid: name, engine"):
        with af.workflow("typo"):
            af.read_example(example(tmp_path), nmae="x")  # type: ignore[call-arg]
