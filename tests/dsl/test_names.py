"""The DSL refuses names the meta store, the API and the CLI would refuse, at the line that
declares them (one rule: ``aiflow.schemas.limits.check_name``)."""

from __future__ import annotations

import re

import pytest

import aiflow as af
from aiflow.errors import InvalidPlan

BAD_NAMES = ["..", "<script>", "a b", "../x; drop", "", "-x", "a\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_workflow_model_and_example_names_are_refused(name: str) -> None:
    rule = "letters, digits, '.', '_' or '-', starting with a letter or digit"
    with pytest.raises(
        InvalidPlan, match=re.escape(f"workflow name {name!r} is invalid")
    ) as raised:
        with af.workflow(name):
            pass
    assert rule in str(raised.value)
    with pytest.raises(InvalidPlan, match=re.escape(f"model name {name!r} is invalid")):
        af.Model(name)
    with pytest.raises(InvalidPlan, match=re.escape(f"example name {name!r} is invalid")):
        af.Example(name, schema={"x": "int"}, batch_uri="/data/x.csv")


def test_names_within_the_rule_build_a_plan() -> None:
    source = af.Example("wine.v2", schema={"x": "int"}, batch_uri="/data/x.csv")
    with af.workflow("wine_sgd-1.0") as wf:
        af.write_example(af.read_example(source), af.Example("wine_scored"))
    assert wf.plan.workflow == "wine_sgd-1.0"
    assert af.Model("wine_sgd").name == "wine_sgd"
