"""Path and query parameters every route shares, declared once with their bounds, so that every
route rejects the same inputs the same way (422 before any query runs): ids within the
database's integer range, names within the store's column length and free of control
characters (which PostgreSQL refuses in text), page sizes between 1 and ``MAX_PAGE``.

FastAPI declarations only; the bounds are ``aiflow.schemas.limits`` and the request and response
bodies ``aiflow.schemas.api``, which the client shares.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from aiflow.schemas.limits import (
    ALIAS_LENGTH,
    DEFAULT_PAGE,
    INT32_MAX,
    INT64_MAX,
    MAX_PAGE,
    NAME_LENGTH,
    NO_CONTROL,
)

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "AliasName",
    "Count",
    "FilterName",
    "Id",
    "Limit",
    "Name",
    "NameCursor",
    "NumberCursor",
    "Seq",
    "VersionNumber",
]

Id = Annotated[int, Path(ge=1, le=INT32_MAX, description="numeric id")]
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="version number: 1, 2, ...")]
Name = Annotated[
    str, Path(min_length=1, max_length=NAME_LENGTH, pattern=NO_CONTROL, description="name")
]
AliasName = Annotated[
    str, Path(min_length=1, max_length=ALIAS_LENGTH, pattern=NO_CONTROL, description="alias")
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
