"""A job's deployer options are its fused nodes' ``deploy=``, merged: one pod runs them all, so
two nodes of one job asking for different values of one option is an error naming both."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan
from aiflow.translators import translator_for
from tests.dsl.wf_defs import Acc, Majority, Scale, example


def _deploy(wf: af.Workflow, mode: str = "batch") -> dict[str, dict[str, object]]:
    return {job.name: job.deploy for job in translator_for(mode).translate(wf.plan).jobs}


def test_fused_nodes_merge_their_options_and_jobs_keep_their_own(tmp_path: Path) -> None:
    gpu = {"nvidia.com/gpu": "1"}
    with af.workflow("merge") as wf:
        raw = af.read_example(example(tmp_path), deploy={"kubernetes": {"image": "a:1"}})
        feats = af.transform(raw, Scale(), deploy={"kubernetes": {"image": "a:1", "python": "p"}})
        model = af.train(
            feats,
            Majority(),
            model=af.Model("m"),
            deploy={"kubernetes": {"resources": {"limits": gpu}}, "other": {"x": 1}},
        )
        af.evaluate(feats, model, Acc())
    assert _deploy(wf) == {
        "train_m": {
            "kubernetes": {"image": "a:1", "python": "p", "resources": {"limits": gpu}},
            "other": {"x": 1},
        },
        "evaluate_acc": {},  # the serving job: its node set nothing, the reader neither
    }


def test_two_values_of_one_option_in_one_job_name_both_nodes(tmp_path: Path) -> None:
    with af.workflow("clash") as wf:
        raw = af.read_example(example(tmp_path), deploy={"kubernetes": {"image": "a:1"}})
        af.transform(raw, Scale(), deploy={"kubernetes": {"image": "b:2"}})
    with pytest.raises(InvalidPlan) as caught:
        translator_for("batch").translate(wf.plan)
    message = caught.value.message
    assert "nodes 'read_points' and 'scale' run in one job" in message
    assert "deploy['kubernetes']['image'] ('a:1' and 'b:2')" in message
    assert caught.value.node == "scale"


def test_options_for_separate_jobs_do_not_clash(tmp_path: Path) -> None:
    with af.workflow("apart") as wf:
        a = af.read_example(example(tmp_path, "a"), deploy={"kubernetes": {"image": "a:1"}})
        af.write_example(a, af.Example("oa", batch_uri=tmp_path / "oa.csv"))
        b = af.read_example(example(tmp_path, "b"), deploy={"kubernetes": {"image": "b:2"}})
        af.write_example(b, af.Example("ob", batch_uri=tmp_path / "ob.csv"))
    assert _deploy(wf) == {
        "write_oa": {"kubernetes": {"image": "a:1"}},
        "write_ob": {"kubernetes": {"image": "b:2"}},
    }
