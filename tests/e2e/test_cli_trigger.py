"""``aiflow trigger ...`` on the local meta store and through a server print the same, and bad
input is one error line naming the value, with nothing created."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from aiflow.store.sql_store import MetaStore
from tests.e2e.test_cli_remote import remote
from tests.server import conftest as server_fixtures
from tests.server import seed
from tests.server.conftest import ApiServer, unique

api_server = server_fixtures.api  # a real `aiflow server`, on SQLite (see test_cli_remote.py)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("api_server", ["sqlite"], indirect=True),
]


@pytest.fixture
def workflow(api_server: ApiServer) -> str:
    """A workflow in the server's store with a batch run for its triggers to repeat."""
    store = MetaStore(api_server.store_uri)
    version = seed.workflow(store)[0]
    seed.execution(store, version)
    return version.workflow_name


def test_commands_print_the_same_remotely_and_locally(
    api_server: ApiServer, workflow: str, tmp_path: Path
) -> None:
    nightly, rule = unique("nightly"), unique("on-model")
    created = remote(
        api_server, tmp_path, "trigger", "create", nightly, "--workflow", workflow,
        "--cron", "0 2 * * *", "--max-active", "1",
    )  # fmt: skip
    assert created.stdout.startswith(f"created trigger '{nightly}' (cron '0 2 * * *' UTC): next ")
    assert created.stdout.endswith(" 02:00:00 UTC\n")
    here = api_server.cli(
        "trigger", "create", rule, "--workflow", workflow, "--version", "1",
        "--event", "MODEL_GENERATED", "--key", "m", "--value", "*",
    )  # fmt: skip
    assert here.stdout.startswith(
        f"created trigger '{rule}' (on MODEL_GENERATED key=m value='*'): events after seq "
    )

    commands = [
        ["trigger", "list"],
        ["trigger", "list", "--workflow", workflow],
        ["trigger", "show", nightly],
        ["trigger", "show", rule],
    ]
    for command in commands:
        there = remote(api_server, tmp_path, *command, role="viewer")
        assert there.stdout == api_server.cli(*command).stdout, command
        there_json = json.loads(remote(api_server, tmp_path, *command, "--json").stdout)
        assert there_json == json.loads(api_server.cli(*command, "--json").stdout), command
    listed = json.loads(api_server.cli("trigger", "list", "--workflow", workflow, "--json").stdout)
    assert sorted(t["name"] for t in listed) == sorted([nightly, rule])

    assert remote(api_server, tmp_path, "trigger", "disable", nightly).stdout == (
        f"disabled trigger '{nightly}'\n"
    )
    shown = json.loads(api_server.cli("trigger", "show", nightly, "--json").stdout)
    assert not shown["trigger"]["enabled"] and shown["executions"] == []
    enabled = api_server.cli("trigger", "enable", nightly).stdout
    assert enabled.startswith(f"enabled trigger '{nightly}': next ")
    for name, where in ((nightly, "remote"), (rule, "local")):
        args = ("trigger", "delete", name)
        done = remote(api_server, tmp_path, *args) if where == "remote" else api_server.cli(*args)
        assert done.stdout == f"deleted trigger '{name}'\n"
    assert (
        json.loads(api_server.cli("trigger", "list", "--workflow", workflow, "--json").stdout) == []
    )


def test_bad_input_is_one_line_naming_the_value(
    api_server: ApiServer, workflow: str, tmp_path: Path
) -> None:
    name = unique("bad")
    cases = [
        (["--cron", "61 * * * *"], ["cron: cron expression '61 * * * *' is invalid"]),
        (["--cron", "0 2 * *"], ["'0 2 * *' has 4 fields"]),
        ([], ["give exactly one of cron, interval"]),
        (["--interval", "60", "--mode", "fast"], ["mode 'fast'"]),
        (["--interval", "60", "--deployer", "mars"], ["unknown deployer 'mars'"]),
    ]
    for options, words in cases:
        args = ["trigger", "create", name, "--workflow", workflow, *options]
        for done in (
            remote(api_server, tmp_path, *args, check=False),
            api_server.cli(*args, check=False),
        ):
            assert_one_error_line(done, *words)
    for done in (
        remote(api_server, tmp_path, "trigger", "create", name, "-w", "nope", "--interval", "60",
               check=False),
        api_server.cli("trigger", "create", name, "-w", "nope", "--interval", "60", check=False),
    ):  # fmt: skip
        assert_one_error_line(done, "workflow 'nope' not found")
    missing = api_server.cli("trigger", "show", name, check=False)
    assert_one_error_line(missing, f"trigger '{name}' not found")

    refused = remote(
        api_server, tmp_path, "trigger", "create", name, "-w", workflow, "--interval", "60",
        role="viewer", check=False,
    )  # fmt: skip
    assert_one_error_line(refused, f"error: 403 forbidden from {api_server.url}: ")
    assert name not in api_server.cli("trigger", "list", "--json").stdout  # nothing was created


def assert_one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
