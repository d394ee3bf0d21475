"""The model center in the store: lifecycle moves and their history, rollback, failure,
tags, lineage, comparison, the serving rule, artifact checksums, the 0006 migration and
concurrent promotions -- on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from aiflow.errors import ArtifactCorrupt, InvalidInput, NotFound
from aiflow.schemas.entities import SERVING_ALIAS, ModelChange
from aiflow.store import db, migrations, orm
from aiflow.store.artifacts import artifact_checksum, load_model, save_model
from aiflow.store.sql_store import JobCreate, MetaStore
from tests.store.conftest import StatementCounter

SHA = "ab" * 32


def register(store: MetaStore, model: str = "clf", **kwargs: Any) -> int:
    return store.register_model_version(model, "file:///artifacts/m", "sklearn", **kwargs).version


def changes(store: MetaStore, model: str = "clf", **kwargs: Any) -> list[tuple[Any, ...]]:
    """The history as (version, kind, field, from, to) tuples, oldest first."""
    return [
        (c.version, c.kind, c.field, c.from_value, c.to_value)
        for c in store.model_history(model, **kwargs)
    ]


def stages(store: MetaStore, model: str = "clf") -> dict[int, str]:
    return {v.version: v.stage for v in store.list_model_versions(model)}


def holder(store: MetaStore, model: str = "clf") -> int | None:
    found = store.get_model_version_by_alias(model, SERVING_ALIAS)
    return None if found is None else found.version


def event_values(store: MetaStore, type: str, model: str = "clf") -> list[str]:
    return [e.value for e in store.list_events(key=model, type=type)]


# -- history, promotion, retirement ----------------------------------------------------------------


def test_every_change_is_recorded_in_order_with_who_and_why(store: MetaStore) -> None:
    register(store, actor="job:7")
    register(store)
    store.set_model_version_stage(
        "clf", 1, "validated", reason="auc above 0.9", metrics={"auc": 0.93}, actor="alice"
    )
    store.promote_model_version("clf", 1, reason="first release", actor="alice")
    store.promote_model_version("clf", 2, metrics={"auc": 0.95}, actor="token:ci")
    store.tag_model_version("clf", 2, "owner", "team-a", actor="bob")

    history = store.model_history("clf")
    assert [(c.version, c.kind, c.field, c.from_value, c.to_value) for c in history] == [
        (1, "stage", "stage", None, "generated"),
        (2, "stage", "stage", None, "generated"),
        (1, "stage", "stage", "generated", "validated"),
        (1, "alias", "deployed", None, "1"),
        (1, "stage", "stage", "validated", "deployed"),
        (2, "alias", "deployed", "1", "2"),
        (2, "stage", "stage", "generated", "deployed"),
        (1, "stage", "stage", "deployed", "retired"),
        (2, "tag", "owner", None, "team-a"),
    ]
    assert [c.actor for c in history] == ["job:7", "aiflow", "alice", "alice", "alice"] + [
        "token:ci"
    ] * 3 + ["bob"]
    assert [c.seq for c in history] == sorted({c.seq for c in history})  # strictly increasing
    assert history[2].reason == "auc above 0.9" and history[2].metrics == {"auc": 0.93}
    assert history[3].reason == history[4].reason == "first release"
    assert history[5].metrics == {"auc": 0.95} and history[5].reason is None
    assert history[7].reason == "replaced by version 2"
    assert all(isinstance(c, ModelChange) and c.model_name == "clf" for c in history)

    assert changes(store, version=1) == [
        c for c in changes(store) if c[0] == 1
    ]  # one version's changes
    assert changes(store, limit=2) == changes(store)[-2:]  # the newest, still oldest first
    with pytest.raises(NotFound, match="version 9"):
        store.model_history("clf", version=9)
    with pytest.raises(NotFound, match="model 'nope'"):
        store.model_history("nope")
    with pytest.raises(InvalidInput, match="limit"):
        store.model_history("clf", limit=0)


def test_promotion_moves_the_alias_and_the_stages_together(store: MetaStore) -> None:
    for _ in range(3):
        register(store)
    promoted = store.promote_model_version("clf", 1)
    assert (promoted.stage, promoted.aliases) == ("deployed", [SERVING_ALIAS])
    store.set_model_alias("clf", SERVING_ALIAS, 2)  # the same path under its older name
    assert stages(store) == {1: "retired", 2: "deployed", 3: "generated"}
    assert event_values(store, "MODEL_ALIAS_SET") == ["deployed=1", "deployed=2"]
    assert event_values(store, "MODEL_DEPLOYED") == ["1", "2"]
    assert event_values(store, "MODEL_RETIRED") == ["1"]

    before = changes(store)
    again = store.promote_model_version("clf", 2, reason="again")
    assert (again.version, again.stage) == (2, "deployed")
    assert changes(store) == before  # already holds it: nothing recorded
    assert event_values(store, "MODEL_ALIAS_SET") == ["deployed=1", "deployed=2"]

    # another alias moves alone: no stage changes
    store.promote_model_version("clf", 3, alias="champion")
    assert stages(store) == {1: "retired", 2: "deployed", 3: "generated"}
    assert changes(store)[-1] == (3, "alias", "champion", None, "3")

    with pytest.raises(InvalidInput, match="alias '7'"):
        store.promote_model_version("clf", 3, alias="7")
    with pytest.raises(NotFound, match="version 9"):
        store.promote_model_version("clf", 9)
    with pytest.raises(InvalidInput, match="metric 'auc'"):
        store.promote_model_version("clf", 3, metrics={"auc": float("nan")})
    with pytest.raises(InvalidInput, match="actor"):
        store.promote_model_version("clf", 3, actor="")


def test_rejected_or_failed_versions_cannot_be_deployed(store: MetaStore) -> None:
    register(store)
    register(store)
    store.set_model_version_stage("clf", 1, "rejected", reason="auc 0.4")
    store.mark_model_version_failed("clf", 2, reason="push failed")
    for version, stage in ((1, "rejected"), (2, "failed")):
        expected = f"model 'clf' version {version} is {stage}, so it cannot take alias 'deployed'"
        with pytest.raises(InvalidInput, match=expected):
            store.promote_model_version("clf", version)
        with pytest.raises(InvalidInput, match=expected):
            store.set_model_version_stage("clf", version, "deployed")
    assert holder(store) is None
    store.promote_model_version("clf", 1, alias="champion")  # other aliases: any version
    store.set_model_version_stage("clf", 1, "validated", reason="re-evaluated")
    assert store.promote_model_version("clf", 1).stage == "deployed"


def test_rejecting_the_served_version_hands_the_alias_back(store: MetaStore) -> None:
    register(store)
    register(store)
    store.promote_model_version("clf", 1)
    store.promote_model_version("clf", 2)
    # other stages are labels: the served version stays served
    assert store.set_model_version_stage("clf", 2, "validated").aliases == [SERVING_ALIAS]
    assert store.set_model_version_stage("clf", 2, "deployed").stage == "deployed"
    rejected = store.set_model_version_stage("clf", 2, "rejected", reason="drift", actor="eve")
    assert (rejected.stage, rejected.aliases) == ("rejected", [])
    assert holder(store) == 1 and stages(store) == {1: "deployed", 2: "rejected"}
    last = store.model_history("clf")[-3:]
    assert [(c.version, c.kind, c.from_value, c.to_value) for c in last] == [
        (2, "stage", "deployed", "rejected"),
        (1, "alias", "2", "1"),
        (1, "stage", "retired", "deployed"),
    ]
    assert {(c.actor, c.reason) for c in last} == {("eve", "drift")}
    assert event_values(store, "MODEL_REJECTED") == ["2"]


def test_deleting_the_deployed_alias_retires_its_holder(store: MetaStore) -> None:
    register(store)
    register(store)
    store.promote_model_version("clf", 1)
    store.delete_model_alias("clf", SERVING_ALIAS, actor="alice", reason="incident 42")
    assert changes(store)[-2:] == [
        (1, "alias", "deployed", "1", None),
        (1, "stage", "stage", "deployed", "retired"),
    ]
    assert store.model_history("clf")[-1].actor == "alice"
    assert holder(store) is None and stages(store) == {1: "retired", 2: "generated"}
    serving = store.serving_version("clf")
    assert serving is not None and serving.version == 2  # the newest again
    assert event_values(store, "MODEL_ALIAS_DELETED") == ["deployed"]


# -- rollback and failure --------------------------------------------------------------------------


def test_rollback_is_an_undo_recorded_like_any_promotion(store: MetaStore) -> None:
    for version in (1, 2, 3):
        register(store)
        store.promote_model_version("clf", version)
    back = store.roll_back_alias("clf", actor="alice")
    assert (back.version, back.stage) == (2, "deployed")
    assert stages(store) == {1: "retired", 2: "deployed", 3: "retired"}
    last = store.model_history("clf")[-3:]
    assert [(c.version, c.kind, c.from_value, c.to_value) for c in last] == [
        (2, "alias", "3", "2"),
        (2, "stage", "retired", "deployed"),
        (3, "stage", "deployed", "retired"),
    ]
    assert last[0].reason == "rolled back from version 3" and last[0].actor == "alice"
    assert store.roll_back_alias("clf", reason="it was fine").version == 3  # undo the undo
    assert store.model_history("clf")[-3].reason == "it was fine"

    # a version that failed since is skipped
    store.mark_model_version_failed("clf", 2, reason="artifact gone")
    assert store.roll_back_alias("clf").version == 1
    with pytest.raises(InvalidInput, match="no 'champion' alias to roll back"):
        store.roll_back_alias("clf", "champion")


def test_rollback_needs_another_version_that_may_take_the_alias(store: MetaStore) -> None:
    register(store)
    register(store)
    store.promote_model_version("clf", 1)
    with pytest.raises(InvalidInput, match="pointed at no version other than 1"):
        store.roll_back_alias("clf")
    store.promote_model_version("clf", 2)
    store.set_model_version_stage("clf", 1, "rejected")
    with pytest.raises(InvalidInput, match="nothing to roll back to"):
        store.roll_back_alias("clf")
    assert holder(store) == 2


def test_a_failed_deployed_version_hands_the_alias_back(store: MetaStore) -> None:
    for _ in range(3):
        register(store)
    store.promote_model_version("clf", 1)
    store.promote_model_version("clf", 3)
    failed = store.mark_model_version_failed("clf", 3, reason="checksum mismatch", actor="job:12")
    assert (failed.stage, failed.aliases) == ("failed", [])
    assert holder(store) == 1
    assert stages(store) == {1: "deployed", 2: "generated", 3: "failed"}
    last = store.model_history("clf")[-3:]
    assert [(c.version, c.kind, c.field, c.from_value, c.to_value) for c in last] == [
        (3, "stage", "stage", "deployed", "failed"),
        (1, "alias", "deployed", "3", "1"),
        (1, "stage", "stage", "retired", "deployed"),
    ]
    assert {(c.actor, c.reason) for c in last} == {("job:12", "checksum mismatch")}
    assert event_values(store, "MODEL_FAILED") == ["3"]
    assert event_values(store, "MODEL_ALIAS_SET")[-1] == "deployed=1"

    # failing it again changes nothing; failing a version not deployed moves no alias
    before = changes(store)
    store.mark_model_version_failed("clf", 3, reason="again")
    assert changes(store) == before
    store.set_model_version_stage("clf", 2, "failed", reason="push failed")
    assert holder(store) == 1 and changes(store)[-1] == (2, "stage", "stage", "generated", "failed")

    # no previous holder left: the alias is removed, the newest servable version is served
    store.mark_model_version_failed("clf", 1, reason="broken too")
    assert holder(store) is None
    assert changes(store)[-1] == (1, "alias", "deployed", "1", None)
    assert store.serving_pointer("clf") is None  # every version failed


# -- tags, lineage, comparison ---------------------------------------------------------------------


def test_tags_are_set_changed_removed_and_recorded(store: MetaStore) -> None:
    register(store)
    assert store.tag_model_version("clf", 1, "owner", "a").tags == {"owner": "a"}
    store.tag_model_version("clf", 1, "ticket", "JIRA-1")
    store.tag_model_version("clf", 1, "owner", "b", actor="bob")
    store.tag_model_version("clf", 1, "owner", "b")  # same value: nothing recorded
    assert store.tag_model_version("clf", 1, "ticket", None).tags == {"owner": "b"}
    assert store.get_model_version("clf", 1).tags == {"owner": "b"}
    assert [c for c in changes(store) if c[1] == "tag"] == [
        (1, "tag", "owner", None, "a"),
        (1, "tag", "ticket", None, "JIRA-1"),
        (1, "tag", "owner", "a", "b"),
        (1, "tag", "ticket", "JIRA-1", None),
    ]
    with pytest.raises(InvalidInput, match="tag key 'a b'"):
        store.tag_model_version("clf", 1, "a b", "x")
    with pytest.raises(InvalidInput, match="tag 'k': value"):
        store.tag_model_version("clf", 1, "k", "line\nbreak")
    with pytest.raises(NotFound, match="version 2"):
        store.tag_model_version("clf", 2, "k", "v")


def new_execution(store: MetaStore, workflow: str = "wf") -> tuple[int, int]:
    """An execution of a new version of ``workflow`` with one job: (execution id, job id)."""
    version = store.register_workflow_version(workflow, {}, "p", workflow, "file:///snap", [])
    job = JobCreate(name="train", engine="local", spec={})
    execution = store.create_execution(version.id, "batch", "local", "local", [job])
    return execution.id, store.list_jobs(execution.id)[0].id


def test_lineage_follows_the_parent_chain_and_the_run(store: MetaStore) -> None:
    execution_id, job_id = new_execution(store)
    data = {"data": [{"example": "clicks", "uri": "data/h.csv", "fingerprint": "sha256:1"}]}
    register(store)
    register(store, parent_version=1)
    third = store.register_model_version(
        "clf", "file:///a/3", "sklearn", execution_id=execution_id, job_id=job_id,
        node_id="train", parent_version=2, checksum=SHA.upper(), lineage=data,
    )  # fmt: skip
    assert (third.parent_version, third.checksum, third.lineage) == (2, SHA, data)

    lineage = store.model_lineage("clf", 3)
    assert (lineage.model_name, lineage.version, lineage.parent_version) == ("clf", 3, 2)
    assert lineage.ancestors == [2, 1]
    assert (lineage.workflow, lineage.workflow_version) == ("wf", 1)
    assert (lineage.execution_id, lineage.job_id, lineage.node_id) == (
        execution_id,
        job_id,
        "train",
    )
    assert lineage.data == data
    first = store.model_lineage("clf", 1)
    assert (first.ancestors, first.workflow, first.data) == ([], None, {})

    with pytest.raises(NotFound, match="model 'clf' version 7"):
        register(store, parent_version=7)
    with pytest.raises(NotFound, match="version 9"):
        store.model_lineage("clf", 9)


def test_registration_checks_what_it_records(store: MetaStore) -> None:
    with pytest.raises(InvalidInput, match="checksum 'abc' is not a sha256"):
        register(store, checksum="abc")
    with pytest.raises(InvalidInput, match="lineage must be a JSON object"):
        register(store, lineage={"when": object()})
    with pytest.raises(InvalidInput, match="cannot be registered at stage 'deployed'"):
        register(store, stage="deployed")
    assert store.list_models() == []  # nothing written
    version = store.register_model_version("clf", "file:///a", "pickle", stage="validated")
    assert (version.parent_version, version.checksum, version.lineage, version.tags) == (
        None,
        None,
        {},
        {},
    )
    assert changes(store) == [(1, "stage", "stage", None, "validated")]


def test_compare_shows_metrics_side_by_side_and_lineage_differences(store: MetaStore) -> None:
    first_run, _ = new_execution(store, "wf_a")
    second_run, _ = new_execution(store, "wf_b")
    window = {"window": {"records": 200, "micro_batches": ["part-1.csv"], "source": "read"}}
    a = store.register_model_version(
        "clf", "file:///a/1", "sklearn", execution_id=first_run, lineage={"data": ["x"]}
    )
    b = store.register_model_version(
        "clf", "file:///a/2", "sklearn", execution_id=second_run, parent_version=1,
        lineage={"data": ["y"], **window},
    )  # fmt: skip
    store.log_metrics({"auc": 0.9, "loss": 0.3}, model_version_id=a.id)
    store.log_metrics({"auc": 0.95, "f1": 0.7}, model_version_id=b.id)

    compared = store.compare_model_versions("clf", 1, 2)
    assert (compared.model_name, compared.versions) == ("clf", (1, 2))
    assert compared.metrics == {"auc": (0.9, 0.95), "f1": (None, 0.7), "loss": (0.3, None)}
    assert compared.lineage_diff == {
        "workflow": ("wf_a", "wf_b"),
        "execution_id": (first_run, second_run),
        "parent_version": (None, 1),
        "lineage.data": (["x"], ["y"]),
        "lineage.window": (None, window["window"]),
    }
    assert store.compare_model_versions("clf", 2, 2).lineage_diff == {}
    with pytest.raises(NotFound, match="version 3"):
        store.compare_model_versions("clf", 1, 3)


# -- what is served --------------------------------------------------------------------------------


def test_without_the_alias_the_newest_servable_version_is_served(store: MetaStore) -> None:
    register(store)
    register(store, checksum=SHA)
    register(store)
    store.set_model_version_stage("clf", 3, "rejected")
    for lookup in (store.serving_pointer, store.serving_version):
        found = lookup("clf")
        assert found is not None and found.version == 2
    pointer = store.serving_pointer("clf")
    assert pointer is not None and (pointer.checksum, pointer.deployed) == (SHA, False)
    store.mark_model_version_failed("clf", 2, reason="does not load")
    pointer = store.serving_pointer("clf")
    assert pointer is not None and pointer.version == 1
    store.set_model_version_stage("clf", 1, "rejected")
    assert store.serving_pointer("clf") is None and store.serving_version("clf") is None
    store.set_model_version_stage("clf", 3, "validated")
    store.promote_model_version("clf", 3)
    pointer = store.serving_pointer("clf")
    assert pointer is not None and (pointer.version, pointer.deployed) == (3, True)


def test_entities_with_the_new_fields_keep_a_fixed_query_count(
    store: MetaStore, sql_statements: StatementCounter
) -> None:
    for version in range(1, 21):
        register(store, parent_version=version - 1 or None, checksum=SHA, lineage={"n": version})
        store.tag_model_version("clf", version, "n", str(version))
    store.promote_model_version("clf", 5)
    with sql_statements() as statements:
        versions = store.list_model_versions("clf")
    assert len(statements) <= 5, statements  # BEGIN + model + versions + aliases + metrics
    five = versions[20 - 5]
    assert (five.parent_version, five.checksum, five.lineage, five.tags) == (
        4,
        SHA,
        {"n": 5},
        {"n": "5"},
    )


# -- artifacts -------------------------------------------------------------------------------------


def test_artifact_checksum_is_recorded_and_verified(tmp_path: Path) -> None:
    uri, _ = save_model({"w": [1, 2]}, "m", str(tmp_path))
    pkl = Path(uri.removeprefix("file://")) / "model.pkl"
    digest = hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert json.loads((pkl.parent / "meta.json").read_text())["sha256"] == digest
    assert artifact_checksum(uri) == digest
    assert load_model(uri, checksum=digest) == {"w": [1, 2]}
    assert load_model(uri) == {"w": [1, 2]}

    pkl.write_bytes(pkl.read_bytes() + b"tampered")
    with pytest.raises(ArtifactCorrupt, match=f"{uri}.*expected {digest}") as caught:
        load_model(uri, checksum=digest)
    found = hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert (caught.value.uri, caught.value.expected, caught.value.found) == (uri, digest, found)
    assert caught.value.code == "artifact_corrupt" and caught.value.status == 409

    pkl.write_bytes(pkl.read_bytes()[:5])
    with pytest.raises(ArtifactCorrupt, match="not a readable pickle"):
        load_model(uri)
    pkl.unlink()
    with pytest.raises(ArtifactCorrupt, match=r"model\.pkl does not exist"):
        load_model(uri, checksum=digest)


def test_checksum_of_an_artifact_saved_before_checksums(tmp_path: Path) -> None:
    uri, _ = save_model([1], "m", str(tmp_path))
    root = Path(uri.removeprefix("file://"))
    meta = json.loads((root / "meta.json").read_text())
    del meta["sha256"]
    (root / "meta.json").write_text(json.dumps(meta))
    assert artifact_checksum(uri) == hashlib.sha256((root / "model.pkl").read_bytes()).hexdigest()
    (root / "meta.json").write_text("{not json")
    with pytest.raises(ArtifactCorrupt, match=r"cannot read its meta\.json"):
        artifact_checksum(uri)


# -- the 0006 migration ----------------------------------------------------------------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def empty_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def test_migration_renames_stages_and_keeps_alias_history(empty_uri: str) -> None:
    """0006: production -> deployed, deprecated -> retired (and the trigger rules waiting for
    their events), and the alias moves already in the event log become history a rollback
    walks."""
    migrations.upgrade(empty_uri, "0005")
    now = orm.utcnow()
    with db.get_engine(empty_uri).begin() as connection:
        connection.execute(insert(orm.SqlModel), {"id": 1, "name": "m", "created_at": now})
        connection.execute(
            insert(orm.SqlModelVersion),
            [
                {"id": v, "model_id": 1, "version": v, "artifact_uri": "a", "flavor": "f"}
                | {"stage": s, "created_at": now}
                for v, s in ((1, "deprecated"), (2, "production"), (3, "validated"))
            ],
        )
        connection.execute(
            insert(orm.SqlModelAlias),
            {"model_id": 1, "alias": "deployed", "model_version_id": 2, "updated_at": now},
        )
        connection.execute(
            insert(orm.SqlEvent),
            [
                {"key": key, "type": f"MODEL_ALIAS_{kind}", "value": value, "created_at": now}
                for key, kind, value in (
                    ("m", "SET", "deployed=1"),
                    ("m", "SET", "champion=3"),
                    ("m", "DELETED", "champion"),
                    ("m", "SET", "deployed=2"),
                    ("gone", "SET", "deployed=9"),  # a model that is not in the store
                )
            ],
        )
        connection.execute(insert(orm.SqlWorkflow), {"id": 1, "name": "w", "created_at": now})
        connection.execute(
            insert(orm.SqlTrigger),
            [
                {"name": f"t{i}", "workflow_id": 1, "kind": "event", "event_type": event}
                | {"mode": "batch", "enabled": True, "created_at": now, "updated_at": now}
                for i, event in enumerate(("MODEL_PRODUCTION", "MODEL_DEPRECATED"))
            ],
        )
    migrations.upgrade(empty_uri)
    store = MetaStore(empty_uri)
    try:
        assert stages(store, "m") == {1: "retired", 2: "deployed", 3: "validated"}
        assert [t.event_type for t in store.list_triggers()] == ["MODEL_DEPLOYED", "MODEL_RETIRED"]
        assert changes(store, "m") == [
            (1, "alias", "deployed", None, "1"),
            (3, "alias", "champion", None, "3"),
            (3, "alias", "champion", "3", None),
            (2, "alias", "deployed", "1", "2"),
        ]
        assert store.model_history("m")[0].actor == "aiflow"
        assert store.roll_back_alias("m").version == 1
        assert stages(store, "m") == {1: "deployed", 2: "retired", 3: "validated"}
        store.set_model_version_stage("m", 3, "rejected")
    finally:
        store.dispose()

    migrations.downgrade(empty_uri, "0005")
    with db.get_engine(empty_uri).connect() as connection:
        found = connection.execute(select(orm.SqlModelVersion.version, orm.SqlModelVersion.stage))
        assert {v: s for v, s in found} == {1: "production", 2: "deprecated", 3: "rejected"}


# -- concurrent promotions -------------------------------------------------------------------------

PROMOTERS = 50


def _promote(uri: str, version: int, barrier: Any, errors: Any) -> None:
    """Runs in its own process: wait until every promoter is ready, then promote."""
    try:
        store = MetaStore(uri)
        store.list_models()  # connect and check the schema before the race, not in it
        barrier.wait(timeout=120)
        store.promote_model_version("race", version, actor=f"p{version}")
        store.dispose()
    except BaseException:
        errors.put(f"version {version}: {traceback.format_exc()}")
        raise


def test_concurrent_promotions_leave_one_holder_and_a_chained_history(store_uri: str) -> None:
    """50 processes promote 50 different versions at once: the lock on the model row queues
    them, so exactly one version ends up deployed and the alias's history is one chain."""
    store = MetaStore(store_uri)
    for _ in range(PROMOTERS):
        register(store, "race")
    store.dispose()  # no connection of this process is inherited by the promoters

    context = multiprocessing.get_context("fork")  # 50 spawned interpreters would take long
    barrier, errors = context.Barrier(PROMOTERS), context.Queue()
    processes = [
        context.Process(target=_promote, args=(store_uri, v, barrier, errors))
        for v in range(1, PROMOTERS + 1)
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=240)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
    reported = [errors.get(timeout=5) for _ in range(errors.qsize())]
    assert [p.exitcode for p in processes] == [0] * PROMOTERS, reported

    store = MetaStore(store_uri)
    try:
        versions = store.list_model_versions("race")
        deployed = [v.version for v in versions if SERVING_ALIAS in v.aliases]
        assert len(deployed) == 1
        assert [v.version for v in versions if v.stage == "deployed"] == deployed
        assert sorted(v.stage for v in versions) == ["deployed"] + ["retired"] * (PROMOTERS - 1)

        history = store.model_history("race")[PROMOTERS:]  # after the registrations
        moves = [c for c in history if c.kind == "alias"]
        assert len(moves) == PROMOTERS
        assert [c.from_value for c in moves] == [None] + [c.to_value for c in moves[:-1]]
        assert moves[-1].to_value == str(deployed[0])
        assert sorted(int(c.to_value or 0) for c in moves) == list(range(1, PROMOTERS + 1))
        assert all(c.actor == f"p{c.version}" for c in moves)
        # each promotion's rows are contiguous: alias, new holder deployed, old one retired
        for index, move in enumerate(history):
            if move.kind != "alias":
                continue
            rows = [(move.version, "generated", "deployed")]
            if move.from_value is not None:
                rows.append((int(move.from_value), "deployed", "retired"))
            following = history[index + 1 : index + 1 + len(rows)]
            assert [(c.version, c.from_value, c.to_value) for c in following] == rows
            assert {c.actor for c in following} == {move.actor}
        sets = store.list_events(key="race", type="MODEL_ALIAS_SET", limit=PROMOTERS + 1)
        assert [e.value for e in sets] == [f"deployed={c.to_value}" for c in moves]
    finally:
        store.dispose()
