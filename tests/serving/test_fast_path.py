"""The numpy fast path: chosen by a one-time probe for a plain scikit-learn model, refused for a
model that answers otherwise from an array, and invisible to clients (same answers, same
errors)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

with warnings.catch_warnings():  # starlette would rather use httpx2; httpx works the same here
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from aiflow.serving.app import create_app
from aiflow.serving.chain import Chain, default_chain
from aiflow.serving.fast_path import FastPath, numpy_view
from aiflow.serving.schema import Schema, to_block, to_frame
from aiflow.store.sql_store import MetaStore
from tests.serving.conftest import FEATURES, fit, register

MODEL = "clicks"
PREDICT = f"/v1/models/{MODEL}:predict"
INSTANCES = [{"f0": 2.0, "f1": 1.0}, {"f0": -3.0, "f1": 0.5}, [0.1, -2], {"f0": 0, "f1": 7}]


class ByName(BaseEstimator):
    """Reads column ``f1`` by name from a frame, but position 0 from an array: an array gives
    other answers (what the probe must catch)."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> ByName:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return (X["f1"].to_numpy() > 0).astype(int)
        return (np.asarray(X)[:, 0] > 0).astype(int)


def frame(columns: list[str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(rng.normal(size=(60, 2)), columns=columns or FEATURES)


def fast_path(model: Any, chain: Chain | None = None) -> tuple[FastPath | None, str]:
    chain = chain or default_chain()
    return chain.fast_path_for(model, chain.schema_for(model))


@pytest.fixture
def client(store: MetaStore) -> Iterator[TestClient]:
    register(store, MODEL, fit(seed=1))
    with TestClient(create_app(store, MODEL, dev=True)) as client:
        yield client


# -- which path -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        fit(seed=1),
        make_pipeline(StandardScaler(), LogisticRegression()).fit(frame(), frame().sum(axis=1) > 0),
        LogisticRegression().fit(frame().to_numpy(), frame().sum(axis=1) > 0),  # unnamed columns
    ],
    ids=["estimator", "pipeline", "fitted-on-array"],
)
def test_the_fast_path_is_chosen_for_sklearn_models_and_answers_as_the_frame_path(
    model: Any,
) -> None:
    fast, why = fast_path(model)
    assert fast is not None, why
    schema = Schema.of_model(model)
    assert schema is not None
    instances = [[float(a), float(b)] for a, b in np.random.default_rng(9).normal(size=(40, 2))]
    slow = default_chain().predict(to_frame(instances, schema), model)
    assert fast.direct(to_block(instances, schema)) == slow
    assert fast.predict(to_block(instances[:1], schema)) == slow[:1]


def test_the_numpy_view_leaves_the_model_unchanged() -> None:
    model = fit(seed=1)
    view = numpy_view(model)
    assert view is not None and not hasattr(view, "feature_names_in_")
    assert list(model.feature_names_in_) == FEATURES
    assert view.coef_ is model.coef_  # shared, not copied


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (ByName().fit(frame()), "answered differently"),
        (
            make_pipeline(
                make_column_transformer((StandardScaler(), ["f1"])), LogisticRegression()
            ).fit(frame(), frame()["f1"] > 0),
            "raised",
        ),
    ],
    ids=["reads-names", "column-transformer"],
)
def test_a_model_answering_otherwise_from_an_array_keeps_the_frame_path(
    model: Any, reason: str
) -> None:
    fast, why = fast_path(model)
    assert fast is None and reason in why


def test_a_chain_with_its_own_predictor_keeps_the_frame_path() -> None:
    class Doubled(default_chain().predictor.__class__):  # type: ignore[misc]
        pass

    fast, why = fast_path(fit(seed=1), Chain(predictor=Doubled()))
    assert fast is None and "own predictor" in why


def test_a_failing_fast_call_is_answered_by_the_frame_path() -> None:
    class Broken:
        def predict(self, X: Any) -> Any:
            raise ValueError("boom")

    fast = FastPath(Broken(), None, lambda block: ["from the frame path"] * block.shape[1])
    assert fast.predict(np.zeros((2, 3))) == ["from the frame path"] * 3


# -- through the service ----------------------------------------------------------------------


def test_the_service_uses_the_fast_path_with_the_same_answers(client: TestClient) -> None:
    served = client.app.holder.current  # type: ignore[attr-defined]
    assert served is not None and served.fast is not None
    response = client.post(PREDICT, json={"instances": INSTANCES})
    assert response.status_code == 200, response.text
    rows = [[2.0, 1.0], [-3.0, 0.5], [0.1, -2.0], [0.0, 7.0]]
    expected = fit(seed=1).predict(pd.DataFrame(rows, columns=FEATURES)).tolist()
    assert response.json() == {"predictions": expected, "model_version": 1}


def test_the_service_keeps_the_frame_path_for_a_model_reading_names(store: MetaStore) -> None:
    register(store, MODEL, ByName().fit(frame()))
    with TestClient(create_app(store, MODEL, dev=True)) as client:
        served = client.app.holder.current  # type: ignore[attr-defined]
        assert served is not None and served.fast is None
        response = client.post(PREDICT, json={"instances": [{"f0": -1.0, "f1": 1.0}]})
    assert response.json()["predictions"] == [1]  # f1 by name, not position 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"instances": [{"f0": 1.0', 400, None),
        (b'{"instances": [{"f0": 1.0}]}', 422, "f1"),
        (b'{"instances": [{"f0": 1.0, "f1": "high"}]}', 422, "f1"),
        (b'{"instances": [{"f0": 1.0, "f1": null}]}', 422, "f1"),
        (b'{"instances": [[1.0]]}', 422, None),
        (b'{"instances": []}', 422, "instances"),
    ],
)
def test_bad_requests_on_the_fast_path_are_4xx_naming_the_field(
    client: TestClient, body: bytes, status: int, field: str | None
) -> None:
    assert client.app.holder.current.fast is not None  # type: ignore[attr-defined]
    response = client.post(PREDICT, content=body)
    assert response.status_code == status, response.text
    assert response.json().get("field") == field
    if field is not None and field != "instances":
        assert f"field '{field}'" in response.json()["error"]
