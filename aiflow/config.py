"""Effective configuration: defaults < ``$AIFLOW_HOME/aiflow.toml`` < ``AIFLOW__SECTION__KEY`` env.

``AIFLOW_HOME`` itself (default ``~/aiflow``) is read from the environment only, because it says
where the config file is. Nothing here touches the disk at import time, so ``aiflow --help``
stays fast.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def aiflow_home() -> Path:
    return Path(os.environ.get("AIFLOW_HOME", Path.home() / "aiflow")).expanduser().resolve()


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


class StreamSettings(BaseModel):
    poll_interval: float = Field(default=1.0, description="seconds between stream directory scans")


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
    model_config = SettingsConfigDict(
        env_prefix="AIFLOW__", env_nested_delimiter="__", extra="ignore"
    )

    metastore: MetastoreSettings = MetastoreSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    stream: StreamSettings = StreamSettings()
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
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def executions_dir(self) -> Path:
        return self.home / "executions"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=aiflow_home() / "aiflow.toml")
        return (init_settings, env_settings, toml)

    def public_dict(self) -> dict[str, Any]:
        """The effective config with credentials masked (URL passwords, the secret key, the
        client token), for display."""
        data = self.model_dump()
        data["home"] = str(self.home)
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change AIFLOW_HOME / env between calls)."""
    get_settings.cache_clear()
