"""Batch translator: every job runs once over the whole of its inputs, after its upstreams
succeeded. Materialized intermediates are single parquet datasets."""

from __future__ import annotations

from aiflow.translators.physical import PhysicalPlan
from aiflow.translators.translator import Translator


class BatchTranslator(Translator):
    mode = "batch"

    def check(self, physical: PhysicalPlan) -> None:
        """Nothing beyond the shared checks: any fused chain can run once over bounded input."""
