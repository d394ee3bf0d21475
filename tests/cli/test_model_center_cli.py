"""``aiflow model`` promote, rollback, tag, history, lineage and compare, run in-process through
the CLI's entry point (``main``: its exit codes and one-line errors) on a local meta store in
the test's own ``AIFLOW_HOME``; the last test runs them through a server (``--server``), where
the history records the token instead of the OS user.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from aiflow.cli.local_backend import local_actor
from aiflow.cli.main import main
from aiflow.config import reset_settings
from aiflow.store.sql_store import MetaStore
from tests.server import conftest as server_fixtures
from tests.server import seed
from tests.server.conftest import ApiServer

api = server_fixtures.api  # a real `aiflow server` (SQLite only, below)


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@pytest.fixture
def aiflow(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``aiflow(*args)``: the CLI's ``main`` with these arguments, its exit code and output."""

    def run(*args: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["aiflow", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        code = exited.value.code
        return Done(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


def three_versions(store: MetaStore, name: str = "clicks") -> str:
    """Versions 1-3, each continuing the last, with an auc and the data it saw."""
    for i in range(3):
        lineage = {"data": [{"example": "history", "uri": f"/d/part-{i}.csv",
                             "fingerprint": f"sha256:{i}"}]}  # fmt: skip
        version = store.register_model_version(
            name,
            f"/artifacts/{name}/{i}",
            "sklearn",
            parent_version=i or None,
            checksum=f"{i}" * 64,
            lineage=lineage,
        )
        store.log_metrics({"auc": 0.7 + i / 10}, model_version_id=version.id)
    return name


def test_promote_and_rollback_are_recorded_with_the_os_user(store: MetaStore, aiflow: Any) -> None:
    name = three_versions(store)
    promoted = aiflow("model", "promote", name, "2", "--reason", "best auc")
    assert promoted.code == 0
    assert promoted.out == f"model {name}: alias deployed -> version 2 (deployed)\n"
    aiflow("model", "promote", name, "3")
    assert store.get_model_version(name, 2).stage == "retired"
    back = aiflow("model", "rollback", name, "--reason", "auc dropped online")
    assert back.out == f"model {name}: alias deployed rolled back to version 2\n"
    assert store.serving_version(name).version == 2  # type: ignore[union-attr]

    history = aiflow("model", "history", name, "--version", "2", "--json").json()
    moves = [(c["from_value"], c["to_value"], c["reason"], c["actor"])
             for c in history if c["kind"] == "alias"]  # fmt: skip
    assert moves == [
        (None, "2", "best auc", local_actor()),
        ("3", "2", "auc dropped online", local_actor()),
    ]
    assert {c["version"] for c in history} == {2}
    table = aiflow("model", "history", name)
    assert table.code == 0
    assert "alias deployed: 3 -> 2" in table.out and "auc dropped online" in table.out

    champion = aiflow("model", "promote", name, "1", "--alias", "champion")
    assert champion.code == 0 and store.get_model_version(name, 1).aliases == ["champion"]


def test_bad_input_exits_non_zero_naming_what_is_wrong(store: MetaStore, aiflow: Any) -> None:
    name = three_versions(store)
    for args, words in [
        (("model", "promote", name, "9"), f"model '{name}' version 9 not found"),
        (("model", "promote", "nope", "1"), "model 'nope' not found"),
        (("model", "tag", name, "1", "owner"), "tag 'owner' is not KEY=VALUE"),
        (("model", "tag", name, "1", "=x"), "tag '=x' is not KEY=VALUE"),
        (("model", "tag", name, "1"), "KEY=VALUE, or --remove KEY"),
        (("model", "tag", name, "1", "bad key=x"), "tag key 'bad key' is invalid"),
        (("model", "rollback", name), "no 'deployed' alias"),
        (("model", "compare", name, "1", "9"), "version 9 not found"),
        (("model", "lineage", name, "9"), "version 9 not found"),
    ]:
        done = aiflow(*args)
        assert done.code != 0 and done.out == "", (args, done)
        assert done.err.startswith("error: ") and done.err.count("\n") == 1, (args, done.err)
        assert words in done.err, (args, done.err)
    assert {c.to_value for c in store.model_history(name)} == {"generated"}  # nothing changed


def test_tags_are_set_all_at_once_and_removed(store: MetaStore, aiflow: Any) -> None:
    name = three_versions(store)
    done = aiflow("model", "tag", name, "2", "owner=search", "note=a=b c")
    assert done.out == f"model {name} version 2: tags note=a=b c, owner=search\n"
    # a bad tag among good ones: nothing is set
    assert aiflow("model", "tag", name, "2", "team=x", "oops").code != 0
    assert store.get_model_version(name, 2).tags == {"owner": "search", "note": "a=b c"}
    removed = aiflow("model", "tag", name, "2", "--remove", "note", "owner=ads")
    assert removed.out == f"model {name} version 2: tags owner=ads\n"
    history = aiflow("model", "history", name, "--json").json()
    tags = [(c["field"], c["from_value"], c["to_value"], c["actor"]) for c in history
            if c["kind"] == "tag"]  # fmt: skip
    assert tags == [
        ("owner", None, "search", local_actor()),
        ("note", None, "a=b c", local_actor()),
        ("owner", "search", "ads", local_actor()),
        ("note", "a=b c", None, local_actor()),
    ]


def test_versions_and_show_carry_parent_checksum_and_tags(store: MetaStore, aiflow: Any) -> None:
    name = three_versions(store)
    store.tag_model_version(name, 3, "owner", "search")
    listed = aiflow("model", "versions", name)
    assert listed.code == 0
    row = next(line for line in listed.out.splitlines() if "owner=search" in line)
    assert "2" * 12 in row and "2" * 13 not in row  # version 3's checksum, shortened
    shown = aiflow("model", "show", name, "3")
    assert f"sha256:{'2' * 64}" in shown.out and "owner=search" in shown.out
    as_json = aiflow("model", "show", name, "3", "--json").json()
    assert (as_json["parent_version"], as_json["tags"]) == (2, {"owner": "search"})
    assert [v["parent_version"] for v in aiflow("model", "versions", name, "--json").json()] == [
        2,
        1,
        None,
    ]


def test_lineage_and_compare(store: MetaStore, aiflow: Any) -> None:
    name = three_versions(store)
    lineage = aiflow("model", "lineage", name, "3", "--json").json()
    assert (lineage["parent_version"], lineage["ancestors"]) == (2, [2, 1])
    table = aiflow("model", "lineage", name, "3").out
    assert "2 <- 1" in table and "example history: /d/part-2.csv (sha256:2)" in table

    compared = aiflow("model", "compare", name, "1", "3", "--json").json()
    assert compared["metrics"] == {"auc": [pytest.approx(0.7), pytest.approx(0.9)]}
    assert compared["lineage_diff"]["parent_version"] == [None, 2]
    table = aiflow("model", "compare", name, "1", "3").out
    assert "+0.2" in table and "lineage differences" in table and "part-0.csv" in table
    same = aiflow("model", "compare", name, "2", "2").out
    assert "lineage: the same" in same


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_through_a_server_the_token_is_the_actor(
    api: ApiServer, aiflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_store = MetaStore(api.store_uri)
    name = seed.model(server_store, versions=2)[0].model_name
    monkeypatch.setenv("AIFLOW__CLIENT__TOKEN", api.tokens["editor"])
    reset_settings()
    remote = ("--server", api.url, "model")
    assert aiflow(*remote, "promote", name, "1", "--reason", "first").code == 0
    assert aiflow(*remote, "tag", name, "1", "owner=ml").code == 0
    assert aiflow(*remote, "promote", name, "2").code == 0
    assert aiflow(*remote, "rollback", name, "--reason", "worse").out.endswith("version 1\n")
    history = aiflow(*remote, "history", name, "--json").json()
    assert history == [c.model_dump(mode="json") for c in server_store.model_history(name)]
    made = [c for c in history if not (c["kind"] == "stage" and c["to_value"] == "generated")]
    assert {c["actor"] for c in made} == {"token:fixture-editor"}
    assert aiflow(*remote, "lineage", name, "2", "--json").json()["ancestors"] == []
    assert aiflow(*remote, "compare", name, "1", "2", "--json").json()["versions"] == [1, 2]
    refused = aiflow(*remote, "tag", name, "1", "x y=1")
    assert refused.code != 0 and "tag key 'x y' is invalid" in refused.err
