"""The ``local`` engine: pandas batches in the job's own process (``engine.py``; a batch chain
from a file to a file in bounded calls: ``chunks.py``), its file and stream IO (``io.py``), its
training, evaluation and serving operators (``ml.py``) and its ``[local]`` settings."""

from aiflow.translators.plugin import EnginePlugin

plugin = EnginePlugin(
    name="local",
    engine="aiflow.translators.local.engine:LocalEngine",
    settings="aiflow.translators.local.settings:LocalSettings",
)
