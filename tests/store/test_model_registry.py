"""Contract tests of MetaStore's model registry and metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import SERVING_ALIAS, STAGES, ModelVersion
from aiflow.store.sql_store import JobCreate, MetaStore


def register(store: MetaStore, model: str = "clf", **kwargs):
    return store.register_model_version(model, "file:///artifacts/m", "sklearn", **kwargs)


def version_of(found: ModelVersion | None) -> int | None:
    return None if found is None else found.version


def new_execution(store: MetaStore, node: str = "train") -> tuple[int, int]:
    """An execution with one job; returns (execution id, job id)."""
    version = store.register_workflow_version("wf", {}, "p", "s", "file:///snap", [])
    job = JobCreate(name=node, engine="local", spec={})
    execution = store.create_execution(version.id, "batch", "local", "local", [job])
    return execution.id, store.list_jobs(execution.id)[0].id


def _register_versions(uri: str, count: int) -> list[int]:
    """Runs in a separate process (multiprocessing, spawn)."""
    store = MetaStore(uri)
    try:
        return [register(store, "shared").version for _ in range(count)]
    finally:
        store.dispose()


def test_models_are_get_or_create(store: MetaStore) -> None:
    created = store.create_model("clf", "a classifier")
    assert store.create_model("clf") == created  # no description: the stored one stays
    assert store.create_model("clf", "better words").description == "better words"
    assert store.get_model("clf").id == created.id
    assert [m.name for m in store.list_models()] == ["clf"]
    with pytest.raises(NotFound, match=r"model 'nope' not found \(see `aiflow model list`\)"):
        store.get_model("nope")
    with pytest.raises(InvalidInput, match="model name"):
        store.create_model("")


def test_versions_are_numbered_and_announced(store: MetaStore) -> None:
    execution_id, job_id = new_execution(store)
    first = register(store, execution_id=execution_id, job_id=job_id, node_id="train")
    second = register(store)
    assert (first.version, second.version, register(store, "other").version) == (1, 2, 1)
    assert (first.execution_id, first.job_id, first.node_id) == (execution_id, job_id, "train")
    assert (first.stage, first.aliases, first.metrics) == ("generated", [], {})
    assert store.get_model("clf").id == first.model_id  # created on first registration
    assert store.get_model_version("clf", 1) == first
    assert [v.version for v in store.list_model_versions("clf")] == [2, 1]
    events = store.list_events(type="MODEL_GENERATED")
    assert [(e.key, e.value) for e in events] == [("clf", "1"), ("clf", "2"), ("other", "1")]

    with pytest.raises(NotFound, match=r"model 'clf' version 7 not found \(see `aiflow model"):
        store.get_model_version("clf", 7)
    with pytest.raises(NotFound, match="execution 999"):
        register(store, execution_id=999)
    with pytest.raises(InvalidInput, match="stage 'prod'"):
        register(store, stage="prod")
    assert version_of(store.latest_model_version("clf")) == 2


def test_concurrent_registrations_get_distinct_gapless_versions(store: MetaStore) -> None:
    def five(_: int) -> list[int]:
        return [register(store, "busy").version for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        versions = [v for batch in pool.map(five, range(8)) for v in batch]
    assert sorted(versions) == list(range(1, 41))
    assert [v.version for v in store.list_model_versions("busy")] == list(range(40, 0, -1))


def test_concurrent_registrations_across_processes(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    MetaStore(uri).list_models()  # migrate once up front; the race under test is registration
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_register_versions, [(uri, 10), (uri, 10)])
    assert sorted(results[0] + results[1]) == list(range(1, 21))


def test_latest_model_version_filters_by_execution_and_node(store: MetaStore) -> None:
    assert store.latest_model_version("clf") is None  # no such model yet
    execution_id, _ = new_execution(store)
    register(store, execution_id=execution_id, node_id="train_a")
    register(store, execution_id=execution_id, node_id="train_b")
    register(store)
    latest = store.latest_model_version
    assert version_of(latest("clf")) == 3
    assert version_of(latest("clf", execution_id=execution_id)) == 2
    by_node = latest("clf", execution_id=execution_id, node_id="train_a")
    assert by_node is not None and by_node.version == 1
    assert latest("clf", node_id="missing") is None


def test_aliases_move_and_decide_the_serving_version(store: MetaStore) -> None:
    assert store.serving_version("clf") is None
    store.create_model("clf")
    assert store.serving_version("clf") is None  # a model without versions
    for _ in range(3):
        register(store)
    assert version_of(store.serving_version("clf")) == 3  # no alias: the newest

    assert store.set_model_alias("clf", "deployed", 1).aliases == ["deployed"]
    store.set_model_alias("clf", "champion", 1)
    assert version_of(store.serving_version("clf")) == 1
    moved = store.set_model_alias("clf", "deployed", 2)
    assert (moved.version, moved.aliases) == (2, ["deployed"])
    assert store.get_model_version("clf", 1).aliases == ["champion"]
    assert version_of(store.get_model_version_by_alias("clf", "deployed")) == 2
    assert store.get_model_version_by_alias("clf", "nope") is None
    assert store.get_model_version_by_alias("nope", "deployed") is None

    store.delete_model_alias("clf", "deployed")
    assert version_of(store.serving_version("clf")) == 3
    with pytest.raises(NotFound, match="alias 'deployed' not found for model 'clf'"):
        store.delete_model_alias("clf", "deployed")
    with pytest.raises(NotFound, match="version 9"):
        store.set_model_alias("clf", "deployed", 9)
    with pytest.raises(InvalidInput, match="alias '3'"):
        store.set_model_alias("clf", "3", 1)
    events = [(e.type, e.value) for e in store.list_events(key="clf") if "ALIAS" in e.type]
    assert events == [
        ("MODEL_ALIAS_SET", "deployed=1"),
        ("MODEL_ALIAS_SET", "champion=1"),
        ("MODEL_ALIAS_SET", "deployed=2"),
        ("MODEL_ALIAS_DELETED", "deployed"),
    ]


def test_stages_change_with_an_event(store: MetaStore) -> None:
    register(store)
    assert store.set_model_version_stage("clf", 1, "validated").stage == "validated"
    assert store.get_model_version("clf", 1).stage == "validated"
    assert [e.value for e in store.list_events(type="MODEL_VALIDATED")] == ["1"]
    with pytest.raises(InvalidInput, match="stage 'shiny'"):
        store.set_model_version_stage("clf", 1, "shiny")
    # the stage `deployed` goes with the serving alias: setting it promotes the version
    deployed = store.set_model_version_stage("clf", 1, "deployed")
    assert (deployed.stage, deployed.aliases) == ("deployed", [SERVING_ALIAS])
    assert [e.value for e in store.list_events(type="MODEL_DEPLOYED")] == ["1"]
    assert STAGES == ("generated", "validated", "rejected", "deployed", "retired", "failed")
    for renamed, now in (("production", "deployed"), ("deprecated", "retired")):
        with pytest.raises(InvalidInput, match=f"stage '{renamed}' is now called '{now}'"):
            store.set_model_version_stage("clf", 1, renamed)


def test_serving_version_and_pointer_follow_one_rule(store: MetaStore) -> None:
    """The alias ``deployed`` picks the version, else the newest: both lookups agree."""
    assert store.serving_pointer("clf") is None and store.serving_version("clf") is None
    for _ in range(3):
        register(store)
    for target in (None, 1, 2):
        if target is not None:
            store.set_model_alias("clf", SERVING_ALIAS, target)
        full, pointer = store.serving_version("clf"), store.serving_pointer("clf")
        assert full is not None and pointer is not None
        assert (full.id, full.version) == (pointer.id, pointer.version)
        assert pointer.version == (target or 3)
        assert pointer.deployed == (target is not None)
        assert full.aliases == ([SERVING_ALIAS] if target else [])


def test_metrics_keep_history_and_versions_show_the_newest(store: MetaStore) -> None:
    execution_id, job_id = new_execution(store)
    v1, v2 = register(store), register(store)
    store.log_metrics({"loss": 0.9, "acc": 0.5}, model_version_id=v1.id, step=1)
    store.log_metrics({"loss": 0.4}, model_version_id=v1.id, execution_id=execution_id,
                      job_id=job_id, step=2)  # fmt: skip
    store.log_metrics({"acc": 1}, model_version_id=v2.id)

    assert store.get_model_version("clf", 1).metrics == {"acc": 0.5, "loss": 0.4}
    assert store.get_model_version("clf", 2).metrics == {"acc": 1.0}
    history = store.list_metrics(model_version_id=v1.id)
    assert [(m.name, m.value, m.step) for m in history] == [
        ("loss", 0.9, 1), ("acc", 0.5, 1), ("loss", 0.4, 2),
    ]  # fmt: skip
    (by_execution,) = store.list_metrics(execution_id=execution_id)
    assert (by_execution.value, by_execution.job_id) == (0.4, job_id)
    assert len(store.list_metrics()) == 4
    assert store.list_model_version_metrics("clf", 1) == history  # what the API lists
    assert store.list_execution_metrics(execution_id) == [by_execution]
    with pytest.raises(NotFound, match="version 3"):
        store.list_model_version_metrics("clf", 3)
    with pytest.raises(NotFound, match="execution 999"):
        store.list_execution_metrics(999)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "0.9", None, True])
def test_non_finite_or_non_numeric_metrics_are_rejected(store: MetaStore, bad: object) -> None:
    version = register(store)
    with pytest.raises(InvalidInput, match="metric 'auc'"):
        store.log_metrics({"ok": 1.0, "auc": bad}, model_version_id=version.id)  # type: ignore[dict-item]
    assert store.list_metrics() == []  # nothing written, not even the valid one


def test_metrics_need_an_existing_owner(store: MetaStore) -> None:
    with pytest.raises(InvalidInput, match="need a model_version_id"):
        store.log_metrics({"acc": 1.0})
    with pytest.raises(NotFound, match="model version id 99"):
        store.log_metrics({"acc": 1.0}, model_version_id=99)


def test_list_model_versions_uses_a_constant_number_of_queries(
    store: MetaStore, sql_statements
) -> None:
    for version in range(1, 51):
        mv = register(store)
        store.log_metrics({"acc": version / 100, "loss": 1 - version / 100}, model_version_id=mv.id)
        store.log_metrics({"acc": version / 50}, model_version_id=mv.id)
    store.set_model_alias("clf", "deployed", 7)
    with sql_statements() as statements:
        versions = store.list_model_versions("clf")
    assert len(versions) == 50
    seven = versions[50 - 7]
    assert (seven.version, seven.aliases) == (7, ["deployed"])
    assert seven.metrics == {"acc": 7 / 50, "loss": 1 - 7 / 100}  # newest per name
    assert len(statements) <= 5, statements  # BEGIN + model + versions + aliases + metrics
