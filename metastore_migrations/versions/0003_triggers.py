"""Triggers: schedules and event rules that start executions.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-20

Hand-written to match ``SqlTrigger`` and ``SqlExecution.trigger_id`` in ``aiflow/store/orm.py``
(tests compare the migrated database with the ORM metadata). As before, the types are spelled
out rather than imported from the ORM (``UtcDateTime`` -> ``_timestamp``, ``StrEnumType`` ->
VARCHAR(16)).

``execution.trigger_id`` has no foreign key on purpose: an execution keeps naming the trigger
that started it after the trigger is deleted, and adding a foreign key to an existing table
would make SQLite rebuild ``execution``, whose ``ON DELETE CASCADE`` children (jobs) would be
deleted by the rebuild. Adding and dropping a plain column are ALTERs on every backend
(``recreate="never"`` makes sure SQLite, 3.35+, does not rebuild either).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "workflow_trigger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(247), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("workflow_version_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cron", sa.String(128), nullable=True),
        sa.Column("interval_seconds", sa.Double(), nullable=True),
        sa.Column("event_type", sa.String(64), nullable=True),
        sa.Column("event_key", sa.String(255), nullable=True),
        sa.Column("event_value", sa.String(255), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(64), nullable=True),
        sa.Column("deployer", sa.String(64), nullable=True),
        sa.Column("max_active", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", _timestamp(), nullable=True),
        sa.Column("event_cursor", sa.BigInteger(), nullable=True),
        sa.Column("last_fired_at", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_trigger"),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflow.id"],
            name="fk_workflow_trigger_workflow_id_workflow",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["workflow_version.id"],
            name="fk_workflow_trigger_workflow_version_id_workflow_version",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("name", name="uq_workflow_trigger_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_workflow_trigger_workflow_id", "workflow_trigger", ["workflow_id"])
    op.create_index(
        "ix_workflow_trigger_workflow_version_id", "workflow_trigger", ["workflow_version_id"]
    )
    op.create_index("ix_workflow_trigger_next_fire_at", "workflow_trigger", ["next_fire_at"])
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.add_column(sa.Column("trigger_id", sa.Integer(), nullable=True))
        batch.create_index("ix_execution_trigger_id", ["trigger_id"])


def downgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_index("ix_execution_trigger_id")
        batch.drop_column("trigger_id")
    op.drop_table("workflow_trigger")
