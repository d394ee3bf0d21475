"""The physical plan: jobs a deployer can run, each with everything its runtime needs.

A ``JobSpec`` is self-contained (its nodes, the edges among them, the source snapshot to load
user code from), because it travels: into the meta store, to a process, later to a pod.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiflow.errors import InvalidPlan
from aiflow.plan.model import ActionRule, DataEdge, Node

EXECUTION_DIR = "{execution_dir}"  # placeholder the runtime replaces with the execution's dir


class JobSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    workflow: str
    mode: str
    engine: str
    # the workflow's engine when this job's nodes fell back from it to ``engine`` (``--engine
    # flink``'s training runs in a local job): an aiflow.ml fit still runs on it
    fallback_from: str | None = None
    nodes: list[Node]  # in execution order
    edges: list[DataEdge] = Field(default_factory=list)  # only those between this job's nodes
    depends_on: list[str] = Field(default_factory=list)  # job names
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    # consumer node -> the train node (of another job) whose model it uses
    model_sources: dict[str, str] = Field(default_factory=dict)
    source_hash: str | None = None
    snapshot_uri: str | None = None
    entrypoint: str | None = None  # the workflow file inside the snapshot
    # An event-driven job: it runs only when one of these fires, as an execution of its own
    # (job-status rules name the upstream *job* in ``value``); never with the rest.
    rules: list[ActionRule] = Field(default_factory=list)
    # Per-deployer options of the job: its nodes' ``deploy=`` merged (``Node.deploy``); the
    # driver hands its deployer's part to each launch (``JobLaunch.overrides``).
    deploy: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def inputs_of(self, node_id: str) -> list[DataEdge]:
        return sorted((e for e in self.edges if e.target == node_id), key=lambda e: e.target_port)


class PhysicalPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow: str
    mode: str
    jobs: list[JobSpec]

    def job(self, name: str) -> JobSpec:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)


def merged_deploy(nodes: list[Node]) -> dict[str, dict[str, Any]]:
    """The deployer options of a job: those of its fused nodes, key by key. One pod runs
    them all, so two nodes asking for different values of one option (two images, say) cannot
    both be honoured: that is an error naming both, never a silent pick."""
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    for node in nodes:
        for deployer, options in node.deploy.items():
            into = merged.setdefault(deployer, {})
            for key, value in options.items():
                if key in into and into[key] != value:
                    first = origin[deployer, key]
                    raise InvalidPlan(
                        f"nodes '{first}' and '{node.id}' run in one job but set different "
                        f"deploy['{deployer}']['{key}'] ({into[key]!r} and {value!r}); "
                        "give them the same value, or set it on one of them only",
                        node.id,
                    )
                into[key] = value
                origin.setdefault((deployer, key), node.id)
    return merged
