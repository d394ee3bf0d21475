"""Stream translator: jobs run until stopped, driven by micro-batches of one streaming source
each; downstream jobs start once their upstreams are running and read the intermediate's
part files as they appear."""

from __future__ import annotations

from aiflow.errors import InvalidPlan
from aiflow.translators.physical import PhysicalPlan
from aiflow.translators.translator import SOURCE_KINDS, Translator


class StreamTranslator(Translator):
    mode = "stream"

    def check(self, physical: PhysicalPlan) -> None:
        for job in physical.jobs:
            streaming = [
                n.id
                for n in job.nodes
                if n.kind in SOURCE_KINDS and n.example is not None and n.example.stream_uri
            ]
            if len(streaming) > 1:
                raise InvalidPlan(
                    f"job '{job.name}' would read {len(streaming)} streams "
                    f"({', '.join(streaming)}); "
                    "a stream job is driven by one stream (joining streams is not supported yet)",
                    streaming[1],
                )
