"""Indexes for lists on a big store, and ``execution.workflow_id`` for a workflow's runs.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Measured on a store of 100k executions, 1M jobs and 5M events
(``benchmarks/meta_store_scale.py``, docs/benchmarks.md "Meta store at scale"):

* ``execution.workflow_id`` (the workflow of its version, filled here from
  ``workflow_version``; the store sets it on every new execution) with an index on
  ``(workflow_id, id)``: "a workflow's newest runs" was a sort of all the runs of all its
  versions (``workflow_version_id IN (...)``), one range now however many it has. No foreign
  key, as ``trigger_id`` (0003): adding one would make SQLite rebuild ``execution`` and
  cascade-delete its jobs. Nullable for the same reason (SQLite cannot add a NOT NULL column
  without a default); no row is left NULL.
* ``execution (status, id)`` and ``(trigger_id, id)`` replace the one-column indexes: pages of a
  status or a trigger's runs in id order read only the page on PostgreSQL and MySQL too (SQLite's
  one-column index already ended with the rowid).
* ``event (key, type, seq)``: an event rule with a key and a type (``MODEL_GENERATED`` of one
  model) reads its events after its cursor by both; with ``(type, seq)`` alone it scanned every
  event of the type (0.8 s on SQLite for a rare key with an old cursor).
* ``job (status)``: counting jobs by status (``/metrics``) scans the index, not the rows.

Creating the indexes takes a while on a big store (the benchmark reports how long): plain
``CREATE INDEX`` in the migration's transaction, so writers wait for it on PostgreSQL. Plain
column and index changes: ALTERs on every backend, no table rebuild (``recreate="never"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.add_column(sa.Column("workflow_id", sa.Integer(), nullable=True))
    execution = sa.table("execution", sa.column("workflow_id"), sa.column("workflow_version_id"))
    version = sa.table("workflow_version", sa.column("id"), sa.column("workflow_id"))
    of_version = (
        sa.select(version.c.workflow_id)
        .where(version.c.id == execution.c.workflow_version_id)
        .scalar_subquery()
    )
    op.execute(execution.update().values(workflow_id=of_version))
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_index("ix_execution_status")
        batch.drop_index("ix_execution_trigger_id")
        batch.create_index("ix_execution_status_id", ["status", "id"])
        batch.create_index("ix_execution_trigger_id_id", ["trigger_id", "id"])
        batch.create_index("ix_execution_workflow_id_id", ["workflow_id", "id"])
    op.create_index("ix_event_key_type_seq", "event", ["key", "type", "seq"])
    op.create_index("ix_job_status", "job", ["status"])


def downgrade() -> None:
    op.drop_index("ix_job_status", table_name="job")
    op.drop_index("ix_event_key_type_seq", table_name="event")
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_index("ix_execution_workflow_id_id")
        batch.drop_index("ix_execution_trigger_id_id")
        batch.drop_index("ix_execution_status_id")
        batch.create_index("ix_execution_trigger_id", ["trigger_id"])
        batch.create_index("ix_execution_status", ["status"])
        batch.drop_column("workflow_id")
