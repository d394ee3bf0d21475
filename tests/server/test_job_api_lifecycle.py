"""The job API's model-lifecycle routes: a job under a server validates and pushes through its
own token, only for models its validate or push nodes decide on, recorded as ``job:<id>``; it
may send user events but not forge the platform's."""

from __future__ import annotations

from typing import Any

import pytest

from aiflow.errors import Forbidden, InvalidInput
from aiflow.plan.model import ComponentRef, Node, NodeKind
from aiflow.schemas.entities import JobStatus
from aiflow.store.sql_store import JobCreate, MetaStore
from aiflow.translators.job_store import JobApiClient
from aiflow.translators.physical import JobSpec
from tests.server import seed
from tests.server.conftest import ApiServer, unique

REF = ComponentRef(module="file:workflow.py", qualname="T")


def _job(name: str, workflow: str, nodes: list[Node]) -> JobCreate:
    spec = JobSpec(name=name, workflow=workflow, mode="batch", engine="local", nodes=nodes)
    return JobCreate(name=name, engine="local", spec=spec.model_dump(mode="json"))


@pytest.fixture
def clients(api: ApiServer) -> tuple[MetaStore, str, JobApiClient, JobApiClient, int]:
    """A model with versions 1 (deployed) and 2, a running ``decide`` job (validate + push of
    the model) and a running ``serve`` job (predict only), with a client for each."""
    store = MetaStore(api.store_uri)
    model = unique("ctr")
    store.register_model_version(model, "/a1", "pickle")
    store.promote_model_version(model, 1)
    store.register_model_version(model, "/a2", "pickle")
    [version] = seed.workflow(store)
    decide = _job(
        "decide",
        version.workflow_name,
        [
            Node(id="validate", kind=NodeKind.VALIDATE, component=REF, model=model),
            Node(id="push", kind=NodeKind.PUSH, model=model),
        ],
    )
    serve = _job(
        "serve", version.workflow_name, [Node(id="predict", kind=NodeKind.PREDICT, model=model)]
    )
    execution = store.create_execution(version.id, "batch", "local", "local", [decide, serve])
    jobs = store.list_jobs(execution.id)
    for job in jobs:
        assert store.transition_job(job.id, JobStatus.RUNNING, attempt=1)
    decider, server = (JobApiClient(api.url, store.create_job_token(j.id, 1)) for j in jobs)
    return store, model, decider, server, jobs[0].id


def test_a_validate_job_decides_and_pushes_through_the_job_api(
    clients: tuple[MetaStore, str, JobApiClient, JobApiClient, int],
) -> None:
    store, model, decider, _, job_id = clients
    assert [v.version for v in decider.page_model_versions(model, limit=10)] == [2, 1]
    assert decider.get_model_version_by_alias(model, "deployed").version == 1  # type: ignore[union-attr]
    evidence: dict[str, Any] = {"auc": 0.9, "deployed.auc": 0.8}
    decided = decider.set_model_version_stage(
        model, 2, "validated", reason="auc 0.9 > 0.8", metrics=evidence
    )
    assert decided.stage == "validated"
    pushed = decider.promote_model_version(model, 2, reason="auc 0.9 > 0.8")
    assert pushed.aliases == ["deployed"] and pushed.stage == "deployed"
    assert store.get_model_version(model, 1).stage == "retired"
    changes = [c for c in store.model_history(model) if c.version == 2 and c.kind == "stage"]
    assert [(c.to_value, c.actor) for c in changes][-2:] == [
        ("validated", f"job:{job_id}"),
        ("deployed", f"job:{job_id}"),
    ]
    assert changes[-2].metrics == evidence
    failed = decider.mark_model_version_failed(model, 2, reason="push failed: boom")
    assert failed.stage == "failed"
    assert store.serving_pointer(model).version == 1  # type: ignore[union-attr]


def test_a_job_without_lifecycle_nodes_cannot_move_versions(
    clients: tuple[MetaStore, str, JobApiClient, JobApiClient, int],
) -> None:
    store, model, _, server, _ = clients
    with pytest.raises(Forbidden, match="no validate or push node"):
        server.promote_model_version(model, 2)
    with pytest.raises(Forbidden, match="no validate or push node"):
        server.set_model_version_stage(model, 2, "validated")
    assert store.serving_pointer(model).version == 1  # type: ignore[union-attr]
    # a predictor may report a version whose artifact does not load
    assert server.mark_model_version_failed(model, 2, reason="corrupt").stage == "failed"


def test_jobs_send_user_events_but_not_platform_ones(
    clients: tuple[MetaStore, str, JobApiClient, JobApiClient, int],
) -> None:
    store, model, decider, _, _ = clients
    sent = decider.emit_event("retrain", "user", "drift=0.3")
    assert store.list_events(after_seq=sent.seq - 1, key="retrain")[0].value == "drift=0.3"
    with pytest.raises(InvalidInput, match="reserved"):
        decider.emit_event(model, "MODEL_DEPLOYED", "2")
