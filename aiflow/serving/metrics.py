"""Prometheus metrics of one prediction service, in a private ``CollectorRegistry`` (two
services in one process, as in tests, never share or double-register a series).

* ``aiflow_serving_requests_total{code}``: predict requests by HTTP status;
* ``aiflow_serving_request_seconds``: their latency, from the first byte read to the last sent;
* ``aiflow_serving_model_version``: the version being served (0 before the first one loaded);
* ``aiflow_serving_swaps_total``: times the served version was replaced by another;
* ``aiflow_serving_load_failures_total``: versions that could not be loaded (the previous one
  kept serving).

Only ``POST /v1/models/{name}:predict`` is counted and timed: readiness probes and scrapes
would otherwise drown the traffic that matters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from prometheus_client import Counter

# Predictions take well under a millisecond to a few; the tail buckets catch a stalled model.
_BUCKETS: Final = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)


class ServingMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aiflow_serving_requests",
            "Predict requests by HTTP status code",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aiflow_serving_request_seconds",
            "Predict request latency in seconds",
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.version = Gauge(
            "aiflow_serving_model_version",
            "Model version being served (0: none loaded yet)",
            registry=self.registry,
        )
        self.swaps = Counter(
            "aiflow_serving_swaps", "Times the served version was replaced", registry=self.registry
        )
        self.load_failures = Counter(
            "aiflow_serving_load_failures",
            "Model versions that failed to load (the previous version kept serving)",
            registry=self.registry,
        )
        self._by_code: dict[int, Counter] = {}

    def observe(self, code: int, seconds: float) -> None:
        """Count one predict request (the labelled child is looked up once per code)."""
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code.setdefault(code, self.requests.labels(str(code)))
        child.inc()
        self.latency.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
