"""Prometheus metrics of one app: request latency, and the meta store's state at scrape time.

Each app owns a private ``CollectorRegistry`` (no process-global state: two apps in one process,
as in tests, never share or double-register series).

* ``aiflow_http_request_duration_seconds{method, route, status}``: a histogram per route
  *template* (``/api/v1/executions/{id}``), never the raw path, so ids cannot explode the
  number of series; requests that match no route are ``route="unmatched"``.
* ``aiflow_executions{status}``, ``aiflow_jobs{status}``: computed on each scrape with one
  grouped query per table (``MetaStore.count_by_status``), every status present.
* ``aiflow_event_lag_seconds``: now minus the newest event's time -- a feed that should be
  moving but is not (stuck drivers, a dead stream) shows as a growing value.
* ``aiflow_metastore_up``: 0 when the scrape could not read the store; the store gauges are
  then left out rather than reported as zeros that look like real data.
* ``aiflow_scheduler_loop_delay_seconds``, ``aiflow_trigger_fire_delay_seconds``,
  ``aiflow_trigger_fires_total{outcome}``: registered in ``registry`` by the scheduler service
  when it runs inside the server (``aiflow.scheduler.service.SchedulerMetrics``; the scheduler
  package knows nothing of the server). How late scheduler passes start, and how late
  triggers fire after their due time or event: a growing delay means the scheduler is
  falling behind (a slow meta store, too many fires per pass) or stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiflow.errors import MetaStoreError
from aiflow.store.sql_store import MetaStore

UNMATCHED_ROUTE: Final = "unmatched"
# Latency buckets from a cached read (~1 ms) to a slow submission (seconds).
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, store: MetaStore) -> None:
        self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "aiflow_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.registry.register(_StoreCollector(store))

    def exposition(self) -> bytes:
        """The text exposition format; queries the store (call it off the event loop)."""
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    def __init__(self, store: MetaStore) -> None:
        self._store = store

    def describe(self) -> Iterable[Metric]:
        # Names only: without describe() the registry would call collect() -- querying the
        # store -- when the collector is registered, i.e. while the app is being built.
        return [*self._families(), GaugeMetricFamily("aiflow_metastore_up", "")]

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("aiflow_metastore_up", "1 if this scrape could read the meta store")
        try:
            counts = self._store.count_by_status()
            latest = self._store.latest_event_at()
        except MetaStoreError:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        executions, jobs, lag = self._families()
        for execution_status, count in counts.executions.items():
            executions.add_metric([execution_status.value], count)
        for job_status, count in counts.jobs.items():
            jobs.add_metric([job_status.value], count)
        if latest is not None:
            lag.add_metric([], max(0.0, (datetime.now(UTC) - latest).total_seconds()))
        return [up, executions, jobs, lag]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("aiflow_executions", "Executions by status", labels=["status"]),
            GaugeMetricFamily("aiflow_jobs", "Jobs by status", labels=["status"]),
            GaugeMetricFamily(
                "aiflow_event_lag_seconds", "Seconds since the newest event was written"
            ),
        )


class ObserveRequests:
    """ASGI middleware: times each request by route template; marks dev-mode responses.

    Plain ASGI rather than ``BaseHTTPMiddleware``, which buffers streaming responses (log
    follow) and runs the endpoint in another task. The route is read after the app ran: the
    router stores the matched route in the (shared) scope. The 500 of an unhandled error is
    sent by Starlette outside every middleware: it is counted, but has no dev-mode header.
    """

    def __init__(self, app: ASGIApp, *, histogram: Histogram, dev: bool) -> None:
        self.app = app
        self.histogram = histogram
        self.dev = dev
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped to the error handler

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.dev:
                    message["headers"] = [*message.get("headers", []), (b"x-aiflow-dev-mode", b"1")]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = self._template(scope)
            self.histogram.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )

    def _template(self, scope: Scope) -> str:
        """The full path template of the matched route.

        Recent FastAPI versions (0.165 here) keep included routers nested, so the route in the
        scope knows only its path within its own router (``/executions/{id}``, not
        ``/api/v1/...``); the full templates come from the app's route contexts, computed once
        (routes are fixed by the first request). Versions that flatten included routers have
        no ``iter_route_contexts``, and there ``route.path`` is already the full template.
        """
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        if self._templates is None:
            self._templates = _full_templates(scope["app"].routes)
        template = self._templates.get(id(route)) or getattr(route, "path", None)
        return template if isinstance(template, str) else UNMATCHED_ROUTE


def _full_templates(routes: Sequence[BaseRoute]) -> dict[int, str]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - FastAPI versions that flatten included routers
        return {}
    return {
        id(context.original_route): context.path_format
        for context in iter_route_contexts(routes)
        if context.path_format
    }
