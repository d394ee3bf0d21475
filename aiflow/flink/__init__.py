"""Support code for the Flink integration: pinned versions, connector and broker jars, cluster.

Nothing here imports ``pyflink`` or a Kafka client at module level: ``aiflow`` must import (and
``aiflow --help`` answer) without the optional ``flink`` extra, so each module imports those
libraries inside the functions that need them.
"""
