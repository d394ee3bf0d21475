"""The meta store schema as typed SQLAlchemy ORM classes (``Sql*``).

These rows never leave the store: each class converts itself to its entity with an explicit
``to_entity()`` that takes whatever comes from other tables (names, dependency ids, aliases,
metrics) as arguments, so every query is visible in the store's modules and none hides in a
lazy load.
For the same reason there are no ``relationship()``s: referential integrity and deletes are the
database's job (foreign keys with ``ON DELETE``).

The Alembic migrations in ``aiflow/metastore_migrations/versions`` must match this module
exactly; ``tests/store/test_migrations.py`` compares them with ``compare_metadata``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from aiflow.schemas.entities import (
    ApiToken,
    Event,
    ExampleMeta,
    Execution,
    ExecutionStatus,
    Job,
    JobStatus,
    Metric,
    Model,
    ModelChange,
    ModelVersion,
    Role,
    Trigger,
    TriggerAction,
    TriggerKind,
    TriggerOrigin,
    Workflow,
    WorkflowVersion,
)
from aiflow.schemas.limits import ALIAS_LENGTH, CRON_LENGTH, NAME_LENGTH, TRIGGER_NAME_LENGTH

# Deterministic names for every index and constraint, so migrations can refer to them and
# batch-mode table rebuilds on SQLite keep them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STREAM_FILE_LENGTH = 512  # (consumer, file) must fit MySQL's 3072-byte index key in utf8mb4
TOKEN_HASH_LENGTH = 64  # hex SHA-256
CHECKSUM_LENGTH = 64  # hex SHA-256 of a model artifact
ACTOR_LENGTH = NAME_LENGTH + 16  # "token:<name>", "job:<id>", an OS user
HISTORY_VALUE_LENGTH = 1024  # a stage, a version number or a tag value


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC.

    SQLite and MySQL have no timezone-aware type and hand back naive datetimes; normalizing here
    means every entity carries aware UTC timestamps whatever the backend, and durations computed
    against ``datetime.now(UTC)`` never mix naive and aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))  # default drops microseconds
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the meta store only accepts aware ones")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class StrEnumType(TypeDecorator[E]):
    """A status enum stored as its string value in a VARCHAR.

    Not a native ENUM: adding a status must not need an ``ALTER TYPE`` migration on PostgreSQL.
    """

    impl = String(16)
    cache_ok = True

    def __init__(self, enum_cls: type[E]) -> None:
        super().__init__(16)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_cls(value)


# JSON columns that may be absent store SQL NULL (not the JSON text 'null') so IS NULL works.
NullableJSON = JSON(none_as_null=True)
# 64-bit ids where rows accumulate without bound; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SqlWorkflow(Base):
    __tablename__ = "workflow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self) -> Workflow:
        return Workflow(id=self.id, name=self.name, created_at=self.created_at)


class SqlWorkflowVersion(Base):
    __tablename__ = "workflow_version"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version"),
        UniqueConstraint("workflow_id", "plan_hash", "source_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    plan_hash: Mapped[str] = mapped_column(String(128))
    source_hash: Mapped[str] = mapped_column(String(128))
    snapshot_uri: Mapped[str] = mapped_column(Text)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self, workflow_name: str) -> WorkflowVersion:
        return WorkflowVersion(
            id=self.id,
            workflow_id=self.workflow_id,
            workflow_name=workflow_name,
            version=self.version,
            plan_hash=self.plan_hash,
            source_hash=self.source_hash,
            snapshot_uri=self.snapshot_uri,
            plan=self.plan,
            created_at=self.created_at,
        )


class SqlExample(Base):
    __tablename__ = "example"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    columns: Mapped[dict[str, str]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(32))
    batch_uri: Mapped[str | None] = mapped_column(Text)
    stream_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self) -> ExampleMeta:
        return ExampleMeta(
            id=self.id,
            name=self.name,
            columns=self.columns,
            format=self.format,
            batch_uri=self.batch_uri,
            stream_uri=self.stream_uri,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class SqlExecution(Base):
    __tablename__ = "execution"
    # Lists page by id within a filter: (filter, id) indexes read only the page on every
    # backend (0010; docs/benchmarks.md "Meta store at scale").
    __table_args__ = (
        Index(None, "workflow_version_id"),
        Index(None, "status", "id"),
        Index(None, "trigger_id", "id"),
        Index(None, "workflow_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # RESTRICT: a version with executions is history that must not silently disappear.
    workflow_version_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_version.id", ondelete="RESTRICT")
    )
    mode: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(64))
    deployer: Mapped[str] = mapped_column(String(64))
    status: Mapped[ExecutionStatus] = mapped_column(StrEnumType(ExecutionStatus))
    driver_pid: Mapped[int | None] = mapped_column(Integer)
    driver_host: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    # When the current driver started: later than started_at once a driver was replaced.
    driver_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The driver's lease: renewed every scheduler.driver_heartbeat s (aiflow.scheduler.lease).
    driver_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # No foreign key: deleting a trigger must not rewrite why its executions exist (trigger ids
    # are never reused, see SqlTrigger), and adding one would rebuild this table on SQLite.
    trigger_id: Mapped[int | None] = mapped_column(Integer)
    # The seq of the event whose fire started it (a workflow's rule): its job receives that
    # event. Recorded in the fire's transaction, so each event starts one execution at most.
    trigger_event_seq: Mapped[int | None] = mapped_column(BigInteger)
    # The workflow of its version, kept here so that a workflow's newest runs are one index
    # range whatever the number of its versions. Set on insert; 0010 filled the older rows.
    # No foreign key and nullable, as trigger_id: adding either would rebuild this table on
    # SQLite.
    workflow_id: Mapped[int | None] = mapped_column(Integer)

    def to_entity(self, workflow_name: str) -> Execution:
        return Execution(
            id=self.id,
            workflow_version_id=self.workflow_version_id,
            workflow_name=workflow_name,
            mode=self.mode,
            engine=self.engine,
            deployer=self.deployer,
            status=self.status,
            driver_pid=self.driver_pid,
            driver_host=self.driver_host,
            driver_started_at=self.driver_started_at,
            driver_heartbeat_at=self.driver_heartbeat_at,
            error=self.error,
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            trigger_id=self.trigger_id,
            trigger_event_seq=self.trigger_event_seq,
        )


class SqlJob(Base):
    __tablename__ = "job"
    # Job names are unique per execution (dependencies are declared by name); the constraint's
    # index also serves "jobs of an execution". The status index serves counts by status.
    __table_args__ = (UniqueConstraint("execution_id", "name"), Index(None, "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("execution.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    engine: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(StrEnumType(JobStatus))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_delay: Mapped[float] = mapped_column(Double, default=0.0)
    timeout: Mapped[float | None] = mapped_column(Double)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    handle: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    log_uri: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def to_entity(self, depends_on: list[int]) -> Job:
        return Job(
            id=self.id,
            execution_id=self.execution_id,
            name=self.name,
            engine=self.engine,
            status=self.status,
            attempt=self.attempt,
            max_retries=self.max_retries,
            retry_delay=self.retry_delay,
            timeout=self.timeout,
            spec=self.spec,
            depends_on=depends_on,
            handle=self.handle,
            log_uri=self.log_uri,
            exit_code=self.exit_code,
            error=self.error,
            result=self.result,
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


class SqlJobDependency(Base):
    """Edge ``job_id`` -> ``depends_on_id``: the job waits for the other one."""

    __tablename__ = "job_dependency"
    __table_args__ = (Index(None, "depends_on_id"),)  # the PK covers lookups by job_id

    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), primary_key=True)
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("job.id", ondelete="CASCADE"), primary_key=True
    )


class SqlModel(Base):
    __tablename__ = "model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self) -> Model:
        return Model(
            id=self.id, name=self.name, description=self.description, created_at=self.created_at
        )


class SqlModelVersion(Base):
    __tablename__ = "model_version"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        Index(None, "execution_id"),
        Index(None, "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    artifact_uri: Mapped[str] = mapped_column(Text)
    flavor: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    # A model outlives the execution that trained it: deleting run history keeps the model.
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("execution.id", ondelete="SET NULL")
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    node_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The version number (same model) it continued training from; no foreign key: a number,
    # like ``version``, and adding one would make SQLite rebuild this table (see 0006).
    parent_version: Mapped[int | None] = mapped_column(Integer)
    checksum: Mapped[str | None] = mapped_column(String(CHECKSUM_LENGTH))
    # Nullable (SQL NULL read as {}): a NOT NULL JSON column cannot be added to a table with
    # rows on MySQL, which allows no literal default for JSON.
    lineage: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    tags: Mapped[dict[str, str] | None] = mapped_column(NullableJSON)

    def to_entity(
        self, model_name: str, aliases: list[str], metrics: dict[str, float]
    ) -> ModelVersion:
        return ModelVersion(
            id=self.id,
            model_id=self.model_id,
            model_name=model_name,
            version=self.version,
            artifact_uri=self.artifact_uri,
            flavor=self.flavor,
            stage=self.stage,
            aliases=aliases,
            metrics=metrics,
            execution_id=self.execution_id,
            job_id=self.job_id,
            node_id=self.node_id,
            created_at=self.created_at,
            parent_version=self.parent_version,
            checksum=self.checksum,
            lineage=self.lineage or {},
            tags=self.tags or {},
        )


class SqlModelAlias(Base):
    """A movable name (``deployed``, ``champion``, ...) for one version of a model."""

    __tablename__ = "model_alias"
    __table_args__ = (
        UniqueConstraint("model_id", "alias"),
        Index(None, "model_version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(ALIAS_LENGTH))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE")
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SqlModelHistory(Base):
    """One change of a model version (stage, alias, tag), written in the transaction that made
    it, under the lock on the model row: ``id`` order is the order changes happened in, and an
    alias's rows chain (each ``from_value`` is the previous row's ``to_value``), which is what
    ``roll_back_alias`` walks."""

    __tablename__ = "model_history"
    __table_args__ = (
        Index(None, "model_id", "version"),
        Index(None, "model_id", "kind", "field"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)  # the version number, like model_version's
    kind: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(NAME_LENGTH))
    from_value: Mapped[str | None] = mapped_column(String(HISTORY_VALUE_LENGTH))
    to_value: Mapped[str | None] = mapped_column(String(HISTORY_VALUE_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self, model_name: str) -> ModelChange:
        return ModelChange(
            seq=self.id,
            model_name=model_name,
            version=self.version,
            kind=self.kind,
            field=self.field,
            from_value=self.from_value,
            to_value=self.to_value,
            actor=self.actor,
            reason=self.reason,
            metrics=self.metrics,
            created_at=self.created_at,
        )


class SqlMetric(Base):
    __tablename__ = "metric"
    __table_args__ = (
        Index(None, "model_version_id", "name"),
        Index(None, "execution_id"),
        Index(None, "job_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    value: Mapped[float] = mapped_column(Double)  # Float is single precision on MySQL
    step: Mapped[int | None] = mapped_column(Integer)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE")
    )
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("execution.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self) -> Metric:
        return Metric(
            id=self.id,
            name=self.name,
            value=self.value,
            step=self.step,
            model_version_id=self.model_version_id,
            execution_id=self.execution_id,
            job_id=self.job_id,
            created_at=self.created_at,
        )


class SqlEvent(Base):
    """The store's change feed; readers poll ``seq > last_seen``.

    ``sqlite_autoincrement`` makes SQLite never reuse a seq, even after the newest rows are
    deleted, so a reader's high-water mark stays valid.
    """

    __tablename__ = "event"
    __table_args__ = (
        Index(None, "key", "seq"),
        Index(None, "type", "seq"),
        Index(None, "key", "type", "seq"),  # an event rule's read: its key and type
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(NAME_LENGTH))
    type: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def to_entity(self) -> Event:
        return Event(
            seq=self.seq,
            key=self.key,
            type=self.type,
            value=self.value,
            created_at=self.created_at,
        )


class SqlStreamOffset(Base):
    """Ledger of stream files a consumer has fully processed (exactly-once stream reading)."""

    __tablename__ = "stream_offset"
    __table_args__ = (UniqueConstraint("consumer", "file"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(NAME_LENGTH))
    file: Mapped[str] = mapped_column(String(STREAM_FILE_LENGTH))
    consumed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SqlApiToken(Base):
    """A REST API token: only its SHA-256 is stored (see ``aiflow/store/tokens.py``).

    Revoking keeps the row (``revoked_at``) so the name stays taken and the record stays
    auditable; the unique ``token_hash`` index is what a request's token is looked up by.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def to_entity(self) -> ApiToken:
        return ApiToken(
            id=self.id,
            name=self.name,
            role=self.role,
            created_at=self.created_at,
            last_used_at=self.last_used_at,
            revoked_at=self.revoked_at,
        )


class SqlJobToken(Base):
    """A job attempt's credential for the server's job API (see ``aiflow/store/job_tokens.py``):
    only its SHA-256 is stored. Rows go with their job (``ON DELETE CASCADE``) and are purged
    once expired; ``expires_at`` is indexed for that purge."""

    __tablename__ = "job_token"
    __table_args__ = (Index(None, "job_id"), Index(None, "expires_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SqlTrigger(Base):
    """A schedule or event rule that starts executions (see ``aiflow/store/_triggers.py``).

    ``next_fire_at`` (periodic) and ``event_cursor`` (event rules) are the trigger's position:
    a fire moves it by compare-and-set in the transaction that records the execution, which is
    what makes each fire happen once however many schedulers race. ``sqlite_autoincrement``
    keeps SQLite from reusing the id of a deleted trigger, which executions still name.

    A workflow's rule (``origin`` ``workflow``, see ``aiflow/store/_rules.py``) also holds
    the ``job`` it runs (a ``JobCreate`` as JSON) and its ``action``; the fire builds the
    execution from the row itself, in its transaction.
    """

    __tablename__ = "workflow_trigger"  # TRIGGER is a reserved word in SQL
    __table_args__ = (
        Index(None, "workflow_id"),
        Index(None, "workflow_version_id"),
        Index(None, "next_fire_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(TRIGGER_NAME_LENGTH), unique=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"))
    workflow_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_version.id", ondelete="CASCADE")
    )
    kind: Mapped[TriggerKind] = mapped_column(StrEnumType(TriggerKind))
    cron: Mapped[str | None] = mapped_column(String(CRON_LENGTH))
    interval_seconds: Mapped[float | None] = mapped_column(Double)  # INTERVAL is reserved
    event_type: Mapped[str | None] = mapped_column(String(64))
    event_key: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    event_value: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    mode: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str | None] = mapped_column(String(64))
    deployer: Mapped[str | None] = mapped_column(String(64))
    max_active: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    next_fire_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    event_cursor: Mapped[int | None] = mapped_column(BigInteger)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Server defaults only (no Python ones), so rows written without them, by code older
    # than 0007, still get them; the store always sets both.
    job: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    action: Mapped[TriggerAction] = mapped_column(String(16), server_default="start")
    origin: Mapped[TriggerOrigin] = mapped_column(String(16), server_default="user")

    def to_entity(self, workflow_name: str, version: int | None) -> Trigger:
        return Trigger(
            id=self.id,
            name=self.name,
            workflow_name=workflow_name,
            version=version,
            kind=self.kind,
            cron=self.cron,
            interval=self.interval_seconds,
            event_type=self.event_type,
            event_key=self.event_key,
            event_value=self.event_value,
            mode=self.mode,
            engine=self.engine,
            deployer=self.deployer,
            max_active=self.max_active,
            enabled=self.enabled,
            next_fire_at=self.next_fire_at,
            event_cursor=self.event_cursor,
            last_fired_at=self.last_fired_at,
            created_at=self.created_at,
            updated_at=self.updated_at,
            origin=self.origin,
            job=self.job["name"] if self.job else None,
            action=self.action,
        )
