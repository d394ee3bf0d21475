"""The HTTP contract of ``aiflow serve``: predictions, status, bad requests, tokens, metrics."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pandas as pd
import pytest

with warnings.catch_warnings():  # starlette would rather use httpx2; httpx works the same here
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from aiflow.errors import InvalidInput
from aiflow.serving.app import create_app
from aiflow.store.sql_store import MetaStore
from tests.serving.conftest import FEATURES, fit, register

MODEL = "clicks"
PREDICT = f"/v1/models/{MODEL}:predict"


@pytest.fixture
def client(store: MetaStore) -> Iterator[TestClient]:
    register(store, MODEL, fit(seed=1))
    with TestClient(create_app(store, MODEL, dev=True, max_body_bytes=4096)) as client:
        yield client


def test_predictions_are_the_models_with_the_version(client: TestClient) -> None:
    instances = [{"f0": 2.0, "f1": 1.0}, {"f0": -3.0, "f1": 0.5}, [0.1, -2]]
    response = client.post(PREDICT, json={"instances": instances})
    assert response.status_code == 200, response.text
    frame = pd.DataFrame([[2.0, 1.0], [-3.0, 0.5], [0.1, -2.0]], columns=FEATURES)
    assert response.json() == {
        "predictions": fit(seed=1).predict(frame).tolist(),
        "model_version": 1,
    }


def test_status_says_ready_with_the_version_and_fields(client: TestClient) -> None:
    response = client.get(f"/v1/models/{MODEL}")
    assert response.status_code == 200
    body = response.json()
    assert (body["ready"], body["model_version"], body["alias"]) == (True, 1, "deployed")
    assert body["fields"] == {"f0": "number", "f1": "number"}
    assert body["model_version_status"] == [{"version": "1", "state": "AVAILABLE"}]
    assert client.get("/v1/models").json() == {"models": [MODEL]}
    assert client.get("/").status_code == 200


def test_not_ready_without_a_version(store: MetaStore) -> None:
    with TestClient(create_app(store, "nothing-yet", dev=True)) as client:
        status = client.get("/v1/models/nothing-yet")
        assert (status.status_code, status.json()["ready"]) == (503, False)
        response = client.post("/v1/models/nothing-yet:predict", json={"instances": [{"a": 1}]})
        assert response.status_code == 503 and "no version" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"instances": [{"f0": 1.0', 400, None),
        (b'{"instances": [{"f0": 1.0}]}', 422, "f1"),
        (b'{"instances": [{"f0": 1.0, "f1": "high"}]}', 422, "f1"),
        (b'{"instances": "all"}', 422, "instances"),
        (b'{"instances": [{"f0": 1.0, "f1": 2.0}], "pad": "' + b"x" * 5000 + b'"}', 413, None),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(
    client: TestClient, body: bytes, status: int, field: str | None
) -> None:
    response = client.post(PREDICT, content=body)
    assert response.status_code == status, response.text
    assert response.json().get("field") == field
    if field is not None:
        assert f"'{field}'" in response.json()["error"] or field == "instances"


def test_a_body_over_the_limit_without_content_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # streamed: chunked transfer, no Content-Length
        yield b'{"instances": ['
        for _ in range(500):
            yield b'{"f0": 1.0, "f1": 2.0},'
        yield b'{"f0": 1.0, "f1": 2.0}]}'

    response = client.post(PREDICT, content=chunks())
    assert response.status_code == 413 and "limit is 4096" in response.json()["error"]


def test_unknown_model_names_and_paths_are_404(client: TestClient) -> None:
    response = client.post("/v1/models/other:predict", json={"instances": [[1, 2]]})
    assert response.status_code == 404 and "serves 'clicks'" in response.json()["error"]
    assert client.get("/v1/models/other").status_code == 404
    assert client.get("/v2/models").status_code == 404
    wrong = client.get(PREDICT)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")


def test_metrics_count_requests_by_code_and_the_version(client: TestClient) -> None:
    client.post(PREDICT, json={"instances": [[1, 2]]})
    client.post(PREDICT, json={"instances": [[1, 2]]})
    client.post(PREDICT, content=b"{")
    text = client.get("/metrics").text
    assert 'aiflow_serving_requests_total{code="200"} 2.0' in text
    assert 'aiflow_serving_requests_total{code="400"} 1.0' in text
    assert "aiflow_serving_request_seconds_count 3.0" in text
    assert "aiflow_serving_model_version 1.0" in text
    assert "aiflow_serving_swaps_total 0.0" in text
    assert "aiflow_serving_load_failures_total 0.0" in text


# -- tokens ---------------------------------------------------------------------------------------


@pytest.fixture
def secured(store: MetaStore) -> Iterator[TestClient]:
    register(store, MODEL, fit())
    with TestClient(create_app(store, MODEL)) as client:
        yield client


def test_predicting_needs_a_valid_token(store: MetaStore, secured: TestClient) -> None:
    body = {"instances": [[1.0, 2.0]]}
    missing = secured.post(PREDICT, json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = secured.post(PREDICT, json=body, headers={"Authorization": "Bearer aif_nope"})
    assert wrong.status_code == 401 and "invalid or revoked" in wrong.json()["error"]
    _, viewer = store.create_token("reader", "viewer")
    good = secured.post(PREDICT, json=body, headers={"Authorization": f"Bearer {viewer}"})
    assert good.status_code == 200, good.text
    store.revoke_token("reader")  # in this process: forgotten at once
    revoked = secured.post(PREDICT, json=body, headers={"Authorization": f"Bearer {viewer}"})
    assert revoked.status_code == 401


def test_probes_and_scrapes_need_no_token(secured: TestClient) -> None:
    assert secured.get(f"/v1/models/{MODEL}").status_code == 200
    assert secured.get("/metrics").status_code == 200


def test_dev_mode_only_on_loopback(store: MetaStore) -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        create_app(store, MODEL, dev=True, host="0.0.0.0")
    create_app(store, MODEL, dev=True, host="::1")
