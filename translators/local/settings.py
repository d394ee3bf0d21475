"""The ``[local]`` settings section (``AIFLOW__LOCAL__*``), registered by the engine's plugin."""

from __future__ import annotations

from pydantic import BaseModel, Field

from aiflow.config import Settings, get_settings


class LocalSettings(BaseModel):
    """The local engine's knobs. Only one so far: how a batch job that reads a file, transforms
    or scores its records and writes them (``chunks.py``) cuts them into calls."""

    batch_rows: int = Field(
        default=65536,
        ge=0,
        description="batch jobs of read_example -> transform/predict -> write_example: about "
        "this many records a call of transform()/predict(), the next ones read and the last "
        "ones written meanwhile (memory stays bounded, both cores work); 0: the whole input in "
        "one call; env AIFLOW__LOCAL__BATCH_ROWS",
    )


def local_settings(settings: Settings | None = None) -> LocalSettings:
    """The local engine's section of ``settings`` (default: the effective settings)."""
    return (settings or get_settings()).section("local", LocalSettings)
