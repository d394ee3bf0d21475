"""API tokens of the REST server: create (the secret is shown once), verify, list, revoke.

A token is ``aif_`` + 32 random bytes (URL-safe base64). The prefix makes a leaked token easy
to recognise (secret scanners, logs) and lets ``verify_token`` reject anything else without a
query. Only the token's SHA-256 (hex) is stored.

Why plain SHA-256 and not bcrypt/scrypt/argon2: a slow KDF protects *low-entropy* secrets
(passwords) against offline guessing after the database leaks. A 256-bit random token cannot be
guessed at any hash speed, so a slow KDF would only add latency to every request -- and a salted
KDF would also rule out finding the token by an indexed equality lookup on its hash.

Why no ``hmac.compare_digest``: the comparison happens on the *digest*, inside the database's
index lookup. Timing it tells an attacker about digests of their own guesses, which says nothing
about any valid token's digest (preimage resistance), so the lookup is constant-time where it
matters.

The server checks a token on every request; with ``cache_seconds`` it remembers a *verified*
token in this process for that long (``VerifiedTokens``), so that requests of a busy client
cost no query and no thread hand-off for authentication. Revoking in this process forgets every
remembered token at once; a revocation made elsewhere (another server process, ``aiflow token
revoke`` on the store) is seen within ``cache_seconds``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Final

from cachetools import TTLCache
from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.schemas.entities import ApiToken, Role
from aiflow.schemas.limits import check_name
from aiflow.store._base import StoreBase, check_limit, count_rows
from aiflow.store.orm import SqlApiToken, utcnow

TOKEN_PREFIX: Final = "aif_"
# ``last_used_at`` is for humans ("is this token still used?"): minute resolution is plenty,
# and it saves a write transaction on almost every request.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)

# Verified tokens one process remembers per store; more (distinct active tokens used within
# cache_seconds) only means more re-verification queries, never a wrong answer.
TOKEN_CACHE_SIZE: Final = 1024


def hash_token(plaintext: str) -> str:
    """The stored form of a token: SHA-256, hex (see the module docstring for why)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


class TokenStore(StoreBase):
    def create_token(self, name: str, role: Role | str) -> tuple[ApiToken, str]:
        """Create a token; return its record and the plaintext, which exists nowhere else.

        Names are unique for good, revoked tokens included, so a name in an audit trail always
        means one token: rotate by creating ``ci-2`` and revoking ``ci``.
        """
        check_name("token", name)
        role = _role(role)
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = SqlApiToken(name=name, role=role, token_hash=hash_token(plaintext))
        try:
            with self._write() as session:
                session.add(row)
                session.flush()
                return row.to_entity(), plaintext
        except IntegrityError:
            # The unique index is the guarantee (no race between a check and the insert); a
            # hash collision of two random 256-bit tokens is not a practical possibility.
            raise AlreadyExists(
                f"API token '{name}' already exists (names of revoked tokens stay taken); "
                "choose another name (see `aiflow token list`)"
            ) from None

    def verify_token(self, plaintext: str, *, cache_seconds: float = 0) -> ApiToken | None:
        """The active token ``plaintext`` is, or ``None`` (unknown, malformed or revoked).

        One indexed read (a Core statement built once: this runs on every API request), plus a
        write at most once a minute per token to refresh ``last_used_at``. A request racing a
        revocation by milliseconds may still pass; every later one fails.

        ``cache_seconds > 0``: answer from, and remember the answer in, this process's cache of
        verified tokens (``cached_token``); a token revoked elsewhere is seen within that time.
        Unknown and revoked tokens are never remembered: a new token works at once, and junk
        tokens cannot fill the cache.
        """
        if not plaintext.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(plaintext)
        if cache_seconds <= 0:
            return self._verify_digest(digest)
        remembered = verified_tokens(self.uri, cache_seconds)
        hit = remembered.get(digest)
        if hit is not None:
            return hit
        generation = remembered.generation  # taken before the read: a revocation after it wins
        token = self._verify_digest(digest)
        if token is not None:
            remembered.put(digest, token, generation)
        return token

    def cached_token(self, plaintext: str, cache_seconds: float) -> ApiToken | None:
        """The token if ``verify_token(plaintext, cache_seconds=...)`` verified it in this
        process within ``cache_seconds``, else ``None``. No I/O: safe on an event loop."""
        if cache_seconds <= 0 or not plaintext.startswith(TOKEN_PREFIX):
            return None
        return verified_tokens(self.uri, cache_seconds).get(hash_token(plaintext))

    def _verify_digest(self, digest: str) -> ApiToken | None:
        with self._read_connection() as connection:
            row = connection.execute(_by_hash(), {"digest": digest}).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        token = ApiToken(
            id=row.id,
            name=row.name,
            role=row.role,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=None,
        )
        now = utcnow()
        if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
            return token
        with self._write() as session:
            # Conditional, so concurrent requests with the same token write it once.
            session.execute(
                update(SqlApiToken)
                .where(
                    SqlApiToken.id == token.id,
                    or_(
                        SqlApiToken.last_used_at.is_(None),
                        SqlApiToken.last_used_at < now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
        return token.model_copy(update={"last_used_at": now})

    def list_tokens(self) -> list[ApiToken]:
        """Every token by name, revoked ones included (they show ``revoked_at``)."""
        with self._read() as session:
            rows = session.scalars(select(SqlApiToken).order_by(SqlApiToken.name))
            return [row.to_entity() for row in rows]

    def page_tokens(self, *, cursor: str | None = None, limit: int = 50) -> list[ApiToken]:
        """Tokens by name, revoked ones included, those after ``cursor`` (a name)."""
        check_limit(limit)
        stmt = select(SqlApiToken).order_by(SqlApiToken.name).limit(limit)
        if cursor is not None:
            stmt = stmt.where(SqlApiToken.name > cursor)
        with self._read() as session:
            return [row.to_entity() for row in session.scalars(stmt)]

    def count_tokens(self) -> int:
        with self._read() as session:
            return count_rows(session, select(SqlApiToken.id))

    def revoke_token(self, name: str) -> ApiToken:
        """Revoke a token for good; revoking it again changes nothing (keeps the first time).

        This process's cache of verified tokens for the store is emptied, whichever token it
        was (revocations are rare; re-verifying the active ones once is cheap), so the token
        fails here from now on."""
        with self._write() as session:
            session.execute(
                update(SqlApiToken)
                .where(SqlApiToken.name == name, SqlApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            row = session.scalars(select(SqlApiToken).where(SqlApiToken.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"API token '{name}' not found (see `aiflow token list`)")
            token = row.to_entity()
        # After the commit, not before: a verification that read the row before the commit
        # holds the old generation and may no longer store its answer (VerifiedTokens).
        forget_verified_tokens(self.uri)
        return token


@cache
def _by_hash() -> Select[tuple[object, ...]]:
    """The token lookup by digest, built once: building the statement per request cost more
    than running it (see docs/benchmarks.md)."""
    table = SqlApiToken.__table__
    columns = ("id", "name", "role", "created_at", "last_used_at", "revoked_at")
    return select(*(table.c[c] for c in columns)).where(table.c.token_hash == bindparam("digest"))


class VerifiedTokens:
    """Tokens verified recently, by digest: bounded (``TOKEN_CACHE_SIZE``, least recently
    used out first) and each kept ``ttl`` seconds at most.

    Built on ``cachetools.TTLCache`` (a well-kept library; size bound, expiry and LRU order
    are easy to get subtly wrong by hand). Thread-safe: the server reads it on the event loop
    and fills it from worker threads. ``generation`` closes the race between a verification
    and a revocation in this process: a verification that read the row before a ``clear`` may
    not store its (possibly stale) answer after it.
    """

    def __init__(
        self, ttl: float, maxsize: int = TOKEN_CACHE_SIZE, timer: Callable[[], float] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._tokens: TTLCache[str, ApiToken] = TTLCache(
            maxsize, ttl, timer=timer or time.monotonic
        )
        self.generation = 0

    def get(self, digest: str) -> ApiToken | None:
        with self._lock:
            return self._tokens.get(digest)

    def put(self, digest: str, token: ApiToken, generation: int) -> None:
        with self._lock:
            if generation == self.generation:
                self._tokens[digest] = token

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._tokens.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


_caches: dict[tuple[str, float], VerifiedTokens] = {}
_caches_lock = threading.Lock()


def verified_tokens(uri: str, ttl: float) -> VerifiedTokens:
    """This process's cache of verified tokens of the store at ``uri``, kept ``ttl`` seconds.

    Per process and store rather than per ``MetaStore`` object, so that a revocation through
    any store object of this process empties it."""
    key = (uri, ttl)
    found = _caches.get(key)
    if found is None:
        with _caches_lock:
            found = _caches.setdefault(key, VerifiedTokens(ttl))
    return found


def forget_verified_tokens(uri: str) -> None:
    """Empty this process's caches of verified tokens of the store at ``uri``."""
    with _caches_lock:
        of_store = [tokens for (cached_uri, _), tokens in _caches.items() if cached_uri == uri]
    for tokens in of_store:
        tokens.clear()


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
