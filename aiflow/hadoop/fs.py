"""HDFS through fsspec's ``webhdfs`` filesystem: plain HTTP to the NameNode (and DataNodes).

Why WebHDFS and not pyarrow's HDFS client: that one needs ``libhdfs`` and a JVM in the calling
process; WebHDFS needs neither and every HDFS deployment serves it. An ``hdfs://host:port/path``
URL is what Hadoop and Flink take; this module maps it to the NameNode's HTTP address found in
the Hadoop configuration (``dfs.namenode.http-address``).

Importing this module makes ``hdfs://`` URLs mean ``hdfs.HadoopFileSystem`` to fsspec in this
process (fsspec's own ``hdfs`` is pyarrow's, which needs ``libhdfs``). Every aiflow module that
opens storage URLs through fsspec imports it for that (a test checks they all do), so
``fsspec.open("hdfs://nn:8020/aiflow/snapshots/x.tar.gz")`` works wherever aiflow runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import fsspec

if TYPE_CHECKING:
    from aiflow.hadoop.conf import Cluster


def endpoint(address: str) -> dict[str, Any]:
    """fsspec ``WebHDFS`` arguments for the NameNode at ``address`` (http[s]://host:port)."""
    split = urlsplit(address)
    return {
        "host": split.hostname or "localhost",
        "port": split.port or 9870,
        "use_https": split.scheme == "https",
    }


def webhdfs(address: str, user: str) -> Any:
    """An fsspec ``WebHDFS`` filesystem on the NameNode at ``address`` (http[s]://host:port)."""
    from fsspec.implementations.webhdfs import WebHDFS

    return WebHDFS(**endpoint(address), user=user, skip_instance_cache=True)


def resolve_from_environment(uri: str) -> Cluster:
    """The addresses in ``$HADOOP_CONF_DIR``, for ``uri`` (named in the error when unset)."""
    from aiflow.errors import InvalidInput
    from aiflow.hadoop.conf import resolve

    if not os.environ.get("HADOOP_CONF_DIR"):
        raise InvalidInput(f"{uri!r} is on HDFS: set HADOOP_CONF_DIR to the cluster's config")
    return resolve()


# by name: WebHDFS (and requests) are imported only when an hdfs:// URL is first opened
fsspec.register_implementation("hdfs", "aiflow.hadoop.hdfs.HadoopFileSystem", clobber=True)
