"""``[yarn]`` settings (``AIFLOW__YARN__*``): which cluster, and how job applications run on it.

Plain data, imported by ``aiflow.config`` through the ``aiflow.settings`` entry point group
without loading anything of the deployer. Addresses left unset are read from the Hadoop
configuration in ``hadoop_conf_dir`` (else ``$HADOOP_CONF_DIR``), as every Hadoop client does.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class YarnSettings(BaseModel):
    """Where the ResourceManager and the staging file system are, and each job's container."""

    model_config = ConfigDict(extra="forbid")

    # The ResourceManager's web address (REST API), e.g. http://rm-host:8088; else
    # yarn.resourcemanager.webapp.address from the Hadoop configuration.
    resource_manager: str | None = None
    hadoop_conf_dir: Path | None = None
    # The NameNode's HTTP address (WebHDFS), e.g. http://namenode:9870; else
    # dfs.namenode.http-address from the Hadoop configuration.
    webhdfs: str | None = None
    # Where the deployer puts the ApplicationMaster jar and each attempt's log, on the
    # cluster's file system (hdfs://namenode:8020/path, or a path on fs.defaultFS).
    staging_dir: str = "/tmp/aiflow-staging"
    user: str | None = None  # the Hadoop user applications run as; else the local user
    queue: str = "default"
    application_type: str = "AIFLOW"
    memory: int = Field(default=1024, gt=0)  # MB for a job's container (the job and its AM)
    vcores: int = Field(default=1, gt=0)
    # The job's interpreter on the NodeManagers (the driver's own path when unset, for a
    # cluster whose nodes share the driver's installation); with python_archive, relative
    # to the unpacked archive, e.g. "environment/bin/python".
    python: str | None = None
    # A packed Python environment (conda-pack / venv-pack .tar.gz) on the cluster's file
    # system, shipped to each container as a YARN archive resource named "environment".
    python_archive: str | None = None
    # The Hadoop client classpath inside containers (the ApplicationMaster's); unset: Hadoop's
    # default, which the NodeManager expands ($HADOOP_COMMON_HOME/share/hadoop/...).
    application_classpath: list[str] = Field(default_factory=list)
    # A prebuilt ApplicationMaster jar on the cluster's file system; unset: built from the
    # source aiflow ships (needs javac where the driver runs) and uploaded to staging_dir.
    am_jar: str | None = None
    # The AM does little work: a small heap, serial GC and the C1 compiler only, which start
    # its JVM faster than the defaults.
    am_java_options: str = "-Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    request_timeout: float = Field(default=10.0, gt=0)  # s per REST call
