"""The model lifecycle stage ``deployed`` is called ``production``.

Revision ID: 0004
Revises: 0003
Create Date: 2025-02-10

``deployed`` means one thing: the alias that picks the version to serve. A stage of the same
name did not serve anything (it is a label), which misled people, so the stage is renamed:
versions at stage ``deployed`` move to ``production``, and trigger rules waiting for the event
``MODEL_DEPLOYED`` (emitted on entering that stage) wait for ``MODEL_PRODUCTION`` instead, so
they keep firing. Events already recorded keep their type: the event log is history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_model_version = sa.table("model_version", sa.column("stage", sa.String))
_trigger = sa.table("workflow_trigger", sa.column("event_type", sa.String))


def _rename(stage: str, to: str) -> None:
    op.execute(_model_version.update().where(_model_version.c.stage == stage).values(stage=to))
    old, new = f"MODEL_{stage.upper()}", f"MODEL_{to.upper()}"
    op.execute(_trigger.update().where(_trigger.c.event_type == old).values(event_type=new))


def upgrade() -> None:
    _rename("deployed", "production")


def downgrade() -> None:
    _rename("production", "deployed")
