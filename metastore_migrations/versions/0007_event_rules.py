"""Event-driven jobs: a workflow's rules are triggers that run one job, and an execution
remembers the event that started it.

Revision ID: 0007
Revises: 0006
Create Date: 2025-03-15

Hand-written to match ``SqlTrigger`` and ``SqlExecution`` in ``aiflow/store/orm.py`` (tests
compare the migrated database with the ORM metadata).

* ``workflow_trigger.job`` (the ``JobCreate`` a rule runs, JSON, nullable: users' triggers
  have none), ``action`` (start, restart, stop) and ``origin`` (user, workflow). The two text
  columns are NOT NULL with a server default, so existing triggers read as what they are: a
  user's trigger that starts a run.
* ``execution.trigger_event_seq``: the seq of the event whose fire started the execution.

Plain columns: ALTERs on every backend, no table rebuild (``recreate="never"``; rebuilding
``execution`` on SQLite would cascade-delete its jobs).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_trigger", recreate="never") as batch:
        batch.add_column(sa.Column("job", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("action", sa.String(16), nullable=False, server_default="start"))
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False, server_default="user"))
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.add_column(sa.Column("trigger_event_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # The workflows' rules would become users' triggers repeating whole runs: drop them.
    op.execute(sa.text("DELETE FROM workflow_trigger WHERE origin = 'workflow'"))
    with op.batch_alter_table("execution", recreate="never") as batch:
        batch.drop_column("trigger_event_seq")
    with op.batch_alter_table("workflow_trigger", recreate="never") as batch:
        for column in ("origin", "action", "job"):
            batch.drop_column(column)
