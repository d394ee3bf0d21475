"""Fixtures of the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiflow.store.sql_store import MetaStore


@pytest.fixture
def store() -> Iterator[MetaStore]:
    """The local meta store the CLI uses (the test's own ``AIFLOW_HOME``)."""
    local = MetaStore()
    yield local
    local.dispose()
