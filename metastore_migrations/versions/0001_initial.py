"""Initial meta store schema.

Revision ID: 0001
Revises:
Create Date: 2024-11-23

Hand-written to match ``aiflow/store/orm.py`` exactly (tests compare the migrated database with
the ORM metadata). Types are spelled out here instead of importing the ORM's, so that this
revision keeps creating the same schema when the ORM moves on:

* ``UtcDateTime`` -> ``_timestamp``: TIMESTAMPTZ on PostgreSQL, DATETIME(6) on MySQL;
* ``StrEnumType`` -> VARCHAR(16);
* ``BigId`` -> BIGINT, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workflow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflow"),
        sa.UniqueConstraint("name", name="uq_workflow_name"),
    )
    op.create_table(
        "workflow_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_hash", sa.String(128), nullable=False),
        sa.Column("source_hash", sa.String(128), nullable=False),
        sa.Column("snapshot_uri", sa.Text(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_version"),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflow.id"],
            name="fk_workflow_version_workflow_id_workflow",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "workflow_id", "version", name="uq_workflow_version_workflow_id_version"
        ),
        sa.UniqueConstraint(
            "workflow_id",
            "plan_hash",
            "source_hash",
            name="uq_workflow_version_workflow_id_plan_hash_source_hash",
        ),
    )
    op.create_table(
        "example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("batch_uri", sa.Text(), nullable=True),
        sa.Column("stream_uri", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_example"),
        sa.UniqueConstraint("name", name="uq_example_name"),
    )
    op.create_table(
        "execution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_version_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("deployer", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("driver_pid", sa.Integer(), nullable=True),
        sa.Column("driver_host", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("ended_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_execution"),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["workflow_version.id"],
            name="fk_execution_workflow_version_id_workflow_version",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_execution_workflow_version_id", "execution", ["workflow_version_id"])
    op.create_index("ix_execution_status", "execution", ["status"])
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay", sa.Double(), nullable=False),
        sa.Column("timeout", sa.Double(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("handle", sa.JSON(), nullable=True),
        sa.Column("log_uri", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("ended_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["execution.id"],
            name="fk_job_execution_id_execution",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("execution_id", "name", name="uq_job_execution_id_name"),
    )
    op.create_table(
        "job_dependency",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("depends_on_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "depends_on_id", name="pk_job_dependency"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name="fk_job_dependency_job_id_job", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["depends_on_id"],
            ["job.id"],
            name="fk_job_dependency_depends_on_id_job",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_job_dependency_depends_on_id", "job_dependency", ["depends_on_id"])
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model"),
        sa.UniqueConstraint("name", name="uq_model_name"),
    )
    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("flavor", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.String(255), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_version"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name="fk_model_version_model_id_model", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["execution.id"],
            name="fk_model_version_execution_id_execution",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name="fk_model_version_job_id_job", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version_model_id_version"),
    )
    op.create_index("ix_model_version_execution_id", "model_version", ["execution_id"])
    op.create_index("ix_model_version_job_id", "model_version", ["job_id"])
    op.create_table(
        "model_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_alias"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name="fk_model_alias_model_id_model", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name="fk_model_alias_model_version_id_model_version",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("model_id", "alias", name="uq_model_alias_model_id_alias"),
    )
    op.create_index("ix_model_alias_model_version_id", "model_alias", ["model_version_id"])
    op.create_table(
        "metric",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("execution_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metric"),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name="fk_metric_model_version_id_model_version",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["execution.id"],
            name="fk_metric_execution_id_execution",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name="fk_metric_job_id_job", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_metric_model_version_id_name", "metric", ["model_version_id", "name"])
    op.create_index("ix_metric_execution_id", "metric", ["execution_id"])
    op.create_index("ix_metric_job_id", "metric", ["job_id"])
    op.create_table(
        "event",
        sa.Column("seq", _big_id(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_event"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_key_seq", "event", ["key", "seq"])
    op.create_index("ix_event_type_seq", "event", ["type", "seq"])
    op.create_table(
        "stream_offset",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("file", sa.String(512), nullable=False),
        sa.Column("consumed_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stream_offset"),
        sa.UniqueConstraint("consumer", "file", name="uq_stream_offset_consumer_file"),
    )


def downgrade() -> None:
    # Children before parents: foreign keys are enforced (SQLite included).
    op.drop_table("stream_offset")
    op.drop_table("event")
    op.drop_table("metric")
    op.drop_table("model_alias")
    op.drop_table("model_version")
    op.drop_table("model")
    op.drop_table("job_dependency")
    op.drop_table("job")
    op.drop_table("execution")
    op.drop_table("example")
    op.drop_table("workflow_version")
    op.drop_table("workflow")
