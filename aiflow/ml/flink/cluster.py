"""Where ``aiflow.ml``'s Flink jobs run: the Flink engine's own setup (``flink.*`` settings:
the embedded mini-cluster, or the session cluster at ``flink.rest_url``), so a fit under
``aiflow run --engine flink`` and a notebook's ``Table(engine="flink")`` use the same cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyflink.datastream import StreamExecutionEnvironment


def parallelism() -> int:
    """How many tasks (shards) a data-parallel job uses: ``flink.parallelism``."""
    from aiflow.translators.flink.settings import flink_settings

    return flink_settings().parallelism


def stream_env(tasks: int) -> StreamExecutionEnvironment:
    """A batch-mode DataStream environment for a job of ``tasks`` parallel tasks."""
    from aiflow.translators.flink.tableenv import create_stream_env

    return create_stream_env(parallelism=tasks)
