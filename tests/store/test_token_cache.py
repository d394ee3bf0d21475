"""The per-process cache of verified API tokens (``verify_token(..., cache_seconds=...)``), on
SQLite and PostgreSQL. Time is a fake clock: no test here sleeps or measures."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from aiflow.schemas.entities import ApiToken, Role
from aiflow.store import db, tokens
from aiflow.store.orm import SqlApiToken, utcnow
from aiflow.store.sql_store import MetaStore
from aiflow.store.tokens import VerifiedTokens, hash_token, verified_tokens

TTL = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(store: MetaStore, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The store's token cache for ``TTL``, on a fake clock."""
    fake = Clock()
    monkeypatch.setitem(tokens._caches, (store.uri, TTL), VerifiedTokens(TTL, timer=fake))
    return fake


def revoke_elsewhere(store: MetaStore, name: str) -> None:
    """Revoke the way another process does: in the database, not through this process."""
    with db.get_engine(store.uri).begin() as connection:
        connection.execute(
            update(SqlApiToken).where(SqlApiToken.name == name).values(revoked_at=utcnow())
        )


def token(name: str = "t") -> ApiToken:
    now = utcnow()
    return ApiToken(
        id=1, name=name, role=Role.VIEWER, created_at=now, last_used_at=now, revoked_at=None
    )


def test_a_verified_token_is_answered_from_the_cache(
    store: MetaStore, clock: Clock, sql_statements
) -> None:
    _, secret = store.create_token("ci", Role.EDITOR)
    assert store.cached_token(secret, TTL) is None  # not verified yet
    first = store.verify_token(secret, cache_seconds=TTL)
    assert first is not None and first.role == Role.EDITOR
    with sql_statements() as statements:
        for _ in range(5):
            assert store.verify_token(secret, cache_seconds=TTL) == first
        assert store.cached_token(secret, TTL) == first
    assert statements == []


def test_without_cache_seconds_every_check_reads_the_store(
    store: MetaStore, sql_statements
) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    store.verify_token(secret, cache_seconds=TTL)  # another caller's cache does not count
    with sql_statements() as statements:
        assert store.verify_token(secret) is not None
    assert [s for s in statements if "FROM api_token" in s]
    assert store.cached_token(secret, 0) is None


def test_revoking_in_this_process_takes_effect_at_once(store: MetaStore, clock: Clock) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    _, other_secret = store.create_token("other", Role.VIEWER)
    assert store.verify_token(secret, cache_seconds=TTL) is not None
    assert store.verify_token(other_secret, cache_seconds=TTL) is not None

    MetaStore(store.uri).revoke_token("ci")  # any store object of this process
    assert store.cached_token(secret, TTL) is None
    assert store.verify_token(secret, cache_seconds=TTL) is None
    assert store.verify_token(other_secret, cache_seconds=TTL) is not None  # re-verified


def test_a_revocation_elsewhere_is_seen_once_the_entry_expires(
    store: MetaStore, clock: Clock
) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    assert store.verify_token(secret, cache_seconds=TTL) is not None
    revoke_elsewhere(store, "ci")

    clock.now += TTL - 0.01  # the documented bound: still remembered ...
    assert store.verify_token(secret, cache_seconds=TTL) is not None
    clock.now += 0.02  # ... and not a moment longer
    assert store.cached_token(secret, TTL) is None
    assert store.verify_token(secret, cache_seconds=TTL) is None


def test_unknown_and_revoked_tokens_are_never_remembered(store: MetaStore, clock: Clock) -> None:
    _, secret = store.create_token("ci", Role.VIEWER)
    revoke_elsewhere(store, "ci")
    for attempt in (secret, "aif_" + "x" * 43, "not-a-token"):
        assert store.verify_token(attempt, cache_seconds=TTL) is None
    assert len(verified_tokens(store.uri, TTL)) == 0


def test_the_cache_is_bounded() -> None:
    cache = VerifiedTokens(ttl=60, maxsize=3)
    for i in range(10):
        cache.put(hash_token(f"aif_{i}"), token(f"t{i}"), cache.generation)
    assert len(cache) == 3
    assert cache.get(hash_token("aif_9")) is not None  # the newest stay
    assert cache.get(hash_token("aif_0")) is None


def test_a_verification_racing_a_revocation_does_not_store_its_answer() -> None:
    cache = VerifiedTokens(ttl=60)
    digest = hash_token("aif_racing")
    generation = cache.generation  # a verification starts and reads the row (still active) ...
    cache.clear()  # ... a revocation in this process commits and empties the cache ...
    cache.put(digest, token(), generation)  # ... the verification finishes: not remembered
    assert cache.get(digest) is None
    cache.put(digest, token(), cache.generation)  # a verification started after it is
    assert cache.get(digest) is not None
