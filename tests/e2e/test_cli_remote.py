"""The CLI through a real ``aiflow server`` (``--server``) prints what it prints locally.

Each remote command runs from an empty ``AIFLOW_HOME`` of its own (so nothing can be answered
from a local store by mistake); its local twin runs on the server's own meta store
(``api_server.cli``). Both read the same store at the same moment, so their outputs must be equal.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.server import conftest as server_fixtures
from tests.server.conftest import ApiServer, unique

# The REST tests' ``api`` fixture (a real ``aiflow server`` process), on SQLite only: the CLI
# is the same code whatever store the server has, and the CLI tests must stay quick.
api_server = server_fixtures.api
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("api_server", ["sqlite"], indirect=True),
]


def remote(
    api_server: ApiServer, home: Path, *args: str, role: str | None = "editor", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``aiflow --server URL ARGS`` from a client whose own home is ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env["AIFLOW_HOME"] = str(home)
    if role is not None:
        env["AIFLOW__CLIENT__TOKEN"] = api_server.tokens[role]
    done = subprocess.run(
        [sys.executable, "-m", "aiflow", "--server", api_server.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"aiflow --server {' '.join(args)} failed:\n{done.stderr}")
    return done


def tiny_workflow(directory: Path) -> tuple[Path, str, str, str]:
    """A train + evaluate workflow on a 3-row CSV named by absolute path (the server cannot
    see paths relative to the client). Returns the file and its workflow, model and example
    names (unique: the server is shared by the whole session)."""
    name, model, example = unique("remote"), unique("remote-model"), unique("remote-in")
    directory.mkdir(parents=True)
    data = directory / "in.csv"
    data.write_text("x\n1\n2\n3\n")
    workflow = directory / "workflow.py"
    workflow.write_text(
        "import aiflow as af\n\n"
        "class Mean(af.Trainer):\n"
        "    def fit(self, batch, base_model=None):\n"
        "        return {'mean': float(batch['x'].mean())}\n\n"
        "class Score(af.Evaluator):\n"
        "    def evaluate(self, batch, model):\n"
        "        return {'mean': model['mean']}\n\n"
        f"source = af.Example({example!r}, schema={{'x': 'int'}}, batch_uri={str(data)!r})\n"
        f"with af.workflow({name!r}) as wf:\n"
        "    raw = af.read_example(source)\n"
        f"    model = af.train(raw, Mean(), model=af.Model({model!r}))\n"
        "    af.evaluate(raw, model, Score())\n"
    )
    return workflow, name, model, example


@pytest.fixture(scope="module")
def ran(api_server: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One execution of the tiny workflow, submitted with ``aiflow --server URL run``."""
    root = tmp_path_factory.mktemp("remote-run")
    workflow, name, model, example = tiny_workflow(root / "wf")
    shown = remote(api_server, root / "home", "run", str(workflow))
    assert "succeeded" in shown.stdout and f"model {model} version 1" in shown.stdout
    summary = json.loads(remote(api_server, root / "home", "run", str(workflow), "--json").stdout)
    assert summary["status"] == "succeeded", summary
    assert summary["metrics"] and summary["model_versions"][0]["model"] == model
    return {"summary": summary, "workflow": name, "model": model, "example": example}


def test_run_through_the_server_records_it_there(
    api_server: ApiServer, ran: dict[str, Any]
) -> None:
    local = json.loads(
        api_server.cli("execution", "show", str(ran["summary"]["execution"]), "--json").stdout
    )
    assert local == ran["summary"]
    versions = json.loads(api_server.cli("model", "versions", ran["model"], "--json").stdout)
    assert [v["version"] for v in versions] == [2, 1]


def test_detached_run_then_stop_through_the_server(api_server: ApiServer, tmp_path: Path) -> None:
    workflow = tiny_workflow(tmp_path / "wf")[0]
    started = remote(api_server, tmp_path / "home", "run", str(workflow), "--detach", "--json")
    execution = json.loads(started.stdout)["execution"]
    stopped = remote(api_server, tmp_path / "home", "execution", "stop", str(execution))
    status = json.loads(api_server.cli("execution", "show", str(execution), "--json").stdout)
    assert status["status"] in ("killed", "succeeded"), status  # a tiny run may win the race
    assert stopped.stdout == f"execution {execution}: {status['status']}\n"


def test_list_and_show_print_the_same_remotely_and_locally(
    api_server: ApiServer, ran: dict[str, Any], tmp_path: Path
) -> None:
    execution = ran["summary"]["execution"]
    job = ran["summary"]["jobs"][0]["id"]
    commands = [
        ["workflow", "list"],
        ["execution", "list"],
        ["execution", "list", "--workflow", ran["workflow"], "--status", "succeeded"],
        ["execution", "show", str(execution)],
        ["job", "list", str(execution)],
        ["job", "show", str(job)],
        ["example", "list"],
        ["example", "show", ran["example"]],
        ["event", "list", "--limit", "1000"],
        ["event", "list", "--key", ran["model"]],
        ["model", "list"],
        ["model", "versions", ran["model"]],
        ["model", "show", ran["model"]],
        ["model", "show", ran["model"], "1"],
    ]
    for command in commands:
        there = remote(api_server, tmp_path, *command, role="viewer")
        here = api_server.cli(*command)
        assert there.stdout == here.stdout, command  # the tables
        there_json = json.loads(
            remote(api_server, tmp_path, *command, "--json", role="viewer").stdout
        )
        assert there_json == json.loads(api_server.cli(*command, "--json").stdout), command
    assert (
        remote(api_server, tmp_path, "job", "logs", str(job)).stdout
        == api_server.cli("job", "logs", str(job)).stdout
    )


def test_workflow_show_without_what_the_api_keeps_private(
    api_server: ApiServer, ran: dict[str, Any], tmp_path: Path
) -> None:
    """The API never returns a version's plan or server-side snapshot path; the rest of
    ``workflow show`` (and its whole table, plan graph included) is the same."""
    command = ("workflow", "show", ran["workflow"])
    assert remote(api_server, tmp_path, *command).stdout == api_server.cli(*command).stdout
    there = json.loads(remote(api_server, tmp_path, *command, "--json").stdout)
    here = json.loads(api_server.cli(*command, "--json").stdout)
    for version in here["versions"]:
        del version["plan"], version["snapshot_uri"]
    assert there == here


def test_model_alias_needs_an_editor_token(
    api_server: ApiServer, ran: dict[str, Any], tmp_path: Path
) -> None:
    model = ran["model"]
    moved = remote(api_server, tmp_path, "model", "alias", model, "deployed", "1", role="editor")
    assert moved.stdout == f"model {model}: alias deployed -> version 1\n"
    shown = json.loads(api_server.cli("model", "show", model, "--json").stdout)
    assert (shown["version"], shown["aliases"]) == (1, ["deployed"])

    refused = remote(
        api_server, tmp_path, "model", "alias", model, "deployed", "2", role="viewer", check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"error: 403 forbidden from {api_server.url}: ")
    assert "needs editor" in refused.stderr
    assert json.loads(api_server.cli("model", "show", model, "--json").stdout)["version"] == 1

    anonymous = remote(api_server, tmp_path, "model", "list", role=None, check=False)
    assert anonymous.returncode == 1
    assert anonymous.stderr.startswith(f"error: 401 unauthorized from {api_server.url}: ")


def test_login_stores_a_private_token_and_refuses_a_readable_file(
    api_server: ApiServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    bad = remote(api_server, home, "login", "--token", "aif_not-a-token", role=None, check=False)
    assert bad.returncode == 1 and not (home / "credentials.json").exists()

    remote(api_server, home, "login", "--token", api_server.tokens["viewer"], role=None)
    credentials = home / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text()) == {
        "servers": {api_server.url: api_server.tokens["viewer"]},
        "current": api_server.url,
    }
    assert (
        remote(api_server, home, "model", "list", "--json", role=None).stdout
        == api_server.cli("model", "list", "--json").stdout
    )

    credentials.chmod(0o644)
    refused = remote(api_server, home, "model", "list", role=None, check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "0644" in refused.stderr and "chmod 600" in refused.stderr

    credentials.chmod(0o600)
    assert (
        remote(api_server, home, "logout", role=None).stdout == f"logged out of {api_server.url}\n"
    )
    assert not credentials.exists()


def test_login_url_sends_the_commands_that_follow_to_that_server(
    api_server: ApiServer, tmp_path: Path
) -> None:
    """`aiflow login URL`, then plain commands: they go to the server until `aiflow logout`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env["AIFLOW_HOME"] = str(tmp_path)

    def aiflow(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aiflow", *args],
            env=env, capture_output=True, text=True, timeout=60, check=check,
        )  # fmt: skip

    def asked(*args: str) -> str:
        """The stderr of a command that fails: it names the server when one was asked."""
        done = aiflow(*args, check=False)
        assert done.returncode == 1, done
        return done.stderr

    alias = ("model", "alias", "no-such-model", "deployed", "1")  # viewers may not, remotely
    assert api_server.url not in asked(*alias)  # the local store: no such model
    aiflow("login", api_server.url + "/", "--token", api_server.tokens["viewer"])
    assert asked(*alias).startswith(f"error: 403 forbidden from {api_server.url}: ")
    remote_models = json.loads(api_server.cli("model", "list", "--json").stdout)
    assert json.loads(aiflow("model", "list", "--json").stdout) == remote_models
    assert aiflow("logout").stdout == f"logged out of {api_server.url}\n"
    assert api_server.url not in asked(*alias)


def test_the_server_can_be_chosen_by_environment(api_server: ApiServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env |= {
        "AIFLOW_HOME": str(tmp_path),
        "AIFLOW__CLIENT__SERVER": api_server.url,
        "AIFLOW__CLIENT__TOKEN": api_server.tokens["viewer"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "aiflow", "workflow", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == json.loads(
        api_server.cli("workflow", "list", "--json").stdout
    )
    shown = json.loads(
        subprocess.run(
            [sys.executable, "-m", "aiflow", "config", "show"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert shown["client"] == {"server": api_server.url, "token": "***"}


@pytest.mark.parametrize("command", [["db", "upgrade"], ["token", "list"], ["server"], ["openapi"]])
def test_local_store_commands_refuse_a_server(
    api_server: ApiServer, tmp_path: Path, command: list[str]
) -> None:
    refused = remote(api_server, tmp_path, *command, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"error: `aiflow {command[0]}` acts on the local meta store only; drop --server "
        "(and run it where the server's store is configured)\n"
    )
