"""Instances checked against their schema, and typed as a job types the same record."""

from __future__ import annotations

import pandas as pd
import pytest

from aiflow.serving.protocol import Rejected, dumps, parse_instances
from aiflow.serving.schema import Schema, to_frame
from tests.serving.conftest import fit
from translators.io import apply_schema

EXAMPLE = {"x": "double", "n": "int", "flag": "bool", "name": "string", "label": "int"}


def rejected(instances: list[object], schema: Schema | None) -> Rejected:
    with pytest.raises(Rejected) as caught:
        to_frame(instances, schema)
    return caught.value


def test_example_records_get_the_types_a_job_gives_them() -> None:
    """The frame equals what ``apply_schema`` makes of the same records read from a file,
    dtypes included: transforms see the same input online and offline."""
    schema = Schema.of_example("points", EXAMPLE, optional=["label"])
    instances = [
        {"x": 1, "n": 2.0, "flag": True, "name": "a", "label": 1},
        {"x": 0.5, "n": None, "flag": False, "name": "b"},  # label absent: optional
    ]
    frame = to_frame(instances, schema)
    from_file = pd.DataFrame(
        {
            "x": ["1", "0.5"],
            "n": ["2", None],
            "flag": ["true", "false"],
            "name": ["a", "b"],
            "label": ["1", None],
        },
        dtype=object,
    )
    pd.testing.assert_frame_equal(frame, apply_schema(from_file, EXAMPLE, "file"))


def test_model_features_accept_objects_and_row_lists() -> None:
    schema = Schema.of_model(fit())
    assert schema is not None and schema.columns == ("f0", "f1")
    frame = to_frame([{"f0": 1, "f1": 2.5, "extra": "ignored"}, [3, 4]], schema)
    assert list(frame.columns) == ["f0", "f1"]
    assert frame.to_numpy().tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert frame.dtypes.tolist() == ["float64", "float64"]


@pytest.mark.parametrize(
    ("instance", "field", "words"),
    [
        ({"f1": 1.0}, "f0", "is missing"),
        ({"f0": "1.0", "f1": 1.0}, "f0", "string '1.0'; expected a number"),
        ({"f0": True, "f1": 1.0}, "f0", "boolean"),
        ({"f0": None, "f1": 1.0}, "f0", "is null"),
        ({"f0": [1], "f1": 1.0}, "f0", "list"),
    ],
)
def test_a_bad_field_is_named_with_its_instance(instance: dict, field: str, words: str) -> None:
    error = rejected([{"f0": 0.0, "f1": 0.0}, instance], Schema.of_model(fit()))
    assert (error.status, error.instance, error.field) == (422, 1, field)
    assert error.message.startswith(f"instance 1: field '{field}'") and words in error.message


def test_example_types_are_checked() -> None:
    schema = Schema.of_example("points", EXAMPLE)
    base = {"x": 1.0, "n": 1, "flag": True, "name": "a", "label": 0}
    for field, value in [("n", 1.5), ("flag", 1), ("name", 3), ("n", 2**70)]:
        error = rejected([{**base, field: value}], schema)
        assert (error.instance, error.field) == (0, field), error.message
    error = rejected([{**base, "label": None, "name": "b"}, {"x": 1.0}], schema)
    assert (error.instance, error.field) == (1, "n")  # label is required here: no exclude


def test_row_lists_must_have_every_feature() -> None:
    error = rejected([[1.0]], Schema.of_model(fit()))
    assert error.status == 422 and "has 1 values" in error.message and "f0, f1" in error.message


def test_a_model_without_feature_names_takes_lists_only() -> None:
    model = fit()
    del model.feature_names_in_  # as if fitted on a numpy array
    schema = Schema.of_model(model)
    assert schema is not None and not schema.keyed
    assert to_frame([[1, 2]], schema).to_numpy().tolist() == [[1.0, 2.0]]
    assert "fitted without column names" in rejected([{"0": 1, "1": 2}], schema).message


def test_without_a_schema_every_instance_has_the_first_ones_fields() -> None:
    frame = to_frame([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], None)
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert rejected([{"a": 1}, {"b": 2}], None).field == "b"
    assert rejected([{"a": 1}, {}], None).field == "a"
    assert rejected([{"a": {"nested": 1}}], None).field == "a"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{", 400, "not valid JSON"),
        (b'{"instances": [1]} x', 400, "not valid JSON"),
        (b'{"instances": [NaN]}', 400, "not valid JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"inputs": []}', 422, 'no "instances"'),
        (b'{"instances": {"f0": 1}}', 422, "must be a list"),
        (b'{"instances": []}', 422, "is empty"),
    ],
)
def test_bodies_of_the_wrong_shape(body: bytes, status: int, words: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_instances(body)
    assert caught.value.status == status and words in caught.value.message


def test_responses_are_strict_json() -> None:
    import numpy as np

    assert dumps({"p": [float("nan"), np.int64(3)], "v": 1}) == b'{"p":[null,3],"v":1}'
