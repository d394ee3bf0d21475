"""Following the alias: versions swapped under load without a failed request, in-flight
requests finishing on their version, and versions that do not load never served."""

from __future__ import annotations

import pickle
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from aiflow.dsl.components import Predictor
from aiflow.serving.app import create_app
from aiflow.serving.chain import Chain
from aiflow.serving.model_holder import LOAD_FAILED_EVENT, ModelHolder
from aiflow.store.sql_store import MetaStore
from tests.serving.conftest import fit, register, running

MODEL = "clicks"
PREDICT = f"/v1/models/{MODEL}:predict"
BODY = {"instances": [{"f0": 0.5, "f1": -0.2}]}


def eventually(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for ``condition`` (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_alias_moves_under_load_fail_no_request(store: MetaStore) -> None:
    versions = [register(store, MODEL, fit(seed=i)) for i in range(6)]
    store.promote_model_version(MODEL, versions[0])
    app = create_app(store, MODEL, dev=True, poll_interval=0.02)
    results: list[tuple[int, Any]] = []
    stop = threading.Event()

    def fire(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post(PREDICT, json=BODY)
                    results.append((response.status_code, response.json().get("model_version")))
                except httpx.HTTPError as exc:  # a refused or dropped connection is a failure
                    results.append((0, repr(exc)))

    def served(version: int) -> Callable[[], bool]:
        return lambda: (200, version) in results

    with running(app) as url:
        firing = threading.Thread(target=fire, args=(url,))
        firing.start()
        try:
            for version in versions:
                if version != versions[0]:
                    store.promote_model_version(MODEL, version)
                eventually(served(version), f"version {version} served")
        finally:
            stop.set()
            firing.join(10)
        metrics = httpx.get(f"{url}/metrics").text

    failed = [r for r in results if r[0] != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    answered_by = [version for _, version in results]
    assert answered_by == sorted(answered_by), "a request was answered by an older version"
    assert set(answered_by) == set(versions)
    assert "aiflow_serving_swaps_total 5.0" in metrics
    assert f"aiflow_serving_model_version {versions[-1]}.0" in metrics


class Gate(Predictor):
    """``af.Predictor`` that waits for the test to open the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.open = threading.Event()

    def predict(self, batch: pd.DataFrame, model: Any) -> pd.DataFrame:
        self.entered.set()
        assert self.open.wait(20)
        return super().predict(batch, model)


def test_a_request_in_flight_finishes_on_its_version(store: MetaStore) -> None:
    first = register(store, MODEL, fit(seed=1))
    store.promote_model_version(MODEL, first)
    gate = Gate()
    app = create_app(store, MODEL, dev=True, chain=Chain(predictor=gate), poll_interval=60)
    answers: list[httpx.Response] = []
    with running(app) as url:
        in_flight = threading.Thread(
            target=lambda: answers.append(httpx.post(url + PREDICT, json=BODY, timeout=30))
        )
        in_flight.start()
        assert gate.entered.wait(20)
        second = register(store, MODEL, fit(seed=2))
        store.promote_model_version(MODEL, second)
        swapped = app.holder.sync()
        assert swapped is not None and swapped.version == second
        gate.open.set()
        in_flight.join(20)
        after = httpx.post(url + PREDICT, json=BODY)
    assert answers[0].status_code == 200 and answers[0].json()["model_version"] == first
    assert after.status_code == 200 and after.json()["model_version"] == second


# -- versions that do not load -------------------------------------------------------------------


def holder_on(store: MetaStore, version: int) -> ModelHolder:
    store.promote_model_version(MODEL, version)
    holder = ModelHolder(store, MODEL)
    served = holder.sync()
    assert served is not None and served.version == version
    return holder


def test_a_corrupt_artifact_is_marked_failed_and_the_previous_version_kept(
    store: MetaStore,
) -> None:
    """model.pkl replaced by another *valid* pickle after registration: only the checksum can
    tell, and it does."""
    first = register(store, MODEL, fit(seed=1))
    holder = holder_on(store, first)
    second = register(store, MODEL, fit(seed=2))
    artifact = Path(store.get_model_version(MODEL, second).artifact_uri)
    (artifact / "model.pkl").write_bytes(pickle.dumps(fit(seed=3)))
    store.promote_model_version(MODEL, second)

    served = holder.sync()

    assert served is not None and served.version == first
    assert store.get_model_version(MODEL, second).stage == "failed"
    change = store.model_history(MODEL, version=second)[-1]
    assert (change.field, change.to_value, change.actor) == ("stage", "failed", "aiflow serve")
    assert "sha256" in (change.reason or "")
    deployed = store.get_model_version_by_alias(MODEL, "deployed")
    assert deployed is not None and deployed.version == first  # rolled back by the store
    events = [(e.type, e.value) for e in store.list_events(key=MODEL, limit=1000)]
    assert ("MODEL_FAILED", str(second)) in events
    assert (LOAD_FAILED_EVENT, str(second)) in events
    assert holder.metrics.load_failures._value.get() == 1
    assert holder.sync() is served  # not tried again


def test_an_unreadable_pickle_without_checksum_is_marked_failed(store: MetaStore) -> None:
    holder = holder_on(store, register(store, MODEL, fit(seed=1)))
    second = register(store, MODEL, fit(seed=2), checksum=False)
    artifact = Path(store.get_model_version(MODEL, second).artifact_uri)
    (artifact / "model.pkl").write_bytes(b"not a pickle")
    store.promote_model_version(MODEL, second)
    assert holder.sync().version == 1  # type: ignore[union-attr]
    assert store.get_model_version(MODEL, second).stage == "failed"


def test_a_model_of_code_this_process_lacks_is_skipped_not_failed(
    store: MetaStore, tmp_path: Path
) -> None:
    """A pickle naming a module the service cannot import is the service's problem (start it
    with --workflow), not the version's: it is not marked failed for every other reader."""
    (tmp_path / "house_models.py").write_text(
        "class Constant:\n    def predict(self, X):\n        return [7] * len(X)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import house_models

        second_model = house_models.Constant()
        holder = holder_on(store, register(store, MODEL, fit(seed=1)))
        second = register(store, MODEL, second_model)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("house_models", None)
    store.promote_model_version(MODEL, second)
    assert holder.sync().version == 1  # type: ignore[union-attr]
    assert store.get_model_version(MODEL, second).stage == "deployed"
    events = [(e.type, e.value) for e in store.list_events(key=MODEL, limit=1000)]
    assert (LOAD_FAILED_EVENT, str(second)) in events and (
        "MODEL_FAILED",
        str(second),
    ) not in events


def test_another_alias_is_followed_and_kept_while_unset(store: MetaStore) -> None:
    first = register(store, MODEL, fit(seed=1))
    holder = ModelHolder(store, MODEL, alias="canary")
    assert holder.sync() is None  # newest version exists, but no canary: nothing to serve
    store.set_model_alias(MODEL, "canary", first)
    assert holder.sync().version == first  # type: ignore[union-attr]
    second = register(store, MODEL, fit(seed=2))
    store.promote_model_version(MODEL, second)  # deployed moves: canary does not care
    assert holder.sync().version == first  # type: ignore[union-attr]
    store.delete_model_alias(MODEL, "canary")
    assert holder.sync().version == first  # type: ignore[union-attr]
    store.set_model_alias(MODEL, "canary", second)
    assert holder.sync().version == second  # type: ignore[union-attr]


def test_without_deployed_the_serving_rule_applies(store: MetaStore) -> None:
    """No ``deployed`` alias: the newest version neither rejected nor failed, as jobs serve."""
    first = register(store, MODEL, fit(seed=1))
    holder = ModelHolder(store, MODEL)
    assert holder.sync().version == first  # type: ignore[union-attr]
    second = register(store, MODEL, fit(seed=2))
    store.set_model_version_stage(MODEL, second, "rejected")
    assert holder.sync().version == first  # type: ignore[union-attr]
    third = register(store, MODEL, fit(seed=3))
    assert holder.sync().version == third  # type: ignore[union-attr]


# -- preloading candidates -------------------------------------------------------------------------


def test_a_registered_version_is_preloaded_and_swapped_in_without_loading(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = holder_on(store, register(store, MODEL, fit(seed=1)))
    seen = store.list_events(key=MODEL, limit=1000)[-1].seq
    second = register(store, MODEL, fit(seed=2))
    preloaded = holder.preload(store.list_events(after_seq=seen, key=MODEL, limit=1000))
    assert preloaded is not None and preloaded.version == second
    assert holder.current is not None and holder.current.version == 1  # not served yet

    def no_load(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the preloaded version was loaded again")

    monkeypatch.setattr("aiflow.serving.model_holder.load_model", no_load)
    store.promote_model_version(MODEL, second)
    assert holder.sync() is preloaded  # the swap is the assignment


def test_a_newer_candidate_replaces_the_preloaded_one(store: MetaStore) -> None:
    holder = holder_on(store, register(store, MODEL, fit(seed=1)))
    second = register(store, MODEL, fit(seed=2))
    assert holder.preload(store.list_events(key=MODEL, limit=1000)).version == second  # type: ignore[union-attr]
    third = register(store, MODEL, fit(seed=3))
    assert holder.preload(store.list_events(key=MODEL, limit=1000)).version == third  # type: ignore[union-attr]
    store.promote_model_version(MODEL, second)  # not the preloaded one: loaded, preload dropped
    assert holder.sync().version == second  # type: ignore[union-attr]
    assert holder._preloaded is None


def test_a_corrupt_candidate_is_not_marked_until_it_is_to_be_served(store: MetaStore) -> None:
    first = register(store, MODEL, fit(seed=1))
    holder = holder_on(store, first)
    second = register(store, MODEL, fit(seed=2))
    artifact = Path(store.get_model_version(MODEL, second).artifact_uri)
    (artifact / "model.pkl").write_bytes(pickle.dumps(fit(seed=3)))
    assert holder.preload(store.list_events(key=MODEL, limit=1000)) is None
    assert store.get_model_version(MODEL, second).stage != "failed"
    store.promote_model_version(MODEL, second)
    assert holder.sync().version == first  # type: ignore[union-attr]
    assert store.get_model_version(MODEL, second).stage == "failed"


def test_the_watcher_preloads_from_the_event_log(store: MetaStore) -> None:
    holder = holder_on(store, register(store, MODEL, fit(seed=1)))
    holder.poll_interval = 0.01
    holder.start()
    try:
        second = register(store, MODEL, fit(seed=2))
        eventually(
            lambda: holder._preloaded is not None and holder._preloaded.version == second,
            f"version {second} preloaded",
        )
        store.promote_model_version(MODEL, second)
        eventually(lambda: holder.current.version == second, f"version {second} served")  # type: ignore[union-attr]
    finally:
        holder.stop()
