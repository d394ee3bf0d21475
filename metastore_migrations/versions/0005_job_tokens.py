"""Job tokens: the credential a job attempt uses for the server's job API.

Revision ID: 0005
Revises: 0004
Create Date: 2025-02-12

Hand-written to match ``SqlJobToken`` in ``aiflow/store/orm.py`` (tests compare the migrated
database with the ORM metadata); types spelled out as in the earlier revisions (``BigId`` ->
BIGINT, INTEGER on SQLite; ``UtcDateTime`` -> ``_timestamp``). Only the SHA-256 of a token is
stored. A new table, so nothing existing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "job_token",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name="fk_job_token_job_id_job", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_token"),
        sa.UniqueConstraint("token_hash", name="uq_job_token_token_hash"),
    )
    op.create_index("ix_job_token_job_id", "job_token", ["job_id"])
    op.create_index("ix_job_token_expires_at", "job_token", ["expires_at"])


def downgrade() -> None:
    # The indexes go with the table (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("job_token")
