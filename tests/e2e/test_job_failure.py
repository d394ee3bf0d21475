"""Why a job failed reaches its error field, not only its log: the exception's type and message
and the node at fault, through the meta store, the CLI and the REST API."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from aiflow.config import ServerSettings, get_settings
from aiflow.server.app import create_app
from aiflow.store.sql_store import MetaStore
from tests.e2e.conftest import Cli
from tests.server.conftest import serving

pytestmark = pytest.mark.slow

REASON = "node 'clean': ValueError: bad row"


def failing_workflow(directory: Path) -> Path:
    source = directory / "rows.csv"
    source.write_text("x\n1\n2\n")
    workflow = directory / "workflow.py"
    workflow.write_text(
        textwrap.dedent(
            f"""
            import aiflow as af

            rows = af.Example("rows", schema={{"x": "int"}}, batch_uri={str(source)!r})
            out = af.Example("cleaned", batch_uri={str(directory / "out.csv")!r})


            class Clean(af.Transformer):
                output_schema = {{"x": "int"}}

                def transform(self, batch):
                    raise ValueError("bad row")


            with af.workflow("fails") as wf:
                af.write_example(af.transform(af.read_example(rows), Clean(), name="clean"), out)
            """
        )
    )
    return workflow


def test_a_failing_transformer_names_the_node_and_the_exception(
    cli: Cli, tmp_path: Path, aiflow_home: Path
) -> None:
    done = cli.run("run", str(failing_workflow(tmp_path)), check=False)
    assert done.returncode != 0
    store = MetaStore(get_settings().metastore_uri)
    [execution] = store.list_executions()
    [job] = store.list_jobs(execution.id)

    # the meta store: the job's error and result, and the execution's error
    assert job.status.value == "failed" and job.exit_code == 1
    assert job.error == REASON
    assert (job.result or {})["failure"] == {
        "type": "ValueError",
        "message": "bad row",
        "node": "clean",
        "attempt": 1,
        "code": "user_code_error",
    }
    assert execution.error is not None and REASON in execution.error
    assert "exited with code" not in execution.error

    # the CLI
    assert REASON in cli.run("job", "show", str(job.id)).stdout
    assert REASON in cli.run("execution", "show", str(execution.id)).stdout
    assert REASON in cli.run("job", "list", str(execution.id)).stdout

    # the REST API (the job resource, the execution, and the log through the deployer)
    settings = get_settings().model_copy(
        update={"server": ServerSettings(dev=True, host="127.0.0.1")}
    )
    with (
        serving(create_app(store=store, settings=settings)) as url,
        httpx.Client(base_url=url) as api,
    ):
        assert api.get(f"/api/v1/jobs/{job.id}").json()["error"] == REASON
        assert REASON in api.get(f"/api/v1/executions/{execution.id}").json()["error"]
        log = api.get(f"/api/v1/jobs/{job.id}/logs")
        assert log.status_code == 200 and "ValueError: bad row" in log.text
    store.dispose()
