"""The CLI refuses names outside the one name rule, locally (the store checks them) and
through a server (the client checks them before any request), with a message that names the
value and the rule, and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow.store.sql_store import MetaStore
from tests.e2e.conftest import Cli
from tests.e2e.test_cli_remote import remote
from tests.server import conftest as server_fixtures
from tests.server import seed
from tests.server.conftest import ApiServer

api_server = server_fixtures.api
BAD_NAMES = ["..", "<script>", "a b", "../x; drop"]
RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit"


def test_local_cli_refuses_bad_alias_and_token_names(cli: Cli) -> None:
    store = MetaStore()
    store.register_model_version("m", "file:///m", "pickle")
    for name in BAD_NAMES:
        refused = cli.run("model", "alias", "m", name, "1", check=False)
        assert refused.returncode != 0
        assert f"error: alias {name!r} is invalid: use 1 to 64 {RULE}" in refused.stderr
    refused = cli.run("token", "create", "--name", "../x; drop", "--role", "viewer", check=False)
    assert refused.returncode != 0
    assert "error: token name '../x; drop' is invalid" in refused.stderr
    assert store.get_model_version("m", 1).aliases == [] and store.list_tokens() == []
    assert cli.run("model", "alias", "m", "champion", "1").stdout == (
        "model m: alias champion -> version 1\n"
    )


def test_local_cli_refuses_a_workflow_with_a_bad_name(cli: Cli, tmp_path: Path) -> None:
    workflow = tmp_path / "bad_name.py"
    workflow.write_text("import aiflow as af\n\nwith af.workflow('..') as wf:\n    pass\n")
    refused = cli.run("run", str(workflow), check=False)
    assert refused.returncode != 0
    assert "workflow name '..' is invalid" in refused.stderr, refused.stderr


@pytest.mark.slow
@pytest.mark.parametrize("api_server", ["sqlite"], indirect=True)
def test_remote_cli_refuses_bad_names_before_asking(api_server: ApiServer, tmp_path: Path) -> None:
    model = seed.model(MetaStore(api_server.store_uri), versions=1)[0]
    for name in BAD_NAMES:
        refused = remote(
            api_server,
            tmp_path / "home",
            "model",
            "alias",
            model.model_name,
            name,
            "1",
            check=False,
        )
        assert refused.returncode != 0
        assert f"error: alias {name!r} is invalid: use 1 to 64 {RULE}" in refused.stderr
    refused = remote(api_server, tmp_path / "home", "model", "versions", "..", check=False)
    assert refused.returncode != 0
    assert "error: model name '..' is invalid" in refused.stderr
    moved = remote(api_server, tmp_path / "home", "model", "alias", model.model_name, "a..b", "1")
    assert moved.stdout == f"model {model.model_name}: alias a..b -> version 1\n"
