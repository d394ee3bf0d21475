"""Drivers can be replaced: ``execution.driver_started_at``, when the current driver started.

Revision ID: 0008
Revises: 0007
Create Date: 2025-03-22

A driver that died (``kill -9``, a lost node) is replaced by one that adopts its running jobs
(``aiflow.scheduler.reconcile``), so the execution's driver may start long after the execution did.
Telling a live driver from a recycled pid compares the process's start with the driver's, no
longer with ``started_at`` (which stays the execution's first start). Nullable: rows written
before this revision fall back to ``started_at``, which was the same moment for them.

A plain column: an ALTER on every backend, no table rebuild (``recreate="never"``; rebuilding
``execution`` on SQLite would cascade-delete its jobs). Hand-written to match
``SqlExecution``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    """The ORM's ``UtcDateTime``, spelled out (migrations do not import the ORM)."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.add_column(sa.Column("driver_started_at", _timestamp(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_column("driver_started_at")
