"""The model registry: models, versions, aliases, stages, rollback, and what to serve.

Only metadata crosses the API: a version's artifact is its URI and flavor, never the pickle,
which only aiflow's own job runtime loads, from its own artifacts directory.
"""

from __future__ import annotations

from typing import Final

import anyio
from anyio.lowlevel import RunVar
from fastapi import APIRouter

from aiflow.errors import NotFound
from aiflow.schemas.api import (
    AliasUpdate,
    MetricPublic,
    ModelPublic,
    ModelVersionPublic,
    Page,
    ServingVersionPublic,
    StageUpdate,
)
from aiflow.schemas.entities import SERVING_ALIAS
from aiflow.server.deps import Editor, Store, Viewer
from aiflow.server.params import (
    DEFAULT_PAGE,
    AliasName,
    AliasQuery,
    Count,
    Limit,
    Name,
    NameCursor,
    NumberCursor,
    VersionNumber,
)
from aiflow.server.routes._paging import make_page, whole

router = APIRouter(prefix="/models", tags=["models"])

# Threads that may run serving lookups at once. The lookup is ~0.1 ms of work: a few threads
# keep the CPU busy (and overlap PostgreSQL round trips), while the default pool's 40 threads
# only contended for the GIL and the connection pool -- measured under 50 concurrent clients:
# 4 threads answered ~15 % more requests at about half the p99 (docs/benchmarks.md).
SERVING_THREADS: Final = 4
# One limiter per event loop (a RunVar, as anyio keeps its own default limiter): anyio's
# primitives must not be shared between loops, e.g. two test servers in one process.
_serving_limiter: RunVar[anyio.CapacityLimiter] = RunVar("aiflow_serving_limiter")


def serving_limiter() -> anyio.CapacityLimiter:
    try:
        return _serving_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(SERVING_THREADS)
        _serving_limiter.set(limiter)
        return limiter


@router.get("")
def list_models(
    store: Store,
    _: Viewer,
    cursor: NameCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[ModelPublic]:
    """Models by name."""
    rows = store.page_models(cursor=cursor, limit=limit + 1)
    total = store.count_models() if count else None
    return make_page(rows, limit, ModelPublic, key=lambda m: m.name, total=total)


@router.get("/{name}")
def get_model(name: Name, store: Store, _: Viewer) -> ModelPublic:
    return ModelPublic.model_validate(store.get_model(name))


@router.get("/{name}/versions")
def list_model_versions(
    name: Name,
    store: Store,
    _: Viewer,
    cursor: NumberCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[ModelVersionPublic]:
    """Versions newest first, each with its aliases and newest metric values."""
    rows = store.page_model_versions(name, cursor=cursor, limit=limit + 1)
    total = store.count_model_versions(name) if count else None
    return make_page(rows, limit, ModelVersionPublic, key=lambda v: v.version, total=total)


@router.get("/{name}/versions/{version}")
def get_model_version(
    name: Name, version: VersionNumber, store: Store, _: Viewer
) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(store.get_model_version(name, version))


@router.get("/{name}/versions/{version}/metrics")
def list_model_version_metrics(
    name: Name, version: VersionNumber, store: Store, _: Viewer
) -> Page[MetricPublic]:
    """Every value logged for the version (all steps), in logging order."""
    return whole(store.list_model_version_metrics(name, version), MetricPublic)


@router.get("/{name}/serving")
async def get_serving_version(name: Name, store: Store, _: Viewer) -> ServingVersionPublic:
    """The version a model server should load: the one aliased ``deployed``, else the newest.

    Model servers poll this, so it answers from one indexed query whatever the number of
    versions, and returns only what loading needs (no aliases or metrics: see the version)."""
    # (The docstring is the endpoint's OpenAPI description: notes go here.) Never cached: each
    # call reads the store, so an alias moved by any process is served by the next call. A
    # coroutine handing the blocking query to its own small thread pool (SERVING_THREADS).
    serving = await anyio.to_thread.run_sync(store.serving_pointer, name, limiter=serving_limiter())
    if serving is None:
        raise NotFound(f"model '{name}' has no versions to serve (see `aiflow model list`)")
    return ServingVersionPublic.model_validate(serving)


@router.put("/{name}/aliases/{alias}")
def set_model_alias(
    name: Name, alias: AliasName, body: AliasUpdate, store: Store, _: Editor
) -> ModelVersionPublic:
    """Point ``alias`` at a version (moving it off the version that had it)."""
    return ModelVersionPublic.model_validate(store.set_model_alias(name, alias, body.version))


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_model_alias(name: Name, alias: AliasName, store: Store, _: Editor) -> None:
    store.delete_model_alias(name, alias)


@router.post("/{name}/versions/{version}/promote")
def set_model_version_stage(
    name: Name, version: VersionNumber, body: StageUpdate, store: Store, _: Editor
) -> ModelVersionPublic:
    """Set the version's lifecycle stage (generated, validated, production, deprecated): a
    label for people and event rules (``MODEL_<STAGE>``); what is served follows the
    ``deployed`` alias."""
    return ModelVersionPublic.model_validate(
        store.set_model_version_stage(name, version, body.stage)
    )


@router.post("/{name}/rollback")
def roll_back_alias(
    name: Name, store: Store, _: Editor, alias: AliasQuery = SERVING_ALIAS
) -> ModelVersionPublic:
    """Point ``alias`` (default: ``deployed``, what is served) back at the version it pointed
    at before its current one.

    The history is the alias's recorded moves (the ``MODEL_ALIAS_SET`` events), so rolling back
    twice undoes the first rollback. 422 if the alias is not set or never pointed anywhere
    else."""
    return ModelVersionPublic.model_validate(store.roll_back_alias(name, alias))
