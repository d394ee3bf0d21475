"""REST shapes the web dashboard needed beyond the entities: a version's physical plan, its
source snapshot's files, and which workflows use an example. Each saves the dashboard a
request per item (or a translator of its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PlannedJob(BaseModel):
    name: str
    engine: str
    fallback_from: str | None = Field(
        default=None, description="the engine its nodes fell back from (`--engine flink`)"
    )
    nodes: list[str] = Field(description="the logical nodes fused into this job, in order")
    depends_on: list[str] = Field(description="job names")


class PhysicalPlanView(BaseModel):
    """How a workflow version splits into jobs in one mode on one engine (what a run of it
    would launch; the jobs of a past run are on its execution)."""

    workflow: str
    version: int
    mode: str
    engine: str
    jobs: list[PlannedJob]


class SourceFile(BaseModel):
    path: str
    size: int = Field(description="bytes")


class SourceListing(BaseModel):
    """The files of a version's source snapshot (the code its jobs run)."""

    workflow: str
    version: int
    source_hash: str
    files: list[SourceFile]


class ExampleUse(BaseModel):
    """A workflow whose newest version reads or writes an example, and the nodes that do."""

    workflow: str
    version: int
    reads: list[str]
    writes: list[str]
