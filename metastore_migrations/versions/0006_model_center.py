"""The model center: each version's parent, checksum, lineage and tags; the model history; and
the stage ``deployed`` back, now going with the alias of the same name.

Revision ID: 0006
Revises: 0005
Create Date: 2025-03-01

Hand-written to match ``SqlModelVersion`` and ``SqlModelHistory`` in ``aiflow/store/orm.py``
(tests compare the migrated database with the ORM metadata); types spelled out as in the earlier
revisions (``BigId`` -> BIGINT, INTEGER on SQLite; ``UtcDateTime`` -> ``_timestamp``).

* ``model_version`` gains plain nullable columns: ALTERs on every backend, no rebuild
  (``recreate="never"``; a rebuild on SQLite would cascade-delete the versions' aliases and
  metrics). The JSON ones are nullable (read as ``{}``): MySQL allows no literal default for
  JSON, so a NOT NULL one could not be added to a table with rows.
* Stages: ``production`` is ``deployed`` again and ``deprecated`` is ``retired``. ``deployed``
  now names one thing, what is served: the stage goes with the serving alias (promoting moves
  both). Trigger rules waiting for ``MODEL_PRODUCTION`` / ``MODEL_DEPRECATED`` wait for
  ``MODEL_DEPLOYED`` / ``MODEL_RETIRED``, the events those stages now emit. Events already
  recorded keep their type: the event log is history.
* Alias history moves from the event log to ``model_history``, which ``roll_back_alias`` now
  walks: the ``MODEL_ALIAS_SET`` / ``MODEL_ALIAS_DELETED`` events already recorded are copied
  into it, so a rollback right after the upgrade still finds the previous version.

Downgrading renames the stages back and drops the new columns and the history; versions at the
new stages ``rejected`` and ``failed`` keep them (plain text to the older code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENAMED = {"production": "deployed", "deprecated": "retired"}
_ALIAS_SET, _ALIAS_DELETED = "MODEL_ALIAS_SET", "MODEL_ALIAS_DELETED"
_COPIED_REASON = "recorded in the event log before the model history existed"
_BATCH = 500


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


_model = sa.table("model", sa.column("id", sa.Integer), sa.column("name", sa.String))
_model_version = sa.table("model_version", sa.column("stage", sa.String))
_trigger = sa.table("workflow_trigger", sa.column("event_type", sa.String))
_event = sa.table(
    "event",
    sa.column("seq", sa.BigInteger),
    sa.column("key", sa.String),
    sa.column("type", sa.String),
    sa.column("value", sa.Text),
    sa.column("created_at", _timestamp()),
)
_history = sa.table(
    "model_history",
    sa.column("model_id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("field", sa.String),
    sa.column("from_value", sa.String),
    sa.column("to_value", sa.String),
    sa.column("actor", sa.String),
    sa.column("reason", sa.Text),
    sa.column("metrics", sa.JSON),
    sa.column("created_at", _timestamp()),
)


def upgrade() -> None:
    with op.batch_alter_table("model_version", recreate="never") as batch:
        batch.add_column(sa.Column("parent_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("checksum", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lineage", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=True))
    op.create_table(
        "model_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("from_value", sa.String(1024), nullable=True),
        sa.Column("to_value", sa.String(1024), nullable=True),
        sa.Column("actor", sa.String(271), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name="fk_model_history_model_id_model", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_model_history"),
    )
    op.create_index("ix_model_history_model_id_version", "model_history", ["model_id", "version"])
    op.create_index(
        "ix_model_history_model_id_kind_field", "model_history", ["model_id", "kind", "field"]
    )
    for old, new in _RENAMED.items():
        _rename(old, new)
    _copy_alias_history()


def downgrade() -> None:
    for old, new in _RENAMED.items():
        _rename(new, old)
    # The indexes go with the table (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("model_history")
    with op.batch_alter_table("model_version", recreate="never") as batch:
        for column in ("tags", "lineage", "checksum", "parent_version"):
            batch.drop_column(column)


def _rename(stage: str, to: str) -> None:
    op.execute(_model_version.update().where(_model_version.c.stage == stage).values(stage=to))
    old, new = f"MODEL_{stage.upper()}", f"MODEL_{to.upper()}"
    op.execute(_trigger.update().where(_trigger.c.event_type == old).values(event_type=new))


def _copy_alias_history() -> None:
    """One history row per alias event, oldest first, chained per (model, alias) as the store
    writes them: a move on the version that took the alias, from the one that had it."""
    bind = op.get_bind()
    model_ids: dict[str, int] = {
        name: model_id for model_id, name in bind.execute(sa.select(_model.c.id, _model.c.name))
    }
    events = bind.execute(
        sa.select(_event.c.key, _event.c.type, _event.c.value, _event.c.created_at)
        .where(_event.c.type.in_([_ALIAS_SET, _ALIAS_DELETED]))
        .order_by(_event.c.seq)
    )
    holders: dict[tuple[int, str], int] = {}
    rows: list[dict[str, Any]] = []
    for key, type, value, created_at in events:
        model_id = model_ids.get(key)
        if model_id is None:
            continue
        if type == _ALIAS_SET:
            alias, _, target = value.rpartition("=")
            if not alias or not target.isdigit():
                continue
            was, version = holders.get((model_id, alias)), int(target)
            holders[model_id, alias] = version
            values = (version, None if was is None else str(was), target)
        else:
            alias = value
            was = holders.pop((model_id, alias), None)
            if was is None:
                continue
            values = (was, str(was), None)
        version, from_value, to_value = values
        rows.append(
            {
                "model_id": model_id,
                "version": version,
                "kind": "alias",
                "field": alias,
                "from_value": from_value,
                "to_value": to_value,
                "actor": "aiflow",
                "reason": _COPIED_REASON,
                "metrics": {},
                "created_at": created_at,
            }
        )
    for start in range(0, len(rows), _BATCH):
        bind.execute(_history.insert(), rows[start : start + _BATCH])
