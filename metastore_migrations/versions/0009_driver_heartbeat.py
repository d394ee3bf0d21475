"""Driver leases: ``execution.driver_heartbeat_at``, when the driver last said it was alive.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A driver is judged dead from its own host by its pid; from any other host (a replaced
Kubernetes pod has another hostname) only a lease can tell: the driver renews this timestamp
every ``scheduler.driver_heartbeat`` seconds, and one not renewed for ``scheduler.driver_lease``
seconds is dead (``aiflow.scheduler.lease``). Nullable: rows written before this revision, and
drivers of an older aiflow, have none, and are left to their own host as before.

A plain column, as 0008: an ALTER on every backend, no table rebuild (``recreate="never"``;
rebuilding ``execution`` on SQLite would cascade-delete its jobs). Hand-written to match
``SqlExecution``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    """The ORM's ``UtcDateTime``, spelled out (migrations do not import the ORM)."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.add_column(sa.Column("driver_heartbeat_at", _timestamp(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_column("driver_heartbeat_at")
