"""Contract tests of the API token store, on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.schemas.entities import ApiToken, Role
from aiflow.store import db
from aiflow.store.orm import SqlApiToken, utcnow
from aiflow.store.sql_store import MetaStore
from aiflow.store.tokens import LAST_USED_RESOLUTION, TOKEN_PREFIX, hash_token


def stored_hash(store: MetaStore, name: str) -> str:
    with db.get_engine(store.uri).connect() as connection:
        value = connection.scalar(select(SqlApiToken.token_hash).where(SqlApiToken.name == name))
    assert value is not None
    return value


def age_last_used(store: MetaStore, name: str, by: timedelta) -> None:
    with db.get_engine(store.uri).begin() as connection:
        connection.execute(
            update(SqlApiToken).where(SqlApiToken.name == name).values(last_used_at=utcnow() - by)
        )


def test_role_order() -> None:
    assert [role.rank for role in Role] == [0, 1, 2]
    assert Role.ADMIN.at_least(Role.EDITOR) and Role.ADMIN.at_least(Role.ADMIN)
    assert Role.EDITOR.at_least(Role.VIEWER) and not Role.EDITOR.at_least(Role.ADMIN)
    assert not Role.VIEWER.at_least(Role.EDITOR)


def test_create_returns_the_secret_once_and_stores_only_its_hash(store: MetaStore) -> None:
    token, secret = store.create_token("ci", Role.EDITOR)
    assert (token.name, token.role, token.active) == ("ci", Role.EDITOR, True)
    assert token.last_used_at is None and token.revoked_at is None
    assert token.created_at.tzinfo is not None
    assert secret.startswith(TOKEN_PREFIX) and len(secret) == len(TOKEN_PREFIX) + 43

    digest = stored_hash(store, "ci")
    assert digest == hash_token(secret) and len(digest) == 64
    assert secret not in digest
    assert not hasattr(token, "token_hash")
    assert secret not in token.model_dump_json()

    other, other_secret = store.create_token("ci-2", "viewer")  # roles by value too
    assert other.role == Role.VIEWER and other_secret != secret


def test_create_rejects_bad_names_roles_and_duplicates(store: MetaStore) -> None:
    store.create_token("ci", Role.VIEWER)
    with pytest.raises(AlreadyExists, match="'ci' already exists"):
        store.create_token("ci", Role.ADMIN)
    for name in ["", "-lead", "has space", "a/b", "x" * 256]:
        with pytest.raises(InvalidInput, match="token name"):
            store.create_token(name, Role.VIEWER)
    with pytest.raises(InvalidInput, match="role 'root' is not one of viewer, editor, admin"):
        store.create_token("root", "root")
    assert [t.name for t in store.list_tokens()] == ["ci"]


def test_concurrent_creates_of_one_name_admit_exactly_one(store: MetaStore) -> None:
    def create(_: int) -> str:
        try:
            store.create_token("race", Role.VIEWER)
            return "created"
        except AlreadyExists:
            return "exists"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(create, range(4)))
    assert outcomes == ["created", "exists", "exists", "exists"]


def test_verify(store: MetaStore) -> None:
    token, secret = store.create_token("ci", Role.ADMIN)
    verified = store.verify_token(secret)
    assert isinstance(verified, ApiToken)
    assert (verified.id, verified.name, verified.role) == (token.id, "ci", Role.ADMIN)

    assert store.verify_token(secret + "x") is None
    assert store.verify_token(secret[len(TOKEN_PREFIX) :]) is None  # prefix is part of it
    assert store.verify_token("") is None
    assert store.verify_token(hash_token(secret)) is None  # the stored hash is no credential


def test_verify_refreshes_last_used_at_at_most_once_a_minute(store: MetaStore) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    first = store.verify_token(secret)
    assert first is not None and first.last_used_at is not None
    assert store.list_tokens()[0].last_used_at == first.last_used_at

    again = store.verify_token(secret)  # within the minute: no write
    assert again is not None and again.last_used_at == first.last_used_at

    age_last_used(store, "ci", LAST_USED_RESOLUTION + timedelta(seconds=1))
    stale = store.list_tokens()[0].last_used_at
    later = store.verify_token(secret)
    assert later is not None and stale is not None and later.last_used_at is not None
    assert later.last_used_at > stale
    assert store.list_tokens()[0].last_used_at == later.last_used_at


def test_verify_writes_once_a_minute_not_per_call(store: MetaStore, sql_statements) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    store.verify_token(secret)
    with sql_statements() as statements:
        for _ in range(5):
            assert store.verify_token(secret) is not None
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]


def test_revoke(store: MetaStore) -> None:
    _, secret = store.create_token("ci", Role.EDITOR)
    _, kept_secret = store.create_token("kept", Role.VIEWER)
    revoked = store.revoke_token("ci")
    assert revoked.name == "ci" and revoked.revoked_at is not None and not revoked.active
    assert store.verify_token(secret) is None
    assert store.verify_token(kept_secret) is not None

    assert store.revoke_token("ci").revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(AlreadyExists):  # the name stays taken
        store.create_token("ci", Role.EDITOR)
    with pytest.raises(NotFound, match="API token 'nope' not found"):
        store.revoke_token("nope")

    listed = {t.name: t for t in store.list_tokens()}
    assert list(listed) == ["ci", "kept"]
    assert listed["ci"].revoked_at == revoked.revoked_at and listed["kept"].active
