"""The serving lookup's SQL, built once per process: model servers poll it, so it is the hottest
read of the REST API (``GET /api/v1/models/{name}/serving``).

Why built once and in Core: profiling the server under load (docs/benchmarks.md) showed that
*constructing* the ORM statement -- an ``aliased()`` entity and two correlated subqueries -- cost
more CPU than running it (~450 of ~820 us per call on SQLite), and the ORM session and row
loading most of the rest. The statement never changes (the model name is a bound parameter),
and SQLAlchemy caches its compiled form, so a call now only binds, executes and reads one
tuple on a Core connection (~60 us).
"""

from __future__ import annotations

from functools import cache
from typing import Final

from sqlalchemy import Select, bindparam, func, select

from aiflow.store._registry import SERVING_ALIAS
from aiflow.store.orm import SqlModel, SqlModelAlias, SqlModelVersion

MODEL_NAME_PARAM: Final = "model_name"


@cache
def serving_statement() -> Select[tuple[object, ...]]:
    """One row for the model named by the ``model_name`` parameter (none if it does not exist
    or has no versions): the version to serve, ``COALESCE(<deployed alias target>, <newest
    version>)``, with columns named as ``ServingVersion``'s fields plus ``deployed_id``.

    The two correlated subqueries are each one index lookup (the alias by its unique (model,
    alias) key, the newest version by the unique (model, version) key), so the cost does not
    grow with the number of versions.
    """
    model, alias, version = SqlModel.__table__, SqlModelAlias.__table__, SqlModelVersion.__table__
    newest = version.alias("newest")
    deployed_id = (
        select(alias.c.model_version_id)
        .where(alias.c.model_id == model.c.id, alias.c.alias == SERVING_ALIAS)
        .scalar_subquery()
    )
    newest_id = (
        select(newest.c.id)
        .where(newest.c.model_id == model.c.id)
        .order_by(newest.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            version.c.id,
            model.c.name.label("model_name"),
            version.c.version,
            version.c.artifact_uri,
            version.c.flavor,
            version.c.stage,
            version.c.created_at,
            deployed_id.label("deployed_id"),
        )
        .select_from(model.join(version, version.c.id == func.coalesce(deployed_id, newest_id)))
        .where(model.c.name == bindparam(MODEL_NAME_PARAM))
    )
