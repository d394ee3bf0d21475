"""What callers hand to the meta store to create things (the entities are what comes back).

Validated pydantic models rather than loose dicts: a malformed job or example is rejected at
the boundary with a message naming the field, before a transaction starts.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from aiflow.store.orm import NAME_LENGTH


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExampleCreate(_Input):
    """An example (dataset) to register or update, matched by ``name``."""

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    columns: dict[str, str]  # column -> type
    format: str = Field(min_length=1, max_length=32)
    batch_uri: str | None = None
    stream_uri: str | None = None


class JobCreate(_Input):
    """One job of a new execution; ``depends_on`` names other jobs of the same execution."""

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    engine: str = Field(min_length=1, max_length=64)
    spec: dict[str, Any]
    depends_on: list[str] = Field(default_factory=list)
    max_retries: int = Field(default=0, ge=0)
    retry_delay: float = Field(default=0.0, ge=0.0)
    timeout: float | None = Field(default=None, gt=0.0)


class JobFields(TypedDict, total=False):
    """Job columns a deployer or runtime may set besides the status (``update_job``,
    ``transition_job``); keys left out stay unchanged."""

    attempt: int
    handle: dict[str, Any] | None
    log_uri: str | None
    exit_code: int | None
    error: str | None
    result: dict[str, Any] | None
