"""Clients for a Hadoop cluster's public interfaces, shared by whatever runs on one.

``conf``: the addresses in ``$HADOOP_CONF_DIR``'s site files; ``rm``: the ResourceManager's
REST API. A layer of its own just above ``errors``/``config``: the YARN deployer submits through
them, and the Flink engine's YARN session (``aiflow flink start --yarn``) finds and stops its
application through them, and neither may import the other.
"""
