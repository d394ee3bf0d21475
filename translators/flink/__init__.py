"""The ``flink`` engine and everything it needs, in one folder.

``engine.py`` runs a job's chain as one Flink job; ``io.py``, ``kafka_io.py``, ``ml.py`` and
``udfs.py`` are what each node builds; ``tableenv.py``, ``rest.py``, ``cluster.py``,
``clusterconf.py`` talk to Flink (mini-cluster, session cluster); ``jars.py`` and
``versions.py`` pin and fetch the connector jars; ``kafka.py`` probes brokers; ``settings.py``
is the ``[flink]`` config section and ``cli.py`` the ``aiflow flink`` commands.

Nothing here imports ``pyflink`` or a Kafka client at module level: ``aiflow`` must import
(and ``aiflow --help`` answer) without the optional ``flink`` extra.
"""

from aiflow.translators.plugin import EnginePlugin

plugin = EnginePlugin(
    name="flink",
    engine="aiflow.translators.flink.engine:FlinkEngine",
    settings="aiflow.translators.flink.settings:FlinkSettings",
    cli="aiflow.translators.flink.cli:app",
)
