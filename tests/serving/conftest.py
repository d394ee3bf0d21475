"""Fixtures of the ``aiflow serve`` tests: small scikit-learn models registered in a private
store, and the service running on a real uvicorn (in a thread) when a test needs real
concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression

from aiflow.config import get_settings
from aiflow.serving.app import ServingApp
from aiflow.store.artifacts import artifact_checksum, save_model
from aiflow.store.sql_store import MetaStore
from tests.e2e.conftest import cli  # noqa: F401  (the CLI fixture, re-exported)
from tests.services import free_port, wait_ready

FEATURES = ["f0", "f1"]


def fit(seed: int = 0, columns: list[str] | None = None) -> LogisticRegression:
    """A logistic regression on ``columns`` (default ``f0``, ``f1``): label = sum > 0."""
    columns = columns or FEATURES
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(80, len(columns))), columns=columns)
    return LogisticRegression().fit(frame, (frame.sum(axis=1) > 0).astype(int))


def register(store: MetaStore, name: str, model: Any, *, checksum: bool = True) -> int:
    """Save ``model`` as the next version of ``name`` (with its checksum, as jobs do)."""
    uri, flavor = save_model(model, name, get_settings().artifacts_uri)
    digest = artifact_checksum(uri) if checksum else None
    return store.register_model_version(name, uri, flavor, checksum=digest).version


@pytest.fixture
def store() -> MetaStore:
    return MetaStore()


@contextmanager
def running(app: ServingApp) -> Iterator[str]:
    """``app`` on uvicorn in a thread (lifespan on: the holder starts and stops with it);
    yields its URL once it answers."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(lambda: httpx.get(f"{url}/", timeout=1).raise_for_status(), timeout=20)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
