"""Path and query parameters every route shares, declared once with their bounds, so that every
route rejects the same inputs the same way (422 before any query runs): ids within the
database's integer range, names of things (workflows, models, aliases, examples) by the one
name rule (``limits.NAME_PATTERN``, which the DSL and the store check too), filters and cursors
within the store's column length and free of control characters (which PostgreSQL refuses in
text), page sizes between 1 and ``MAX_PAGE``.

Query parameters a route does not declare are refused too (``reject_unknown_query``), as a 422
naming each one and the route's valid ones: a typo (``?limt=5``, ``?workflw=x``) would otherwise
be ignored silently and answer something else than asked -- all executions instead of one
workflow's. The FastAPI template's and Airflow's APIs refuse them the same way.

FastAPI declarations only; the bounds are ``aiflow.schemas.limits`` and the request and response
bodies ``aiflow.schemas.api``, which the client shares.
"""

from __future__ import annotations

import weakref
from typing import Annotated, Any, Final

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError

from aiflow.schemas.limits import (
    ALIAS_LENGTH,
    DEFAULT_PAGE,
    INT32_MAX,
    INT64_MAX,
    MAX_PAGE,
    NAME_LENGTH,
    NAME_PATTERN,
    NAME_RULE,
    NO_CONTROL,
)

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "AliasName",
    "AliasQuery",
    "Count",
    "FilterName",
    "Id",
    "Limit",
    "Name",
    "NameCursor",
    "NumberCursor",
    "Seq",
    "VersionNumber",
    "reject_unknown_query",
]

Id = Annotated[int, Path(ge=1, le=INT32_MAX, description="numeric id")]
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="version number: 1, 2, ...")]
Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=NAME_LENGTH,
        pattern=NAME_PATTERN,
        description=f"name: {NAME_RULE}",
    ),
]
AliasName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ALIAS_LENGTH,
        pattern=NAME_PATTERN,
        description=f"alias: {NAME_RULE}, and not a number",
    ),
]
# The same rule for an alias given as a query parameter (``POST /models/{name}/rollback``).
AliasQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=ALIAS_LENGTH,
        pattern=NAME_PATTERN,
        description="the alias",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
NameCursor = Annotated[
    str | None,
    Query(
        max_length=NAME_LENGTH,
        pattern=NO_CONTROL,
        description="`next_cursor` of the previous page",
    ),
]
NumberCursor = Annotated[
    int | None,
    Query(ge=1, le=INT32_MAX, description="`next_cursor` of the previous page"),
]
Count = Annotated[
    bool, Query(description="also return `total`, the number of items over all pages")
]
FilterName = Annotated[str | None, Query(max_length=NAME_LENGTH, pattern=NO_CONTROL)]
Seq = Annotated[int, Query(ge=0, le=INT64_MAX, description="only events after this sequence")]


# -- unknown query parameters -----------------------------------------------------------------

UNKNOWN_QUERY: Final = "extra_forbidden"  # pydantic's error type for an undeclared field

# Declared query parameters by route: keyed by ``id`` (route objects are not hashable), with a
# weak reference that tells a reused id of a route gone (an app a test built) from the same one.
_declared: dict[int, tuple[weakref.ref[Any], frozenset[str]]] = {}


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the matched route does not declare: a ``RequestValidationError``
    (a 422 problem, like any other bad parameter) naming each unknown one and listing the valid
    ones.

    Called by the dependencies that authenticate a request (``aiflow.server.deps.require``, the
    job API's token check) once the caller is known, so that a request without a valid token
    is a 401 whatever its query (``?token=...`` is not a way to authenticate, and the answer
    says so); routes without authentication (``/health``) declare it as a dependency.
    """
    if not request.scope.get("query_string"):
        return  # most requests: nothing to check, no parsing
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return  # not a FastAPI route (the OpenAPI document, the docs page)
    cached = _declared.get(id(route))
    if cached is not None and cached[0]() is route:
        allowed = cached[1]
    else:
        allowed = frozenset(_query_names(dependant))
        _declared[id(route)] = (weakref.ref(route), allowed)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in allowed]
    if not unknown:
        return
    valid = ", ".join(sorted(allowed)) or "none"
    raise RequestValidationError(
        [
            {
                "type": UNKNOWN_QUERY,
                "loc": ("query", name),
                "msg": f"unknown query parameter; this endpoint takes: {valid}",
                "input": None,  # never echoed: it may be a token sent in the wrong place
            }
            for name in unknown
        ]
    )


def _query_names(dependant: Any) -> set[str]:
    """The names (aliases) of the query parameters ``dependant`` and its sub-dependencies
    declare."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
