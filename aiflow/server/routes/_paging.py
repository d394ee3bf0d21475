"""Turning a store's keyset page into an API ``Page``.

Routes ask the store for ``limit + 1`` rows: the extra row, never returned, is how a page knows
that another one follows without a ``COUNT``. The cursor is the sort key of the last row
returned (an id, a version number or a name); clients treat it as opaque.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from aiflow.schemas.api import Page

E = TypeVar("E")
P = TypeVar("P", bound=BaseModel)


def make_page(
    rows: Sequence[E],
    limit: int,
    public: type[P],
    *,
    key: Callable[[E], object],
    total: int | None = None,
) -> Page[P]:
    """The first ``limit`` of ``rows`` as ``public`` models, with the cursor of the next page
    when the store returned more than ``limit``."""
    data = rows[:limit]
    next_cursor = str(key(data[-1])) if len(rows) > limit and data else None
    return Page[public](  # type: ignore[valid-type]
        data=[public.model_validate(row) for row in data],
        next_cursor=next_cursor,
        total=total,
    )


def whole(rows: Sequence[E], public: type[P]) -> Page[P]:
    """A collection small and bounded enough to return in one page (the jobs of an execution,
    the metrics of a model version): no cursor, ``total`` always set."""
    return Page[public](  # type: ignore[valid-type]
        data=[public.model_validate(row) for row in rows], total=len(rows)
    )
