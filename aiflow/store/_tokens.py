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
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from aiflow.errors import AlreadyExists, InvalidInput, NotFound
from aiflow.store._base import StoreBase
from aiflow.store.entities import ApiToken, Role
from aiflow.store.orm import NAME_LENGTH, SqlApiToken, utcnow

TOKEN_PREFIX: Final = "aif_"
# Names appear in URLs (DELETE /tokens/{name}) and shell commands: keep them plain.
TOKEN_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# ``last_used_at`` is for humans ("is this token still used?"): minute resolution is plenty,
# and it saves a write transaction on almost every request.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)

_NAME_RE: Final = re.compile(TOKEN_NAME_PATTERN)


def hash_token(plaintext: str) -> str:
    """The stored form of a token: SHA-256, hex (see the module docstring for why)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


class TokenStore(StoreBase):
    def create_token(self, name: str, role: Role | str) -> tuple[ApiToken, str]:
        """Create a token; return its record and the plaintext, which exists nowhere else.

        Names are unique for good, revoked tokens included, so a name in an audit trail always
        means one token: rotate by creating ``ci-2`` and revoking ``ci``.
        """
        if not (1 <= len(name) <= NAME_LENGTH) or not _NAME_RE.match(name):
            raise InvalidInput(
                f"token name {name!r} is invalid: use 1 to {NAME_LENGTH} letters, digits, "
                "'.', '_' or '-', starting with a letter or digit"
            )
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

    def verify_token(self, plaintext: str) -> ApiToken | None:
        """The active token ``plaintext`` is, or ``None`` (unknown, malformed or revoked).

        Called on every API request: one indexed read, plus a write at most once a minute per
        token to refresh ``last_used_at``. A request racing a revocation by milliseconds may
        still pass; every later one fails.
        """
        if not plaintext.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(plaintext)
        with self._read() as session:
            row = session.scalars(
                select(SqlApiToken).where(SqlApiToken.token_hash == digest)
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            token = row.to_entity()
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

    def revoke_token(self, name: str) -> ApiToken:
        """Revoke a token for good; revoking it again changes nothing (keeps the first time)."""
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
            return row.to_entity()


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
