"""Flink tests reuse the end-to-end helpers: the real CLI on a private copy of the wine example."""

from tests.e2e.conftest import cli, wine  # noqa: F401  (fixtures, re-exported)
