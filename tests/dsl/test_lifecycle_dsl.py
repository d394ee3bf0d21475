"""``af.validate`` and ``af.push`` in the DSL, and how the translators place them: errors name
the node at fault, and a predict of a pushed model runs after the push and serves it."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.plan.model import NodeKind
from aiflow.translators.batch import BatchTranslator
from aiflow.translators.stream import StreamTranslator


class Fit(af.Trainer):
    def fit(self, batch, base_model=None):  # type: ignore[no-untyped-def]
        return {"t": 0.0}


class Acc(af.Evaluator):
    def evaluate(self, batch, model):  # type: ignore[no-untyped-def]
        return {"acc": 1.0}


class Ship(af.Pusher):
    def push(self, version):  # type: ignore[no-untyped-def]
        pass


SCHEMA = {"x": "double", "label": "int", "rid": "bigint"}


def _examples(tmp_path: Path) -> tuple[af.Example, af.Example]:
    (tmp_path / "stream").mkdir()
    (tmp_path / "history.csv").write_text("x,label,rid\n1.0,1,1\n")
    (tmp_path / "holdout.csv").write_text("x,label,rid\n1.0,1,1\n")
    clicks = af.Example(
        "clicks",
        schema=SCHEMA,
        batch_uri=str(tmp_path / "history.csv"),
        stream_uri=str(tmp_path / "stream"),
    )
    holdout = af.Example("holdout", schema=SCHEMA, batch_uri=str(tmp_path / "holdout.csv"))
    return clicks, holdout


def _loop(tmp_path: Path, **validate: object) -> af.Workflow:
    clicks, holdout = _examples(tmp_path)
    with af.workflow("ctr") as wf:
        raw = af.read_example(clicks)
        model = af.train(raw, Fit(), model=af.Model("ctr"), stream={"every_records": 200})
        checked = af.validate(
            model, af.read_example(holdout), Acc(), **({"metric": "acc"} | validate)
        )
        af.push(checked, pusher=Ship())
        preds = af.predict(raw, model)
        af.write_example(
            preds, af.Example("scores", batch_uri=str(tmp_path / "out.csv"), format="csv")
        )
    return wf


def test_validate_without_a_metric_names_the_node(tmp_path: Path) -> None:
    clicks, holdout = _examples(tmp_path)
    with pytest.raises(InvalidPlan, match=r"node 'validate_ctr'.*metric="):
        with af.workflow("ctr"):
            model = af.train(af.read_example(clicks), Fit(), model=af.Model("ctr"))
            af.validate(model, af.read_example(holdout), Acc())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "up"}, "mode='up'"),
        ({"better_than": "champion"}, "better_than='champion'"),
        ({"better_than": None}, "needs a threshold="),
        ({"min_delta": -0.1}, "min_delta=-0.1"),
        ({"threshold": float("nan")}, "threshold=nan"),
    ],
)
def test_bad_validate_options_name_the_node(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidPlan, match=rf"node 'validate_ctr'.*{message}"):
        _loop(tmp_path, **options)


def test_push_without_validate_names_the_node(tmp_path: Path) -> None:
    clicks, _ = _examples(tmp_path)
    with pytest.raises(InvalidPlan, match=r"node 'push'.*needs the output of af.validate"):
        with af.workflow("ctr"):
            model = af.train(af.read_example(clicks), Fit(), model=af.Model("ctr"))
            af.push(model)  # type: ignore[arg-type]


def test_push_with_a_bad_alias_names_the_node(tmp_path: Path) -> None:
    clicks, holdout = _examples(tmp_path)
    with pytest.raises(InvalidPlan, match=r"node 'push_ctr'.*alias"):
        with af.workflow("ctr"):
            model = af.train(af.read_example(clicks), Fit(), model=af.Model("ctr"))
            checked = af.validate(model, af.read_example(holdout), Acc(), metric="acc")
            af.push(checked, alias="no spaces allowed")


def test_unknown_train_stream_property_is_refused(tmp_path: Path) -> None:
    clicks, _ = _examples(tmp_path)
    with pytest.raises(InvalidPlan, match=r"node 'train_ctr'.*every_record"):
        with af.workflow("ctr"):
            af.train(
                af.read_example(clicks), Fit(), model=af.Model("ctr"), stream={"every_record": 5}
            )


def test_plan_records_the_decision_settings(tmp_path: Path) -> None:
    wf = _loop(tmp_path, min_delta=0.01, threshold=0.5)
    validate = wf.plan.node("validate_ctr")
    assert validate.kind is NodeKind.VALIDATE and validate.model == "ctr"
    assert validate.props("batch") == {
        "metric": "acc",
        "better_than": "deployed",
        "min_delta": 0.01,
        "mode": "max",
        "threshold": 0.5,
    }
    push = wf.plan.node("push_ctr")
    assert push.kind is NodeKind.PUSH and push.props("stream") == {"alias": "deployed"}
    assert push.component is not None and push.component.qualname == "Ship"


@pytest.mark.parametrize("translator", [BatchTranslator(), StreamTranslator()])
def test_jobs_validate_with_its_holdout_and_predict_after_the_push(
    tmp_path: Path, translator: BatchTranslator | StreamTranslator
) -> None:
    physical = translator.translate(_loop(tmp_path).plan)
    jobs = {job.name: job for job in physical.jobs}
    assert set(jobs) == {"train_ctr", "validate_ctr", "write_scores"}
    # the hold-out is read in the validate job (not materialized), push fused after validate
    assert [n.id for n in jobs["validate_ctr"].nodes] == [
        "read_holdout",
        "validate_ctr",
        "push_ctr",
    ]
    assert jobs["validate_ctr"].depends_on == ["train_ctr"]
    assert jobs["validate_ctr"].model_sources == {"validate_ctr": "train_ctr"}
    # predict waits for the push and serves what it pushed, not train's newest version
    assert jobs["write_scores"].depends_on == ["train_ctr", "validate_ctr"]
    assert jobs["write_scores"].model_sources == {}


def _check_rows(batch):  # type: ignore[no-untyped-def]
    return batch


def test_a_ruled_validate_job_stays_apart_from_the_workflow_run(tmp_path: Path) -> None:
    clicks, holdout = _examples(tmp_path)
    with af.workflow("ctr") as wf:
        raw = af.read_example(clicks)
        model = af.train(raw, Fit(), model=af.Model("ctr"))
        checked = af.validate(model, af.read_example(holdout), Acc(), metric="acc")
        af.push(checked)
        af.action_on_model_version(checked, model, event="generated")
    jobs = {job.name: job for job in BatchTranslator().translate(wf.plan).jobs}
    assert [n.id for n in jobs["validate_ctr"].nodes] == [
        "read_holdout",
        "validate_ctr",
        "push_ctr",
    ]
    assert jobs["validate_ctr"].depends_on == [] and jobs["validate_ctr"].model_sources == {}
    [rule] = jobs["validate_ctr"].rules
    assert (rule.event_type, rule.key, rule.action) == ("MODEL_GENERATED", "ctr", "start")
    assert [n.id for n in jobs["train_ctr"].nodes] == ["read_clicks", "train_ctr"]
    assert jobs["train_ctr"].rules == []


def test_a_ruled_node_sharing_records_with_the_run_is_refused_by_name(tmp_path: Path) -> None:
    clicks, _ = _examples(tmp_path)
    with af.workflow("ctr") as wf:
        rows = af.read_example(clicks)
        af.train(rows, Fit(), model=af.Model("ctr"))
        check = af.user_operation(_check_rows, rows, name="check")
        af.action_on_event(check, key="go")
    with pytest.raises(InvalidPlan, match=r"node 'check'.*event-driven.*read an example"):
        BatchTranslator().translate(wf.plan)
