"""Effective configuration: defaults < config file < ``AIFLOW__SECTION__KEY`` env.

The config file is ``$AIFLOW_HOME/aiflow.toml`` or ``aiflow.yaml`` / ``aiflow.yml`` -- one of
them: with several, or with an unknown key or a bad value in it, loading the settings fails
naming the file and the key (see ``aiflow.config_file``). ``AIFLOW_HOME`` itself (default
``~/aiflow``) is read from the environment only, because it says where the config file is.
Nothing here touches the disk at import time, so ``aiflow --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from aiflow.config_file import config_file_source, find_config_file

M = TypeVar("M", bound=BaseModel)


def aiflow_home() -> Path:
    return Path(os.environ.get("AIFLOW_HOME", Path.home() / "aiflow")).expanduser().resolve()


def user_run_dir() -> Path:
    """A directory only this user reads (``~/.cache/aiflow/run``, mode 0700): the sockets,
    locks and logs of the machine's shared daemons (warm fork servers, Flink gateway pools)."""
    path = Path.home() / ".cache" / "aiflow" / "run"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def start_user_daemon(command: list[str], env: dict[str, str], log_path: Path) -> None:
    """Start one of the machine's shared daemons (a zygote, a gateway pool) in the background:
    its own session, stdin closed, its output appended to ``log_path``, in ``/`` (it must not
    hold the starter's directory). It outlives the starter by design."""
    import subprocess

    with open(log_path, "ab") as out:
        subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )


class MetastoreSettings(BaseModel):
    uri: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///$AIFLOW_HOME/aiflow.db",
    )
    # SQLite waits this long for a writer lock instead of failing with 'database is locked'.
    busy_timeout_ms: int = 30_000


class SchedulerSettings(BaseModel):
    poll_interval: float = Field(default=0.02, description="seconds between scheduler loop turns")
    kill_grace: float = Field(default=5.0, description="seconds between SIGTERM and SIGKILL")
    warm_workers: bool = Field(
        default=True,
        description="local deployer: start `python -P -m ...` jobs by forking a process that "
        "already imported aiflow, pandas and SQLAlchemy (a fresh fork per job, its own process "
        "group), instead of a new interpreter",
    )
    warm_shared_idle: float = Field(
        default=600.0,
        ge=0,
        description="local deployer: warm job workers come from a fork server shared by every "
        "driver of this user and environment (so a run's first job starts warm too), which "
        "exits this many seconds after its last driver; 0: each driver starts its own",
    )
    warm_preload: list[str] = Field(
        default_factory=list,
        description="more modules for warm job workers to import ahead of jobs (e.g. sklearn); "
        "only modules that start no thread at import are safe to fork",
    )
    # A driver on another host (a replaced pod) is judged dead by its lease alone, so the lease
    # must survive a missed renewal or two (a slow database, a GC pause): hence > 3 heartbeats.
    driver_heartbeat: float = Field(
        default=10.0, gt=0, description="seconds between renewals of a driver's lease"
    )
    driver_lease: float = Field(
        default=60.0,
        gt=0,
        description="seconds without a renewal after which another host may declare a driver "
        "dead and adopt its execution; more than 3 x driver_heartbeat",
    )

    @model_validator(mode="after")
    def _lease_outlasts_heartbeats(self) -> SchedulerSettings:
        if self.driver_lease <= 3 * self.driver_heartbeat:
            raise ValueError(
                f"scheduler.driver_lease ({self.driver_lease:g} s) must be more than 3 x "
                f"scheduler.driver_heartbeat ({self.driver_heartbeat:g} s), so that a driver "
                "that misses a renewal or two is not declared dead while it runs"
            )
        return self


class StorageSettings(BaseModel):
    """Where aiflow keeps what jobs share: source snapshots, model artifacts, intermediates
    and Flink checkpoints. Unset, under ``$AIFLOW_HOME``: right on one machine, or when every
    node mounts it. ``hdfs://namenode:8020/aiflow`` puts them on HDFS (over WebHDFS, with the
    NameNode's address from ``$HADOOP_CONF_DIR``), so a job on any node of a cluster finds them
    and nothing depends on the submitting machine's disk."""

    root: str | None = Field(
        default=None,
        description="URI or absolute path for snapshots, artifacts, intermediates and "
        "checkpoints (hdfs://nn:8020/aiflow, file:///shared/aiflow); unset: AIFLOW_HOME; "
        "env AIFLOW__STORAGE__ROOT",
    )

    @field_validator("root")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, _, rest = value.partition("://")
        if not rest:
            if not value.startswith("/"):
                raise ValueError(f"{value!r} must be an absolute path or a URI")
        elif scheme not in ("file", "hdfs"):
            raise ValueError(f"{value!r}: only file:// and hdfs:// roots are supported")
        return value.rstrip("/") or "/"


class StreamSettings(BaseModel):
    poll_interval: float = Field(default=0.2, description="seconds between stream directory scans")


class ServerSettings(BaseModel):
    """The REST server (``aiflow server``)."""

    host: str = Field(default="127.0.0.1", description="address to bind; loopback by default")
    port: int = Field(default=8080, ge=0, le=65535)
    # For signing what the server hands out and must get back untampered (cursors, sessions);
    # nothing uses it yet. Required unless dev mode already, and without a default, so every
    # deployment has its own before anything depends on it.
    secret_key: SecretStr | None = Field(
        default=None, description="at least 32 characters; env AIFLOW__SERVER__SECRET_KEY"
    )
    dev: bool = Field(
        default=False, description="no authentication (loopback addresses only); never in prod"
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="largest request body accepted"
    )
    scheduler: bool = Field(
        default=True,
        description="run the scheduler service inside the server (off when `aiflow scheduler` "
        "runs beside it, or in tests that seed executions no driver should take)",
    )
    scheduler_interval: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="seconds between the inside scheduler's passes: an event's rule fires "
        "half of this after it is sent at the median (benchmarks/events.py); each pass costs "
        "one query per trigger kind and status",
    )
    # A verified token is remembered this long per server process: at load, authentication
    # then costs no query and no thread hand-off (docs/benchmarks.md). The price: a token
    # revoked by another process (another worker, `aiflow token revoke`) still works here for
    # up to this long; revoked through this process's API it fails at once. 0: check always.
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="seconds a verified API token is remembered per server process (0: never); "
        "bounds how long a token revoked elsewhere keeps working",
    )


class ClientSettings(BaseModel):
    """Where the CLI sends its commands: an aiflow server instead of the local meta store.

    Unset ``server`` keeps the CLI embedded. The token may instead come from the file
    ``aiflow login`` writes (``$AIFLOW_HOME/credentials.json``), which keeps it out of shell
    history and environment dumps."""

    server: str | None = Field(
        default=None, description="aiflow server URL (http://host:port); env AIFLOW__CLIENT__SERVER"
    )
    token: SecretStr | None = Field(
        default=None, description="API token for the server; env AIFLOW__CLIENT__TOKEN"
    )


class Settings(BaseSettings):
    """aiflow's own sections; ``get_settings()`` returns a subclass that adds one section per
    engine plugin that declares settings (``[flink]``, ``AIFLOW__FLINK__*``), so the config file
    and the environment are validated the same way for both (see ``settings_class``)."""

    model_config = SettingsConfigDict(
        env_prefix="AIFLOW__", env_nested_delimiter="__", extra="ignore"
    )

    metastore: MetastoreSettings = MetastoreSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    stream: StreamSettings = StreamSettings()
    storage: StorageSettings = StorageSettings()
    server: ServerSettings = ServerSettings()
    client: ClientSettings = ClientSettings()
    default_engine: str = "local"
    default_deployer: str = "local"

    @property
    def home(self) -> Path:
        return aiflow_home()

    @property
    def metastore_uri(self) -> str:
        return self.metastore.uri or f"sqlite:///{self.home / 'aiflow.db'}"

    @property
    def storage_root(self) -> str:
        """``storage.root``, else ``$AIFLOW_HOME`` (a path)."""
        return self.storage.root or str(self.home)

    @property
    def artifacts_uri(self) -> str:
        """Where model versions' artifacts are saved (through fsspec)."""
        return f"{self.storage_root}/artifacts"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def snapshots_uri(self) -> str:
        """Where source snapshots are kept (through fsspec), one archive per hash."""
        return f"{self.storage_root}/snapshots"

    @property
    def snapshots_dir(self) -> Path:
        """This machine's snapshot work space: unpacked sources, incoming uploads."""
        return self.home / "snapshots"

    @property
    def executions_uri(self) -> str:
        """Under which each execution's intermediates are written (through fsspec)."""
        return f"{self.storage_root}/executions"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = config_file_source(settings_cls, aiflow_home())
        sources = (init_settings, env_settings)  # earlier ones win: env over the file
        return sources if file is None else (*sources, file)

    def public_dict(self) -> dict[str, Any]:
        """The effective config with credentials masked (URL passwords, the secret key, the
        client token), for display."""
        data = self.model_dump()
        data["home"] = str(self.home)
        config_file = find_config_file(self.home)
        data["config_file"] = None if config_file is None else str(config_file)
        uri = self.metastore_uri
        if "@" in uri and "://" in uri:
            scheme, rest = uri.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            uri = f"{scheme}://{user}:***@{host}"
        data["metastore"]["uri"] = uri
        data["server"]["secret_key"] = "***" if self.server.secret_key is not None else None
        data["client"]["token"] = "***" if self.client.token is not None else None
        return data

    def section(self, name: str, model: type[M]) -> M:
        """A plugin's settings section, typed (``settings.section("flink", FlinkSettings)``)."""
        value = getattr(self, name, None)
        return value if isinstance(value, model) else model()


@lru_cache(maxsize=1)
def settings_class() -> type[Settings]:
    """``Settings`` plus a section per plugin with settings: each engine plugin's, and each
    ``aiflow.settings`` entry point's (a deployer's, e.g. ``[kubernetes]``).

    Plugins are found through entry point groups, by name: this module sits at the bottom of
    the layers and imports no engine or deployer; a plugin's descriptor and settings model are
    plain data (``aiflow.translators.plugin``)."""
    from importlib.metadata import entry_points

    from pydantic import create_model

    references: dict[str, str] = {}
    for ep in entry_points(group="aiflow.engines"):
        reference = getattr(ep.load(), "settings", None)
        if reference:
            references[ep.name] = reference
    for ep in entry_points(group="aiflow.settings"):
        references.setdefault(ep.name, ep.value)
    sections: dict[str, Any] = {}
    for name, reference in references.items():
        module, _, attribute = reference.partition(":")
        model = getattr(importlib.import_module(module), attribute)
        sections[name] = (model, model())
    if not sections:
        return Settings
    return create_model("Settings", __base__=Settings, **sections)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_class()()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change AIFLOW_HOME / env between calls)."""
    get_settings.cache_clear()
