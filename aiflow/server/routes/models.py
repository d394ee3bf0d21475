"""The model registry: models, versions, aliases, stages, rollback, and what to serve; and the
model center's record of it: each version's history (who changed what, when and why), lineage
and tags, and two versions compared.

Only metadata crosses the API: a version's artifact is its URI and flavor, never the pickle,
which only aiflow's own job runtime loads, from its own artifacts directory.

Every change is recorded in the model's history with its actor, ``token:<name>`` of the token
that made the request (never a name the caller sends), and the ``reason`` the body may give.
"""

from __future__ import annotations

from typing import Annotated, Final

import anyio
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Path, Query

from aiflow.errors import NotFound
from aiflow.schemas.api import (
    TAG_KEY_LENGTH,
    AliasUpdate,
    MetricPublic,
    ModelChangePublic,
    ModelComparisonPublic,
    ModelLineagePublic,
    ModelPublic,
    ModelVersionPublic,
    Page,
    Promotion,
    Rollback,
    ServingVersionPublic,
    StageUpdate,
    TagUpdate,
)
from aiflow.schemas.entities import SERVING_ALIAS
from aiflow.schemas.limits import INT32_MAX, NAME_PATTERN, NAME_RULE
from aiflow.server.deps import Editor, Principal, Store, Viewer
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

# Version numbers given as query parameters (history filter, compare).
VersionFilter = Annotated[
    int | None, Query(ge=1, le=INT32_MAX, description="only this version's changes")
]
VersionA = Annotated[int, Query(ge=1, le=INT32_MAX, description="the first version")]
VersionB = Annotated[int, Query(ge=1, le=INT32_MAX, description="the second version")]
TagKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=TAG_KEY_LENGTH,
        pattern=NAME_PATTERN,
        description=f"tag key: {NAME_RULE}",
    ),
]

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


# -- aliases, stages and tags: changes, each recorded in the model's history -------------------


def actor_of(principal: Principal) -> str:
    """Who the history records for a change made through the API: the token, by name."""
    return f"token:{principal.name}"


@router.put("/{name}/aliases/{alias}")
def set_model_alias(
    name: Name, alias: AliasName, body: AliasUpdate, store: Store, principal: Editor
) -> ModelVersionPublic:
    """Point ``alias`` at a version (moving it off the version that had it), as promoting the
    version to that alias does: for ``deployed``, the version becomes ``deployed`` and the one
    it replaces ``retired``."""
    moved = store.set_model_alias(
        name, alias, body.version, actor=actor_of(principal), reason=body.reason
    )
    return ModelVersionPublic.model_validate(moved)


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_model_alias(name: Name, alias: AliasName, store: Store, principal: Editor) -> None:
    """Remove ``alias``; a version losing ``deployed`` is retired (what is served next is the
    newest version neither rejected nor failed)."""
    store.delete_model_alias(name, alias, actor=actor_of(principal))


@router.post("/{name}/versions/{version}/promote")
def promote_model_version(
    name: Name,
    version: VersionNumber,
    store: Store,
    principal: Editor,
    body: Promotion | None = None,
) -> ModelVersionPublic:
    """Promote the version: move ``alias`` (default ``deployed``, what is served) onto it.

    Promoting to ``deployed`` makes the version's stage ``deployed`` and retires the version
    that held the alias; a rejected or failed version cannot be deployed (422). Promoting the
    version that already holds the alias changes nothing. No body is the same as ``{}``.

    The body's older form ``{"stage": ...}`` (before the model center) sets the stage only,
    exactly as ``PUT /models/{name}/versions/{version}/stage`` does; prefer that endpoint."""
    body = body or Promotion()
    actor = actor_of(principal)
    if body.stage is not None:
        changed = store.set_model_version_stage(
            name, version, body.stage, reason=body.reason, actor=actor
        )
    else:
        changed = store.promote_model_version(
            name, version, alias=body.alias or SERVING_ALIAS, reason=body.reason, actor=actor
        )
    return ModelVersionPublic.model_validate(changed)


@router.put("/{name}/versions/{version}/stage")
def set_model_version_stage(
    name: Name, version: VersionNumber, body: StageUpdate, store: Store, principal: Editor
) -> ModelVersionPublic:
    """Set the version's lifecycle stage (emits ``MODEL_<STAGE>`` for event rules). What is
    served follows the ``deployed`` alias: to deploy a version, promote it."""
    changed = store.set_model_version_stage(
        name, version, body.stage, reason=body.reason, actor=actor_of(principal)
    )
    return ModelVersionPublic.model_validate(changed)


@router.post("/{name}/rollback")
def roll_back_alias(
    name: Name,
    store: Store,
    principal: Editor,
    alias: AliasQuery = SERVING_ALIAS,
    body: Rollback | None = None,
) -> ModelVersionPublic:
    """Point ``alias`` (default: ``deployed``, what is served) back at the version it pointed
    at before its current one; the optional body gives the ``reason``.

    The history is the alias's recorded moves, so rolling back twice undoes the first
    rollback. 422 if the alias is not set or never pointed anywhere else."""
    reason = body.reason if body else None
    moved = store.roll_back_alias(name, alias, actor=actor_of(principal), reason=reason)
    return ModelVersionPublic.model_validate(moved)


@router.put("/{name}/versions/{version}/tags/{key}")
def tag_model_version(
    name: Name,
    version: VersionNumber,
    key: TagKey,
    body: TagUpdate,
    store: Store,
    principal: Editor,
) -> ModelVersionPublic:
    """Set tag ``key`` of the version to the body's ``value`` (replacing any value it had)."""
    tagged = store.tag_model_version(name, version, key, body.value, actor=actor_of(principal))
    return ModelVersionPublic.model_validate(tagged)


@router.delete("/{name}/versions/{version}/tags/{key}", status_code=204)
def untag_model_version(
    name: Name, version: VersionNumber, key: TagKey, store: Store, principal: Editor
) -> None:
    """Remove tag ``key`` from the version, recorded in its history. Idempotent, as in the
    store: removing a tag the version does not have changes nothing (still 204)."""
    store.tag_model_version(name, version, key, None, actor=actor_of(principal))


# -- the record: history, lineage, comparison -------------------------------------------------


@router.get("/{name}/history")
def model_history(
    name: Name, store: Store, _: Viewer, version: VersionFilter = None
) -> Page[ModelChangePublic]:
    """Every recorded change of the model's versions (or of one ``version``), oldest first:
    stages, alias moves and tags, each with its actor, reason and the version's metrics."""
    return whole(store.model_history(name, version=version), ModelChangePublic)


@router.get("/{name}/versions/{version}/lineage")
def model_lineage(
    name: Name, version: VersionNumber, store: Store, _: Viewer
) -> ModelLineagePublic:
    """Where the version came from: the workflow version, execution, job and train node that
    produced it, the versions it continued from (nearest first) and its training data."""
    return ModelLineagePublic.model_validate(store.model_lineage(name, version))


@router.get("/{name}/compare")
def compare_model_versions(
    name: Name, a: VersionA, b: VersionB, store: Store, _: Viewer
) -> ModelComparisonPublic:
    """Versions ``a`` and ``b`` side by side: each metric either has, and the lineage fields
    (workflow version, data, parent, ...) that differ."""
    return ModelComparisonPublic.model_validate(store.compare_model_versions(name, a, b))
