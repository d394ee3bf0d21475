"""Riding out a meta store outage: calls that retry while the database cannot be reached.

A PostgreSQL restart (a failover, an upgrade, ``pg_ctl restart``) takes seconds; a process that
treats the first refused connection as fatal turns those seconds into a lost execution -- its
driver aborted and stopped every job, although the jobs themselves were fine. ``patient``
wraps a ``MetaStore`` so that each call retries ``MetaStoreUnavailable`` with capped exponential
backoff for up to ``patience`` seconds (120 s, as a job's calls through the job API do), then
raises the last error. Nothing else is retried: a wrong schema, a missing row or a failed
compare-and-set is an answer, not an outage.

Retrying a write is safe where it is a compare-and-set (the driver's transitions): if the first
attempt committed but its reply was lost, the retry finds the row already moved and says so,
and the caller reads the row to learn that its own write took effect.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from aiflow.errors import MetaStoreUnavailable

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger(__name__)
T = TypeVar("T")

PATIENCE: Final = 120.0  # seconds a call keeps retrying an unreachable store
_FIRST_BACKOFF: Final = 0.2
_MAX_BACKOFF: Final = 2.0


def patient(store: MetaStore, patience: float = PATIENCE) -> MetaStore:
    """``store``, with every method call retried while the database is unreachable."""
    return cast("MetaStore", _Patient(store, patience))


def retry_unavailable(call: Callable[[], T], patience: float = PATIENCE, what: str = "") -> T:
    """``call()``, retried on ``MetaStoreUnavailable`` for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    backoff = _FIRST_BACKOFF
    while True:
        try:
            return call()
        except MetaStoreUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("%s: meta store unavailable (%s); retrying in %.1fs", what, exc, backoff)
            time.sleep(min(backoff, left))
            backoff = min(backoff * 2, _MAX_BACKOFF)


class _Patient:
    def __init__(self, store: MetaStore, patience: float) -> None:
        self._store = store
        self._patience = patience

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return retry_unavailable(lambda: attr(*args, **kwargs), self._patience, name)

        setattr(self, name, call)  # built once per method: the driver calls a few per turn
        return call

    def __repr__(self) -> str:
        return f"patient({self._store!r})"
