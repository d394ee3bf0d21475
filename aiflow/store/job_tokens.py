"""Job tokens: the credential one job attempt uses for the server's job API, instead of the
meta store's URL.

Why: a job runs user code. Handing it the meta store URL (or the server's secret key) lets any
editor's workflow write what it likes into the store -- an admin API token, say -- so under a
server a job holds only a token that allows what a job does, for itself: read its own job and
execution, publish its own result, register versions of the models its spec trains, read the
versions it evaluates or serves, log its metrics, keep its stream ledger. The server checks the
scope (``aiflow.server.routes.job_api``); this module keeps the tokens.

A token is ``afj_`` + 32 random bytes (URL-safe base64); only its SHA-256 is stored (plain
SHA-256 is enough for a 256-bit random secret, see ``aiflow.store.tokens``). The prefix differs
from API tokens' ``aif_``, so neither kind is ever accepted where the other is expected.

A token is valid while both hold:

* it has not expired. Tokens live ``JOB_TOKEN_LIFETIME`` (10 minutes) and the job's runtime
  extends its token while it runs (a heartbeat): a token that leaks out of a job that ended or
  hung without its driver noticing is dead within minutes;
* its attempt is the job's current one: the job row is RUNNING with that attempt, or QUEUED
  with the attempt before it (the driver records RUNNING just after the deployer started the
  process, so the process may call first). Once the driver records the attempt's end (succeeded,
  failed, retried, killed, reconciled) the token is refused at once: ending an attempt revokes
  its tokens in the same transaction that ends it, whoever ends it, without the driver having
  to remember to.

Expired rows are deleted whenever a new token is minted, so the table holds about one row per
running attempt.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

from sqlalchemy import Select, bindparam, delete, select, update

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import JobStatus
from aiflow.store._base import StoreBase, rowcount
from aiflow.store.orm import SqlJob, SqlJobToken, SqlModel, SqlModelVersion, utcnow

JOB_TOKEN_PREFIX: Final = "afj_"
JOB_TOKEN_LIFETIME: Final = 600.0  # s; extended by the job's heartbeat while it runs


@dataclass(frozen=True)
class JobGrant:
    """What a valid job token stands for: one attempt of one job."""

    job_id: int
    execution_id: int
    attempt: int
    expires_at: datetime


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class JobTokenStore(StoreBase):
    def create_job_token(
        self, job_id: int, attempt: int, *, lifetime: float = JOB_TOKEN_LIFETIME
    ) -> str:
        """Mint a token for attempt ``attempt`` of job ``job_id``; return the plaintext, which
        exists nowhere else. Deletes every expired token on the way."""
        if attempt < 1 or lifetime <= 0:
            raise InvalidInput(f"job token: attempt {attempt} and lifetime {lifetime} must be > 0")
        plaintext = JOB_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self._write() as session:
            session.execute(
                delete(SqlJobToken)
                .where(SqlJobToken.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            session.add(
                SqlJobToken(
                    token_hash=_digest(plaintext),
                    job_id=job_id,
                    attempt=attempt,
                    created_at=now,
                    expires_at=now + timedelta(seconds=lifetime),
                )
            )
        return plaintext

    def verify_job_token(self, plaintext: str) -> JobGrant | None:
        """The attempt ``plaintext`` is a valid token of, or ``None`` (unknown, malformed,
        expired, or its attempt ended). One indexed read."""
        if not plaintext.startswith(JOB_TOKEN_PREFIX):
            return None
        with self._read() as session:
            row = session.execute(_lookup(), {"digest": _digest(plaintext)}).one_or_none()
        return _grant(row, utcnow())

    def extend_job_token(
        self, plaintext: str, *, lifetime: float = JOB_TOKEN_LIFETIME
    ) -> JobGrant | None:
        """Push a valid token's expiry to ``lifetime`` seconds from now (the job's heartbeat);
        ``None`` if it is no longer valid, which it then stays."""
        if not plaintext.startswith(JOB_TOKEN_PREFIX):
            return None
        digest = _digest(plaintext)
        now = utcnow()
        with self._write() as session:
            grant = _grant(session.execute(_lookup(), {"digest": digest}).one_or_none(), now)
            if grant is None:
                return None
            expires_at = now + timedelta(seconds=lifetime)
            session.execute(
                update(SqlJobToken)
                .where(SqlJobToken.token_hash == digest)
                .values(expires_at=expires_at)
                .execution_options(synchronize_session=False)
            )
        return JobGrant(grant.job_id, grant.execution_id, grant.attempt, expires_at)

    def revoke_job_tokens(self, job_id: int, attempt: int | None = None) -> int:
        """Delete the tokens of a job (of one attempt); returns how many there were. Ending the
        attempt already invalidates them (see the module docstring): this removes the rows."""
        stmt = delete(SqlJobToken).where(SqlJobToken.job_id == job_id)
        if attempt is not None:
            stmt = stmt.where(SqlJobToken.attempt == attempt)
        with self._write() as session:
            return rowcount(session.execute(stmt.execution_options(synchronize_session=False)))

    def model_of_version(self, version_id: int) -> str | None:
        """The name of the model a version id belongs to, or ``None``: what the job API checks
        before a job logs metrics against a version."""
        with self._read() as session:
            return session.scalar(
                select(SqlModel.name)
                .join(SqlModelVersion, SqlModelVersion.model_id == SqlModel.id)
                .where(SqlModelVersion.id == version_id)
            )


@cache
def _lookup() -> Select[int, int, datetime, int, JobStatus, int]:
    """A token and the state of its job, by digest (built once: it runs on every call)."""
    return (
        select(
            SqlJobToken.job_id,
            SqlJobToken.attempt,
            SqlJobToken.expires_at,
            SqlJob.execution_id,
            SqlJob.status,
            SqlJob.attempt.label("job_attempt"),
        )
        .join(SqlJob, SqlJob.id == SqlJobToken.job_id)
        .where(SqlJobToken.token_hash == bindparam("digest"))
    )


def _grant(row: Any, now: datetime) -> JobGrant | None:
    if row is None or row.expires_at <= now:
        return None
    current = (row.status == JobStatus.RUNNING and row.job_attempt == row.attempt) or (
        row.status == JobStatus.QUEUED and row.job_attempt == row.attempt - 1
    )
    if not current:
        return None
    return JobGrant(row.job_id, row.execution_id, row.attempt, row.expires_at)
