"""Data generators of ``benchmarks/ml.py``: the ``input`` (and ``model_data``) of a config entry.

Each generator is a pure function of its spec (``rows``, ``dims``, ``seed`` and its own keys),
so aiflow and its peer get the very same numbers, and a run repeats exactly.

* ``dense``: uniform [0, 1) vectors in ``features`` -- Flink ML's ``DenseVectorGenerator``
  (its KMeans benchmark's input).
* ``labeled``: standard normal ``features`` and a 0 / 1 ``label`` drawn with probability
  ``sigmoid(x . w)`` for a hidden ``w`` of norm ``separation`` (default 4: a Bayes accuracy
  near 90%, so accuracies differ visibly when a fit is not converged). ``test_rows`` more rows
  of the same distribution form the held-out split (``Data.test``).
* ``blobs``: ``centers`` gaussian blobs (``cluster_std``, default 1.0) around centers drawn in
  [-10, 10]; ``label`` holds the blob.
* ``linear_model`` (for ``model_data``): one row of linear model data, ``coefficient`` standard
  normal / sqrt(dims), ``intercept`` 0.1, ``model_version`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aiflow.ml import Table

GENERATORS = ("dense", "labeled", "blobs", "linear_model")
QUICK_ROWS = 10_000


@dataclass(frozen=True)
class Data:
    """What a generator made: the input table and, for ``labeled`` with ``test_rows``, the
    held-out rows."""

    table: Table
    test: Table | None = None


def check_spec(name: str, spec: Any, where: str) -> dict[str, Any]:
    """``spec`` as a dict with a known ``generator`` and positive ``rows`` / ``dims`` (an error
    naming the benchmark and the key otherwise)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{name}: '{where}' must be an object, got {type(spec).__name__}")
    kind = spec.get("generator")
    if kind not in GENERATORS:
        raise ValueError(f"{name}: {where}.generator is {kind!r}, known: {', '.join(GENERATORS)}")
    needed = ("dims",) if kind == "linear_model" else ("rows", "dims")
    for key in needed:
        value = spec.get(key)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: {where}.{key} must be an integer >= 1, got {value!r}")
    return spec


def quick(spec: dict[str, Any], rows: int = QUICK_ROWS) -> dict[str, Any]:
    """The spec shrunk for ``--quick``: at most ``rows`` rows (held-out rows scaled alike)."""
    if "rows" not in spec or spec["rows"] <= rows:
        return spec
    small = dict(spec, rows=rows)
    if spec.get("test_rows"):
        small["test_rows"] = max(1, spec["test_rows"] * rows // spec["rows"])
    return small


def generate(spec: dict[str, Any]) -> Data:
    """The data ``spec`` describes (see the module docstring)."""
    kind = spec["generator"]
    rng = np.random.default_rng(spec.get("seed", 0))
    dims = spec["dims"]
    if kind == "linear_model":
        coefficient = rng.standard_normal(dims) / np.sqrt(dims)
        return Data(
            Table({"coefficient": coefficient[None, :], "intercept": [0.1], "model_version": [0]})
        )
    rows = spec["rows"]
    if kind == "dense":
        return Data(Table({"features": rng.random((rows, dims))}))
    if kind == "blobs":
        centers = rng.uniform(-10.0, 10.0, (spec.get("centers", 10), dims))
        blob = rng.integers(len(centers), size=rows)
        x = centers[blob] + spec.get("cluster_std", 1.0) * rng.standard_normal((rows, dims))
        return Data(Table({"features": x, "label": blob.astype(np.float64)}))
    hidden = rng.standard_normal(dims)
    hidden *= spec.get("separation", 4.0) / np.linalg.norm(hidden)
    train = _labeled(rng, rows, hidden)
    test_rows = spec.get("test_rows", 0)
    return Data(train, _labeled(rng, test_rows, hidden) if test_rows else None)


def _labeled(rng: np.random.Generator, rows: int, hidden: np.ndarray) -> Table:
    x = rng.standard_normal((rows, len(hidden)))
    p = 1.0 / (1.0 + np.exp(-(x @ hidden)))
    return Table({"features": x, "label": (rng.random(rows) < p).astype(np.float64)})
