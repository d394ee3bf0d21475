"""The model being served, replaced while requests run: which version to serve, loading it, and
the thread that follows the meta store for changes.

**One reference, swapped.** What is served is one immutable ``Served`` (version, model, the
schema requests must match). A request reads ``ModelHolder.current`` once and uses that object
to the end, so a request that started on version 3 finishes on version 3 even if version 4 is
swapped in meanwhile. Loading happens on the watcher thread, beside the requests, and the swap
is a single attribute assignment (atomic in Python): no lock on the request path, no request
ever waits for a load or sees half a swap, and none fails because of one.

**What to serve.** ``--alias deployed`` (the default) follows the store's serving rule,
``serving_pointer``: the version holding ``deployed``, else the newest version that is neither
rejected nor failed -- what batch and stream jobs serve. Any other alias serves the version that
alias points at; while it points nowhere, the service keeps what it has (or is not ready).

**Following changes.** Every alias move, registration and stage change of the model writes an
event keyed by the model's name in the same transaction (``MODEL_ALIAS_SET``, ``MODEL_FAILED``,
...). The thread polls the event log for new events of the model (one indexed query) and, on
any, asks the store again what to serve -- the event only says *when* to look; the answer always
comes from the store's current state, so reordered or coalesced events cannot mislead it. It
also asks every ``resync_interval`` seconds whatever the events say, a safety net for a feed
it could not read for a while. A look is one indexed query; a swap adds the serving pointer
(one query, which also says where the artifact is) and the load, unless the version was
preloaded.

**Preloading.** A version that becomes a candidate -- an event says it was registered
(``MODEL_GENERATED``), validated (``MODEL_VALIDATED``) or got another alias than the one
followed -- is loaded beside the served one, on the watcher thread, before any alias moves
onto it; when the followed alias then moves to it, the swap is the assignment alone. At most
one version is preloaded (a newer candidate replaces it; a swap to another version drops it).
A candidate that does not load is only logged: it is marked failed, as below, if and when it
is to be served.

**The numpy fast path** (``fast_path``): building a ``Served`` probes, once, whether the model
answers the same from a float array as from a DataFrame (``Chain.fast_path_for``); requests
then use whichever the probe allowed. The probe runs here, beside the requests, never on them.

**A version that does not load** (``ArtifactCorrupt``: its checksum does not match, its file
is missing or not a pickle; or unpickling it raises) is marked failed in the store
(``mark_model_version_failed``, which emits ``MODEL_FAILED`` and moves ``deployed`` back to
the previous holder), a ``SERVING_LOAD_FAILED`` event is emitted, and the service keeps serving
what it served. Two cases are not the version's fault and do not mark it: the pickle names a
module or class this process cannot import (start the service with ``--workflow`` for models
pickled with the workflow file's classes) -- the version is skipped by this process only; and
a file that could not be read for another reason than being missing (a network file system
away) -- retried at the next look.

Not here: what a request must hold (``protocol``), the transforms and predictor (``chain``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiflow.errors import AiflowError, ArtifactCorrupt
from aiflow.schemas.entities import (
    SERVING_ALIAS,
    UNSERVABLE_STAGES,
    Event,
    ModelVersion,
    ServingVersion,
)
from aiflow.serving.fast_path import FastPath
from aiflow.serving.metrics import ServingMetrics
from aiflow.serving.schema import Schema
from aiflow.store.artifacts import load_model
from aiflow.store.sql_store import MetaStore

log = logging.getLogger(__name__)

LOAD_FAILED_EVENT: Final = "SERVING_LOAD_FAILED"  # value: the version that failed to load
ACTOR: Final = "aiflow serve"  # who marks a version failed, in the model's history
_EVENT_PAGE: Final = 500
_REASON_LENGTH: Final = 500
# Events that make a version a candidate to preload (value: the version), and the alias event
# (value: "alias=version").
_CANDIDATE_EVENTS: Final = frozenset({"MODEL_GENERATED", "MODEL_VALIDATED"})
_ALIAS_SET_EVENT: Final = "MODEL_ALIAS_SET"

Version = ModelVersion | ServingVersion  # what loading a version needs: number, uri, checksum
FastPathFor = Callable[[Any, Schema | None], tuple[FastPath | None, str]]


@dataclass(frozen=True)
class Served:
    """One loaded version: everything a request needs, never changed once built."""

    version: int
    model: Any
    schema: Schema | None  # None: any fields (nothing declares them)
    artifact_uri: str
    fast: FastPath | None = None  # the numpy fast path, when the probe allowed it


class ModelHolder:
    """Holds the version of ``model_name`` to serve and keeps it current (``start``).

    ``schema_for(model)``: what requests to a loaded model must hold (``Chain.schema_for``);
    ``fast_path_for(model, schema)``: its numpy fast path, probed (``Chain.fast_path_for``;
    ``None``: requests always take the DataFrame path).
    """

    def __init__(
        self,
        store: MetaStore,
        model_name: str,
        *,
        alias: str = SERVING_ALIAS,
        schema_for: Callable[[Any], Schema | None] = Schema.of_model,
        metrics: ServingMetrics | None = None,
        fast_path_for: FastPathFor | None = None,
        poll_interval: float = 1.0,
        resync_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.model_name = model_name
        self.alias = alias
        self.schema_for = schema_for
        self.metrics = metrics or ServingMetrics()
        self.fast_path_for = fast_path_for
        self.poll_interval = poll_interval
        self.resync_interval = resync_interval
        self._served: Served | None = None
        self._preloaded: Served | None = None  # at most one version beside the served one
        self._unloadable: set[int] = set()  # versions this process gave up on
        self._seq = 0  # the newest event of the model seen
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Served | None:
        """What to serve now; read it once per request."""
        return self._served

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load what to serve now (so the service is ready when it starts listening, if there
        is a version), then follow changes on a daemon thread. Calling it again does nothing."""
        if self._thread is not None:
            return
        try:
            self._seq = self._skip_history()
            self.sync()
        except AiflowError as exc:  # the store not reachable yet: the thread keeps trying
            log.warning("model '%s': cannot read the meta store yet: %s", self.model_name, exc)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._follow, name=f"aiflow-serve-{self.model_name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _follow(self) -> None:
        next_resync = time.monotonic() + self.resync_interval
        while not self._stop.wait(self.poll_interval):
            try:
                events = self._new_events()
                if events or self._served is None or time.monotonic() >= next_resync:
                    next_resync = time.monotonic() + self.resync_interval
                    self.sync()
                if events:
                    self.preload(events)
            except Exception:  # a store away for a moment must not end the service: retry
                log.warning(
                    "model '%s': following the meta store failed", self.model_name, exc_info=True
                )

    def _skip_history(self) -> int:
        """The seq of the model's newest event: what happened before start-up is the state
        ``sync`` reads, not news."""
        seq = 0
        while True:
            page = self.store.list_events(after_seq=seq, key=self.model_name, limit=_EVENT_PAGE)
            if not page:
                return seq
            seq = page[-1].seq

    def _new_events(self) -> list[Event]:
        """The model's events newer than the last seen (marking them seen): one query, unless
        more than a page of them came since the last look."""
        events: list[Event] = []
        while True:
            page = self.store.list_events(
                after_seq=self._seq, key=self.model_name, limit=_EVENT_PAGE
            )
            if page:
                self._seq = page[-1].seq
                events += page
            if len(page) < _EVENT_PAGE:
                return events

    # -- choosing and loading a version -------------------------------------------------------

    def sync(self) -> Served | None:
        """Ask the store what to serve; load and swap it in if it is new and loads. Returns
        what is served afterwards. Thread-safe (the watcher and a caller may both sync)."""
        with self._sync_lock:
            target = self._target()
            served = self._served
            if target is None or target.version in self._unloadable:
                return served
            if served is not None and served.version == target.version:
                return served
            preloaded, self._preloaded = self._preloaded, None  # used now, or never: dropped
            if (
                preloaded is not None
                and preloaded.version == target.version
                and preloaded.artifact_uri == target.artifact_uri
            ):
                loaded: Served | None = preloaded
            else:
                loaded = self._load(target)
            if loaded is not None:
                self._swap(loaded)
            return self._served

    def preload(self, events: list[Event]) -> Served | None:
        """Load the version the newest candidate event among ``events`` names (see the
        module's docstring), unless it is served, preloaded or given up on; returns what is
        preloaded afterwards. A version that does not load is logged, not marked."""
        candidate = _candidate(events, self.alias)
        with self._sync_lock:
            served, preloaded = self._served, self._preloaded
            if (
                candidate is None
                or candidate in self._unloadable
                or (served is not None and served.version == candidate)
                or (preloaded is not None and preloaded.version == candidate)
            ):
                return preloaded
            try:
                version = self.store.get_model_version(self.model_name, candidate)
            except AiflowError as exc:
                log.info("model '%s': not preloading %d: %s", self.model_name, candidate, exc)
                return preloaded
            if version.stage in UNSERVABLE_STAGES:
                return preloaded
            self._preloaded = None  # one version beside the served one, not two
            try:
                self._preloaded = self._build(version)
            except Exception as exc:
                log.warning(
                    "model '%s': could not preload version %d from %s (%s: %s); it is tried "
                    "again if it is to be served",
                    self.model_name,
                    candidate,
                    version.artifact_uri,
                    type(exc).__name__,
                    exc,
                )
                return None
            log.info("model '%s': version %d preloaded", self.model_name, candidate)
            return self._preloaded

    def _target(self) -> Version | None:
        if self.alias == SERVING_ALIAS:
            return self.store.serving_pointer(self.model_name)
        version = self.store.get_model_version_by_alias(self.model_name, self.alias)
        if version is None and self._served is not None:
            log.warning(
                "model '%s': alias '%s' points at no version; still serving version %d",
                self.model_name,
                self.alias,
                self._served.version,
            )
        return version

    def _build(self, version: Version) -> Served:
        """Load ``version`` and probe its fast path; raises what loading raises."""
        model = load_model(version.artifact_uri, checksum=version.checksum)
        schema = self.schema_for(model)
        fast = None
        if self.fast_path_for is not None:
            try:
                fast, why = self.fast_path_for(model, schema)
            except Exception as exc:  # a bug in the probe must not fail the version
                fast, why = None, f"the probe failed: {type(exc).__name__}: {exc}"
            log.info(
                "model '%s' version %d: %s (%s)",
                self.model_name,
                version.version,
                "numpy fast path" if fast is not None else "DataFrame path",
                why,
            )
        return Served(version.version, model, schema, version.artifact_uri, fast)

    def _load(self, version: Version) -> Served | None:
        try:
            return self._build(version)
        except ArtifactCorrupt as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
                # The file could not be read (a file system away), not shown damaged: retry.
                self._failed(version, f"{exc.message} (retried)", mark=False, retried=True)
            else:
                self._unloadable.add(version.version)
                self._failed(version, exc.message, mark=True)
            return None
        except (ImportError, AttributeError) as exc:
            # The pickle names code this process lacks: not the version's fault.
            self._unloadable.add(version.version)
            self._failed(
                version,
                f"{type(exc).__name__}: {exc} (this process cannot import what the model was "
                "pickled with: serve it with --workflow FILE, the file that defines its "
                "classes, or install the module)",
                mark=False,
            )
            return None
        except Exception as exc:  # whatever else a damaged pickle or its __setstate__ raises
            self._unloadable.add(version.version)
            self._failed(version, f"{type(exc).__name__}: {exc}", mark=True)
            return None

    def _swap(self, loaded: Served) -> None:
        previous, self._served = self._served, loaded
        self.metrics.version.set(loaded.version)
        if previous is None:
            log.info("model '%s': serving version %d", self.model_name, loaded.version)
            return
        self.metrics.swaps.inc()
        log.info(
            "model '%s': serving version %d (was %d)",
            self.model_name,
            loaded.version,
            previous.version,
        )

    def _failed(self, version: Version, reason: str, *, mark: bool, retried: bool = False) -> None:
        """Count, log and record a version that did not load; the served one stays. One that
        will be ``retried`` gets no event: a store away for minutes would flood the log."""
        self.metrics.load_failures.inc()
        kept = self._served.version if self._served is not None else None
        log.error(
            "model '%s': version %d failed to load from %s: %s; %s",
            self.model_name,
            version.version,
            version.artifact_uri,
            reason,
            f"still serving version {kept}" if kept is not None else "no version is served",
        )
        if retried:
            return
        reason = f"aiflow serve could not load it: {reason}"[:_REASON_LENGTH]
        try:
            if mark:
                self.store.mark_model_version_failed(
                    self.model_name, version.version, reason=reason, actor=ACTOR
                )
            self.store.emit_event(self.model_name, LOAD_FAILED_EVENT, str(version.version))
        except AiflowError as exc:
            log.error(
                "model '%s': could not record that version %d failed: %s",
                self.model_name,
                version.version,
                exc,
            )


def _candidate(events: list[Event], followed: str) -> int | None:
    """The version the newest candidate event names: registered, validated, or given another
    alias than ``followed`` (a move of that one is ``sync``'s)."""
    for event in reversed(events):
        value = event.value
        if event.type == _ALIAS_SET_EVENT:
            alias, _, value = value.rpartition("=")
            if alias == followed:
                continue
        elif event.type not in _CANDIDATE_EVENTS:
            continue
        if value.isdigit():
            return int(value)
    return None
