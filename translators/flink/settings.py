"""The ``[flink]`` settings section (``AIFLOW__FLINK__*``), registered by the engine's plugin."""

from __future__ import annotations

from pydantic import BaseModel, Field

from aiflow.config import Settings, get_settings


class FlinkSettings(BaseModel):
    """The Flink engine: where its jobs run, and the session cluster ``aiflow flink start`` runs.

    With ``rest_url`` unset each Flink job runs in an embedded mini-cluster inside its own job
    process; set, jobs are submitted to that session cluster and watched through its REST API.
    The memory defaults fit a small machine (the cluster takes about 2.7 GB in all)."""

    rest_url: str | None = Field(
        default=None,
        description="session cluster REST URL (http://host:port); unset: embedded mini-cluster; "
        "env AIFLOW__FLINK__REST_URL",
    )
    web_ui_url: str | None = Field(
        default=None,
        description="the session cluster's web UI when users reach it elsewhere than rest_url "
        "(a YARN session: the ResourceManager's proxy); env AIFLOW__FLINK__WEB_UI_URL",
    )
    checkpoints_dir: str | None = Field(
        default=None,
        description="URI under which stream jobs keep checkpoints (hdfs://nn:8020/aiflow/chk, "
        "file:///...); unset: $AIFLOW_HOME/flink/jobs",
    )
    checkpoint_interval: float = Field(
        default=5.0,
        gt=0,
        description="seconds between checkpoints of stream jobs that write files: each one "
        "commits a part file per sink, whose records become visible then (shorter: sooner, and "
        "more, smaller files)",
    )
    kafka_checkpoint_interval: float = Field(
        default=0.5,
        gt=0,
        description="seconds between checkpoints of stream jobs whose every output is a Kafka "
        "topic: each one commits the records' transaction, and read_committed consumers see "
        "them then (no files pile up)",
    )
    batch_bundle_rows: int = Field(
        default=200_000,
        ge=1,
        description="records a Python function of a batch job gets before the JVM waits for "
        "all its results (a bundle's end): until then Flink keeps a small row for each record "
        "and every result (~0.5 KB a record of a 14-column csv), so this bounds the JVM's "
        "memory; larger: fewer waits, more memory",
    )
    parallelism: int = Field(default=1, ge=1, description="default parallelism of Flink jobs")
    jobmanager_memory: str = Field(default="1024m", description="JobManager process size")
    taskmanager_memory: str = Field(default="1728m", description="TaskManager process size")
    slots: int = Field(default=2, ge=1, description="task slots of the TaskManager")
    taskmanager_idle_timeout: float = Field(
        default=300.0,
        gt=0,
        description="seconds a session on YARN keeps an idle TaskManager before giving its "
        "container back (Flink's own 30 s makes the next job wait ~30 s for a new one)",
    )
    rest_port: int = Field(default=0, ge=0, le=65535, description="REST/web UI port; 0: free")
    rpc_port: int = Field(default=0, ge=0, le=65535, description="JobManager RPC port; 0: free")
    warm_gateways: int = Field(
        default=1,
        ge=0,
        le=8,
        description="gateway JVMs kept started and warmed for the Flink jobs the local deployer "
        "starts (a pool daemon per user and launch environment, started by the first such job "
        "and ended after 10 idle minutes): a job adopting one skips the JVM start, its cold "
        "planning and its cold submission; 0: each job launches its own",
    )
    java_home: str | None = Field(
        default=None, description="JDK for Flink; default $JAVA_HOME, then `java` on PATH"
    )


def flink_settings(settings: Settings | None = None) -> FlinkSettings:
    """The Flink section of ``settings`` (default: the effective settings)."""
    return (settings or get_settings()).section("flink", FlinkSettings)
