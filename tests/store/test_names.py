"""One name rule (``aiflow.schemas.limits.check_name``) for the names the store records, and
keyset pages of examples and tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import Role
from aiflow.schemas.inputs import ExampleCreate, TriggerCreate, validated
from aiflow.schemas.limits import ALIAS_LENGTH, NAME_LENGTH, check_name
from aiflow.store import db
from aiflow.store.orm import SqlModel, SqlModelAlias, utcnow
from aiflow.store.sql_store import MetaStore

# What an attacker or a typo sends: dot segments, markup, spaces, a path with a shell command,
# a trailing newline (Python's `$` matches before one), a leading dash (an option to a CLI).
BAD_NAMES = ["..", ".", "<script>", "a b", "../x; drop", "a\n", "-x", "a/b", "", "é"]
# Every shape the rule admits, including dots where they are no dot segment.
GOOD_NAMES = ["wine", "wine_sgd", "A", "7up", "a.b-c_d", "a..b", "a.", "v1.2.3"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_check_name_refuses_names_outside_the_rule(name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_name("model", name)
    message = str(raised.value)
    assert message.startswith(f"model name {name!r} is invalid: use 1 to {NAME_LENGTH} letters")
    assert "starting with a letter or digit" in message


def test_check_name_bounds_each_kind() -> None:
    assert check_name("alias", "a" * ALIAS_LENGTH) == "a" * ALIAS_LENGTH
    with pytest.raises(InvalidInput, match=f"alias 'a+' is invalid: use 1 to {ALIAS_LENGTH} "):
        check_name("alias", "a" * (ALIAS_LENGTH + 1))
    with pytest.raises(InvalidInput, match="and not a number"):
        check_name("alias", "42")  # "model:42" means version 42
    assert check_name("model", "42") == "42"
    with pytest.raises(InvalidInput, match="workflow name"):
        check_name("workflow", "w" * (NAME_LENGTH + 1))
    with pytest.raises(InvalidInput, match="example name None"):
        check_name("example", None)


@pytest.mark.parametrize("name", ["..", "<script>", "a b", "../x; drop"])
def test_the_store_refuses_bad_names_and_records_nothing(store: MetaStore, name: str) -> None:
    with pytest.raises(InvalidInput, match="model name"):
        store.create_model(name)
    with pytest.raises(InvalidInput, match="model name"):
        store.register_model_version(name, "file:///m", "pickle")
    with pytest.raises(InvalidInput, match="workflow name"):
        store.register_workflow_version(name, {}, "p", "s", "file:///snap", [])
    with pytest.raises(InvalidInput, match="token name"):
        store.create_token(name, Role.VIEWER)
    with pytest.raises(InvalidInput, match=r"invalid example: name .*String should match pattern"):
        validated(ExampleCreate, "example", name=name, columns={}, format="csv")
    with pytest.raises(
        InvalidInput, match=r"invalid trigger: workflow .*String should match pattern"
    ):
        validated(TriggerCreate, "trigger", name="t", workflow=name, interval=60)
    store.register_model_version("m", "file:///m", "pickle")
    with pytest.raises(InvalidInput, match="alias"):
        store.set_model_alias("m", name, 1)
    assert [m.name for m in store.list_models()] == ["m"]
    assert store.get_model_version("m", 1).aliases == []
    assert store.list_workflows() == [] and store.list_tokens() == []


def test_every_alias_that_can_be_set_can_be_deleted(store: MetaStore) -> None:
    store.register_model_version("m", "file:///m", "pickle")
    names = [*GOOD_NAMES, "a" * ALIAS_LENGTH]
    for alias in names:
        store.set_model_alias("m", alias, 1)
    assert sorted(store.get_model_version("m", 1).aliases) == sorted(names)
    for alias in names:
        store.delete_model_alias("m", alias)
    assert store.get_model_version("m", 1).aliases == []


def test_an_alias_stored_before_the_rule_can_still_be_deleted(store: MetaStore) -> None:
    """Only setting checks the rule: a bad alias an older aiflow recorded is not stuck."""
    store.register_model_version("m", "file:///m", "pickle")
    with db.get_engine(store.uri).begin() as connection:
        model_id = connection.scalar(select(SqlModel.id).where(SqlModel.name == "m"))
        version_id = store.get_model_version("m", 1).id
        connection.execute(
            insert(SqlModelAlias).values(
                model_id=model_id, alias="..", model_version_id=version_id, updated_at=utcnow()
            )
        )
    assert store.get_model_version("m", 1).aliases == [".."]
    store.delete_model_alias("m", "..")
    assert store.get_model_version("m", 1).aliases == []


def test_good_names_are_recorded(store: MetaStore) -> None:
    examples = [
        ExampleCreate(name=name, columns={"x": "int"}, format="csv", batch_uri="/x.csv")
        for name in GOOD_NAMES
    ]
    for name in GOOD_NAMES:
        store.register_workflow_version(name, {}, "p", "s", "file:///snap", [])
        store.create_model(name)
        store.create_token(name, Role.VIEWER)
    store.register_workflow_version("wf", {}, "p", "s", "file:///snap", examples)
    assert {w.name for w in store.list_workflows()} == {*GOOD_NAMES, "wf"}
    assert {m.name for m in store.list_models()} == set(GOOD_NAMES)
    assert {e.name for e in store.list_examples()} == set(GOOD_NAMES)
    assert {t.name for t in store.list_tokens()} == set(GOOD_NAMES)


# -- pages of examples and tokens -----------------------------------------------------------------


def test_examples_and_tokens_come_in_keyset_pages(store: MetaStore) -> None:
    names = [f"n{i:02d}" for i in range(7)]
    examples = [ExampleCreate(name=n, columns={}, format="csv") for n in reversed(names)]
    store.register_workflow_version("wf", {}, "p", "s", "file:///snap", examples)
    for name in reversed(names):
        store.create_token(name, Role.VIEWER)
    store.revoke_token("n03")  # revoked tokens are listed too

    for page, count in ((store.page_examples, store.count_examples),
                        (store.page_tokens, store.count_tokens)):  # fmt: skip
        seen: list[str] = []
        cursor = None
        while True:
            rows = page(cursor=cursor, limit=3)
            seen += [row.name for row in rows]
            if len(rows) < 3:
                break
            cursor = rows[-1].name
        assert seen == names
        assert count() == len(names)
        assert [row.name for row in page(cursor="n05", limit=50)] == ["n06"]
        with pytest.raises(InvalidInput, match="limit must be at least 1"):
            page(limit=0)
