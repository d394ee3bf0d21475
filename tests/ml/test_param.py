"""Params: defaults, types, every validator (its rule in the error), generated and hand-written
accessors, unknown keywords."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aiflow.errors import MLError
from aiflow.ml.common_params import (
    HasElasticNet,
    HasFeaturesCol,
    HasHandleInvalid,
    HasInputCols,
    HasMaxIter,
    HasSeed,
    HasWeightCol,
)
from aiflow.ml.param import (
    BooleanParam,
    FloatArrayParam,
    FloatParam,
    IntArrayParam,
    IntParam,
    Param,
    ParamValidators,
    StringArrayParam,
    StringParam,
    WithParams,
)


class Learner(HasMaxIter, HasFeaturesCol, HasHandleInvalid, HasWeightCol, HasSeed):
    INIT_MODE = StringParam(
        "init_mode", "Start.", "k-means++", ParamValidators.in_array(["k-means++", "random"])
    )
    RATE = FloatParam("rate", "Step.", 0.5, ParamValidators.in_range(0, 1, False, True))
    VERBOSE = BooleanParam("verbose", "Talk.", False)
    LAYERS = IntArrayParam("layers", "Sizes.", [4, 2], ParamValidators.non_empty_array())
    WEIGHTS = FloatArrayParam("weights", "W.", None)
    NAMES = StringArrayParam("names", "N.", None)


class StricterLearner(Learner, HasElasticNet, HasInputCols):
    MAX_ITER = IntParam("max_iter", "Fewer.", 5, ParamValidators.lt_eq(10))


def test_defaults_are_the_declared_ones() -> None:
    params = Learner().get_param_map()
    assert params == {
        "max_iter": 20,
        "features_col": "features",
        "handle_invalid": "error",
        "weight_col": None,
        "seed": None,
        "init_mode": "k-means++",
        "rate": 0.5,
        "verbose": False,
        "layers": [4, 2],
        "weights": None,
        "names": None,
    }
    assert Learner().resolved_seed() == Learner().resolved_seed() != Learner(seed=1).get_seed()


def test_keywords_and_chainable_accessors() -> None:
    learner = Learner(max_iter=3, init_mode="random")
    assert (learner.get_max_iter(), learner.get_init_mode()) == (3, "random")
    same = learner.set_max_iter(50).set_rate(1).set_verbose(True).set_layers((8,))
    assert same is learner
    assert learner.get_max_iter() == 50
    assert learner.get_rate() == 1.0 and isinstance(learner.get_rate(), float)
    assert learner.get_verbose() is True and learner.get_layers() == [8]
    assert learner.get(Learner.MAX_ITER) == 50 and learner.get("init_mode") == "random"
    assert learner.set(Learner.SEED, np.int64(7)).get_seed() == 7


def test_generated_accessors_exist_for_every_param_and_hand_written_ones_win() -> None:
    for name in Learner.params():
        assert callable(getattr(Learner, f"set_{name}"))
        assert callable(getattr(Learner, f"get_{name}"))
    assert Learner.get_max_iter is HasMaxIter.get_max_iter
    assert Learner.set_init_mode.__name__ == "set_init_mode"


def test_a_subclass_redeclares_a_param() -> None:
    assert StricterLearner().get_max_iter() == 5
    with pytest.raises(MLError, match=r"StricterLearner: max_iter must be <= 10, got 11"):
        StricterLearner(max_iter=11)
    assert Learner(max_iter=11).get_max_iter() == 11


def test_unknown_keyword_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Learner: unknown param 'max_iters'") as caught:
        Learner(max_iters=3)
    assert "did you mean 'max_iter'" in str(caught.value)
    assert "features_col" in str(caught.value) and "init_mode" in str(caught.value)
    with pytest.raises(MLError, match="unknown param 'nope'"):
        Learner().set("nope", 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_iter": 0}, "Learner: max_iter must be > 0, got 0"),
        ({"max_iter": None}, "Learner: max_iter must be > 0, got None"),
        ({"max_iter": 2.0}, "Learner: max_iter must be an integer, got 2.0 (float)"),
        ({"max_iter": True}, "Learner: max_iter must be an integer, got True (bool)"),
        ({"max_iter": "3"}, "Learner: max_iter must be an integer, got '3' (str)"),
        ({"rate": 0}, "Learner: rate must be in (0, 1], got 0"),
        ({"rate": 1.5}, "Learner: rate must be in (0, 1], got 1.5"),
        ({"rate": "x"}, "Learner: rate must be a number"),
        ({"init_mode": "kmeans||"}, "Learner: init_mode must be one of 'k-means++', 'random'"),
        ({"handle_invalid": "drop"}, "handle_invalid must be one of 'error', 'skip', 'keep'"),
        ({"features_col": None}, "Learner: features_col must be set (not None), got None"),
        ({"features_col": 3}, "Learner: features_col must be a string, got 3 (int)"),
        ({"verbose": 1}, "Learner: verbose must be a boolean, got 1"),
        ({"layers": []}, "Learner: layers must be a non-empty list, got []"),
        ({"layers": [1, "2"]}, "Learner: layers must be a list of integers"),
        ({"layers": "12"}, "Learner: layers must be a list of integers, got '12'"),
        ({"names": ["a", 1]}, "Learner: names must be a list of strings"),
    ],
)
def test_a_bad_value_names_the_stage_the_param_and_the_rule(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        Learner(**kwargs)
    assert message in str(caught.value)


def test_the_value_is_not_changed_when_set_fails() -> None:
    learner = Learner(max_iter=4)
    with pytest.raises(MLError):
        learner.set_max_iter(-1)
    assert learner.get_max_iter() == 4


@pytest.mark.parametrize(
    ("validator", "good", "bad", "rule"),
    [
        (ParamValidators.gt(1), [1.5, 2], [1, 0, None], "be > 1"),
        (ParamValidators.gt_eq(1), [1, 2], [0.9, None], "be >= 1"),
        (ParamValidators.lt(1), [0.5, -3], [1, None], "be < 1"),
        (ParamValidators.lt_eq(1), [1, 0], [1.01, None], "be <= 1"),
        (ParamValidators.in_range(0, 1), [0, 0.5, 1], [-0.1, 1.1, None], "be in [0, 1]"),
        (ParamValidators.in_range(0, 1, False, False), [0.5], [0, 1], "be in (0, 1)"),
        (ParamValidators.in_array(["a", "b"]), ["a", "b"], ["c", None], "be one of 'a', 'b'"),
        (ParamValidators.not_null(), [0, "", []], [None], "be set (not None)"),
        (ParamValidators.non_empty_array(), [[1], ["x"]], [[], None], "be a non-empty list"),
        (ParamValidators.always_true(), [None, 0, "x"], [], "be anything"),
    ],
)
def test_every_validator(validator: Any, good: list[Any], bad: list[Any], rule: str) -> None:
    assert validator.rule == rule
    assert all(validator(v) for v in good)
    assert not any(validator(v) for v in bad)


def test_lists_are_copied_in_and_out() -> None:
    mine = [1, 2]
    learner = Learner(layers=mine)
    mine.append(3)
    learner.get_layers().append(9)
    assert learner.get_layers() == [1, 2]
    assert Learner(weights=np.array([1, 2])).get_weights() == [1.0, 2.0]


def test_json_forms_keep_values_and_types() -> None:
    rate = FloatParam("rate", "", 0.0)
    for value in (math.nan, math.inf, -math.inf, 0.25, None):
        data = rate.to_json(value)
        assert not isinstance(data, float) or math.isfinite(data)  # valid JSON
        back = rate.from_json(data)
        assert back is value or back == value or (math.isnan(back) and math.isnan(value))  # type: ignore[arg-type]
    weights = FloatArrayParam("weights", "")
    assert weights.from_json(weights.to_json([1.0, math.nan]))[1] != 0  # type: ignore[index]
    assert Param("any", "", {"a": 1}).to_json({"a": 1}) == {"a": 1}


def test_copy_params_from_takes_the_shared_ones() -> None:
    class Small(HasMaxIter, HasFeaturesCol):
        pass

    small = Small().copy_params_from(Learner(max_iter=7, features_col="x", rate=0.2))
    assert small.get_param_map() == {"max_iter": 7, "features_col": "x"}


def test_a_param_name_must_be_an_identifier() -> None:
    with pytest.raises(MLError, match="'max-iter' must be a Python identifier"):
        IntParam("max-iter", "")


def test_with_params_alone_has_no_params() -> None:
    assert WithParams().get_param_map() == {}
    with pytest.raises(MLError, match=r"unknown param 'x' \(params: none\)"):
        WithParams(x=1)
