"""The ``local`` engine: pandas batches in the job's own process (``engine.py``), its file and
stream IO (``io.py``) and its training, evaluation and serving operators (``ml.py``)."""

from aiflow.translators.plugin import EnginePlugin

plugin = EnginePlugin(name="local", engine="aiflow.translators.local.engine:LocalEngine")
