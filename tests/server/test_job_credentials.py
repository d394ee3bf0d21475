"""Jobs and the planner hold no server credential; jobs reach the store through the job API.

The escalation this guards against: a workflow submitted with an *editor* token runs code at
import time (in the planner, and again in every job that imports its module) and in its
components (in jobs). With the server's environment that code could open the meta store and
write an admin token. Here it finds neither the secret key nor the store URL, ``MetaStore()``
refuses to open, and the job's own token works only on the job API, only for its own job, and
only while its attempt runs.
"""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.errors import Forbidden, Unauthorized
from aiflow.plan.model import ComponentRef, Node, NodeKind
from aiflow.schemas.entities import Execution, ExecutionStatus, JobStatus
from aiflow.store.sql_store import JobCreate, MetaStore
from aiflow.translators.job_store import JOB_API_ENV, NO_DIRECT_STORE, JobApiClient
from aiflow.translators.physical import JobSpec
from aiflow.translators.usercode import load_workflow_file
from tests.server import seed
from tests.server.conftest import SECRET_KEY, ApiServer, assert_problem, unique

JOB_API = "/api/v1/job-api"
RUN_TIMEOUT = 120

WORKFLOW = '''
import json
import os
from pathlib import Path

import httpx
import pandas as pd

import aiflow as af

REPORTS = Path({reports!r})


def probe(where: str) -> None:
    """What user code could do with the process's environment: look for credentials, open the
    meta store and write an admin token into it, call the admin API with whatever token it has."""
    report = {{"env": {{k: v for k, v in os.environ.items() if k.startswith("AIFLOW")}}}}
    try:
        from aiflow.schemas.entities import Role
        from aiflow.store.sql_store import MetaStore

        MetaStore().create_token({token_name!r} + "-" + where, Role.ADMIN)
        report["store"] = "wrote an admin token"
    except Exception as exc:
        report["store"] = f"{{type(exc).__name__}}: {{exc}}"
    token, api = os.environ.get("AIFLOW_JOB_TOKEN"), os.environ.get("AIFLOW_JOB_API")
    if token and api:
        headers = {{"Authorization": f"Bearer {{token}}"}}
        created = httpx.post(f"{{api}}/api/v1/tokens", headers=headers,
                             json={{"name": {token_name!r}, "role": "admin"}})
        report["admin_api"] = created.status_code
    (REPORTS / f"{{where}}.json").write_text(json.dumps(report))


probe(f"import-{{os.environ.get('AIFLOW_JOB_NAME', 'planner')}}")


class Probe(af.Transformer):
    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        probe("transform")
        return batch


class Mean(af.Trainer):
    def fit(self, batch: pd.DataFrame, base_model=None):
        return {{"mean": float(batch["x"].mean())}}


class Error(af.Evaluator):
    def evaluate(self, batch: pd.DataFrame, model) -> dict[str, float]:
        return {{"mae": float((batch["x"] - model["mean"]).abs().mean())}}


class Guess(af.Predictor):
    def predict(self, batch: pd.DataFrame, model) -> pd.DataFrame:
        return batch.assign(prediction=model["mean"])


data = af.Example("{name}-data", schema={{"x": "double"}}, batch_uri={data!r}, format="csv")
with af.workflow({name!r}) as wf:
    rows = af.transform(af.read_example(data), Probe())
    model = af.train(rows, Mean(), model=af.Model({model!r}))
    af.evaluate(rows, model, Error())
    preds = af.predict(rows, model, Guess())
    af.write_example(preds, af.Example("{name}-preds", batch_uri={out!r}, format="csv"))
'''


@dataclass(frozen=True)
class Submitted:
    execution: Execution
    reports: dict[str, dict[str, Any]]
    token_name: str
    model: str
    out: Path


def _wait(store: MetaStore, execution_id: int) -> Execution:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        execution = store.get_execution(execution_id)
        if execution.status.finished or time.monotonic() > deadline:
            return execution
        time.sleep(0.2)


@pytest.fixture(scope="module")
def submitted(api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Submitted:
    """The probing workflow (read -> transform -> train -> evaluate -> predict -> write),
    submitted with an editor token and run to its end."""
    root = tmp_path_factory.mktemp("escalation")
    reports, code = root / "reports", root / "code"
    reports.mkdir()
    code.mkdir()
    (root / "x.csv").write_text("x\n1.0\n2.0\n6.0\n")
    name, token_name = unique("escalate"), unique("escalated")
    model = unique("escalate-model")
    source = WORKFLOW.format(
        reports=str(reports),
        token_name=token_name,
        name=name,
        data=str(root / "x.csv"),
        out=str(root / "out" / "preds.csv"),
        model=model,
    )
    (code / "workflow.py").write_text(textwrap.dedent(source))
    wf = load_workflow_file(code / "workflow.py").wf
    with Client(api.url, api.tokens["editor"]) as client:
        execution = client.submit(wf, "batch")
    store = MetaStore(api.store_uri)
    final = _wait(store, execution.id)
    found = {p.stem: json.loads(p.read_text()) for p in reports.glob("*.json")}
    return Submitted(final, found, token_name, model, root / "out" / "preds.csv")


@pytest.mark.slow
def test_submitted_code_finds_no_credential_and_cannot_write_an_admin_token(
    api: ApiServer, submitted: Submitted
) -> None:
    assert submitted.execution.status is ExecutionStatus.SUCCEEDED, submitted.execution.error
    reports = submitted.reports
    jobs = {name for name in reports if name.startswith("import-") and name != "import-planner"}
    # user code ran at import in the planner and in each job, and in the transformer
    assert {"import-planner", "transform"} <= set(reports) and jobs, sorted(reports)
    for where, report in reports.items():
        env = report["env"]
        shown = json.dumps(env)
        assert SECRET_KEY not in shown and api.store_uri not in shown, (where, env)
        assert "AIFLOW__SERVER__SECRET_KEY" not in env and "AIFLOW__CLIENT__TOKEN" not in env
        assert env.get("AIFLOW__METASTORE__URI") == NO_DIRECT_STORE, (where, env)
        assert "unsupported meta store URL" in report["store"], (where, report["store"])
        if where == "import-planner":
            assert "AIFLOW_JOB_TOKEN" not in env and env["AIFLOW_HOME"] != str(api.home)
        else:  # a job: the job API and its own token, which the admin API does not take
            assert env[JOB_API_ENV] == api.url and env["AIFLOW_JOB_TOKEN"].startswith("afj_")
            assert report["admin_api"] == 401, (where, report)
    names = {t.name for t in MetaStore(api.store_uri).list_tokens()}
    assert not any(n.startswith(submitted.token_name) for n in names), names


@pytest.mark.slow
def test_train_then_predict_runs_through_the_job_api(api: ApiServer, submitted: Submitted) -> None:
    assert submitted.execution.status is ExecutionStatus.SUCCEEDED, submitted.execution.error
    store = MetaStore(api.store_uri)
    execution_id = submitted.execution.id
    versions = store.list_model_versions(submitted.model)
    assert [(v.execution_id, v.version) for v in versions] == [(execution_id, 1)]
    assert {m.name for m in store.list_execution_metrics(execution_id)} == {"mae"}
    assert submitted.out.read_text().splitlines()[1:] == [
        "1.0,3.0,1",
        "2.0,3.0,1",
        "6.0,3.0,1",
    ]
    for job in store.list_jobs(execution_id):
        assert job.result is not None and job.result["rows"], job  # published via the API
        log = Path(job.log_uri or "").read_text()
        assert f"meta store JobApiClient('{api.url}')" in log, log[-2000:]


# -- the token's scope and life, on a seeded execution --------------------------------------------


@dataclass(frozen=True)
class Seeded:
    execution: Execution
    own: int  # job ids
    other: int
    model: str  # trained by the own job
    foreign_model: str  # used only by the other job


@pytest.fixture
def seeded(api: ApiServer) -> Seeded:
    """An execution with two jobs: ``train`` (trains ``model``, running attempt 1) and
    ``serve`` (predicts with ``foreign_model``)."""
    store = MetaStore(api.store_uri)
    [version] = seed.workflow(store)
    model, foreign = unique("own-model"), unique("foreign-model")
    ref = ComponentRef(module="file:workflow.py", qualname="T")
    name = version.workflow_name

    def spec(job: str, node: Node) -> dict[str, Any]:
        return JobSpec(
            name=job, workflow=name, mode="batch", engine="local", nodes=[node]
        ).model_dump(mode="json")

    jobs = [
        JobCreate(
            name="train",
            engine="local",
            spec=spec("train", Node(id="fit", kind=NodeKind.TRAIN, component=ref, model=model)),
        ),
        JobCreate(
            name="serve",
            engine="local",
            spec=spec("serve", Node(id="predict", kind=NodeKind.PREDICT, model=foreign)),
        ),
    ]
    execution = store.create_execution(version.id, "batch", "local", "local", jobs)
    own, other = store.list_jobs(execution.id)
    assert store.transition_job(own.id, JobStatus.RUNNING, attempt=1)
    return Seeded(execution, own.id, other.id, model, foreign)


def job_http(api: ApiServer, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=api.url + JOB_API, headers=headers, timeout=30)


def test_a_job_token_acts_only_for_its_own_job(api: ApiServer, seeded: Seeded) -> None:
    store = MetaStore(api.store_uri)
    token = store.create_job_token(seeded.own, 1)
    [version] = seed.workflow(store)
    other_execution = seed.execution(store, version)
    foreign_version = store.register_model_version(seeded.foreign_model, "/nowhere", "pickle")
    with job_http(api, token) as http:
        own_version = {"artifact_uri": "/a", "flavor": "pickle", "node_id": "fit"}
        allowed = [
            ("GET", f"/jobs/{seeded.own}", None),
            ("PUT", f"/jobs/{seeded.own}/result", {"result": {"rows": {}}}),
            ("GET", f"/executions/{seeded.execution.id}", None),
            ("GET", f"/models/{seeded.model}/serving", None),
            ("POST", f"/models/{seeded.model}/versions", own_version),
            ("GET", "/ledger", {"consumer": f"workflow/{seeded.execution.workflow_name}/fit"}),
        ]
        for method, path, body in allowed:
            params = body if method == "GET" else None
            json_body = None if method == "GET" else body
            response = http.request(method, path, params=params, json=json_body)
            assert response.status_code in (200, 201), (method, path, response.text)
        refused = [
            ("GET", f"/jobs/{seeded.other}", None),
            ("PUT", f"/jobs/{seeded.other}/result", {"result": {"stolen": True}}),
            ("GET", f"/executions/{other_execution.id}", None),
            ("GET", f"/models/{seeded.foreign_model}/serving", None),
            ("GET", f"/models/{seeded.model}/latest?execution_id={other_execution.id}", None),
            ("POST", f"/models/{seeded.foreign_model}/versions", {**own_version}),
            ("POST", f"/models/{seeded.model}/versions", {**own_version, "node_id": "other"}),
            ("POST", f"/models/{seeded.model}/versions", {**own_version, "job_id": seeded.other}),
            ("POST", "/metrics", {"metrics": {"a": 1.0}, "job_id": seeded.other}),
            ("POST", "/metrics", {"metrics": {"a": 1.0}, "model_version_id": foreign_version.id}),
            ("POST", "/ledger", {"consumer": "workflow/someone-else/fit", "file": "f"}),
            ("POST", "/ledger", {"consumer": f"execution/{other_execution.id}/fit", "file": "f"}),
        ]
        for method, path, body in refused:
            response = http.request(method, path, json=body)
            assert_problem(response, 403, "forbidden")
    assert store.get_job(seeded.other).result is None
    assert [v.id for v in store.list_model_versions(seeded.foreign_model)] == [foreign_version.id]
    # The client raises what the server refused, like a MetaStore would.
    client = JobApiClient(api.url, token)
    with pytest.raises(Forbidden):
        client.get_job(seeded.other)
    assert client.get_job(seeded.own).id == seeded.own
    # Each kind of token only where it belongs.
    admin = {"Authorization": f"Bearer {api.tokens['admin']}"}
    response = httpx.get(f"{api.url}{JOB_API}/jobs/{seeded.own}", headers=admin)
    assert_problem(response, 401, "unauthorized")
    bearer = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{api.url}/api/v1/jobs/{seeded.own}", headers=bearer)
    assert_problem(response, 401, "unauthorized")


def test_expired_ended_and_revoked_job_tokens_are_refused(api: ApiServer, seeded: Seeded) -> None:
    store = MetaStore(api.store_uri)
    path = f"/jobs/{seeded.own}"

    minted = time.monotonic()
    short = store.create_job_token(seeded.own, 1, lifetime=3)
    with job_http(api, short) as http:
        assert http.get(path).status_code == 200  # the first request may take a while (cold)
        time.sleep(max(0.0, minted + 3.5 - time.monotonic()))
        assert_problem(http.get(path), 401, "unauthorized")
        assert_problem(http.post("/token/extend"), 401, "unauthorized")

    revoked = store.create_job_token(seeded.own, 1)
    with job_http(api, revoked) as http:
        assert http.get(path).status_code == 200
        store.revoke_job_tokens(seeded.own)
        assert_problem(http.get(path), 401, "unauthorized")

    previous_attempt = store.create_job_token(seeded.own, 1)
    next_attempt = store.create_job_token(seeded.own, 2)  # minted before its launch is recorded
    with job_http(api, previous_attempt) as old, job_http(api, next_attempt) as new:
        assert old.get(path).status_code == 200
        assert_problem(new.get(path), 401, "unauthorized")  # attempt 2 is not about to start
        extended = old.post("/token/extend")
        assert extended.status_code == 200 and extended.json()["expires_in"] > 60
        # The attempt fails and is queued for a retry: attempt 1's token dies with it, and the
        # retry's token works from before the driver records it as running.
        assert store.transition_job(seeded.own, JobStatus.QUEUED, attempt=1, error="boom")
        assert_problem(old.get(path), 401, "unauthorized")
        assert_problem(old.post("/token/extend"), 401, "unauthorized")
        assert new.get(path).status_code == 200
        assert store.transition_job(seeded.own, JobStatus.RUNNING, attempt=2)
        assert new.get(path).status_code == 200
        assert store.transition_job(seeded.own, JobStatus.SUCCEEDED)
        assert_problem(new.get(path), 401, "unauthorized")
    with pytest.raises(Unauthorized):
        JobApiClient(api.url, next_attempt).get_job(seeded.own)
