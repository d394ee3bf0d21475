"""The addresses a Hadoop client needs, from ``[yarn]`` settings or the Hadoop configuration.

Every Hadoop client reads ``core-site.xml``, ``hdfs-site.xml`` and ``yarn-site.xml`` from
``$HADOOP_CONF_DIR``; so do the YARN deployer and the Flink engine's YARN session, for
whatever the ``[yarn]`` settings leave unset: the ResourceManager's REST address, the default
file system, and the NameNode's HTTP address (WebHDFS). Only what those three need is
understood: ``${name}`` references to other properties, and Hadoop's defaults for the
properties involved. High availability (several ResourceManagers or NameNodes) is not
resolved here: set the active one's address explicitly.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from aiflow.errors import InvalidInput

_FILES = ("core-site.xml", "hdfs-site.xml", "yarn-site.xml")
_REFERENCE = re.compile(r"\$\{([^}]+)\}")
_DEFAULTS = {
    "yarn.resourcemanager.hostname": "0.0.0.0",
    "yarn.resourcemanager.webapp.address": "${yarn.resourcemanager.hostname}:8088",
    "fs.defaultFS": "file:///",
    "dfs.namenode.http-address": "0.0.0.0:9870",
}


class Addresses(Protocol):
    """What may be set explicitly (the ``[yarn]`` settings section has these fields)."""

    @property
    def resource_manager(self) -> str | None: ...
    @property
    def hadoop_conf_dir(self) -> Path | None: ...
    @property
    def webhdfs(self) -> str | None: ...


@dataclass(frozen=True)
class Cluster:
    """Where a client talks to: the RM's REST API, the default FS and its WebHDFS."""

    resource_manager: str  # http://host:port
    default_fs: str  # hdfs://host:port (or file:///)
    webhdfs: str | None  # http://host:port of the NameNode, None when the default FS is not HDFS


def read_properties(conf_dir: Path) -> dict[str, str]:
    """Every ``<property>`` of the three site files in ``conf_dir`` (later files win)."""
    properties: dict[str, str] = {}
    for name in _FILES:
        path = conf_dir / name
        if not path.is_file():
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise InvalidInput(f"{path}: not a valid Hadoop configuration file ({exc})") from None
        for prop in root.iter("property"):
            key, value = prop.findtext("name"), prop.findtext("value")
            if key and value is not None:
                properties[key.strip()] = value.strip()
    return properties


def conf_dir(settings: Addresses | None = None) -> Path | None:
    """The Hadoop configuration directory: the explicit one, else ``$HADOOP_CONF_DIR``."""
    return (settings.hadoop_conf_dir if settings else None) or _env_conf_dir()


def resolve(settings: Addresses | None = None) -> Cluster:
    """The cluster's addresses: explicit settings first, then the Hadoop configuration
    (``None``: the configuration alone, as in a YARN container)."""
    directory = conf_dir(settings)
    properties = {**_DEFAULTS, **(read_properties(directory) if directory else {})}

    def get(key: str) -> str:
        value = properties.get(key, "")
        for _ in range(10):  # ${a} may refer to ${b}; Hadoop stops at 20
            expanded = _REFERENCE.sub(lambda m: properties.get(m.group(1), m.group(0)), value)
            if expanded == value:
                break
            value = expanded
        return value

    rm = settings.resource_manager if settings else None
    if not rm:
        if directory is None:
            raise InvalidInput(
                "YARN needs the ResourceManager's address: set "
                "AIFLOW__YARN__RESOURCE_MANAGER (e.g. http://rm-host:8088) or HADOOP_CONF_DIR"
            )
        rm = get("yarn.resourcemanager.webapp.address")
    default_fs = get("fs.defaultFS")
    webhdfs = settings.webhdfs if settings else None
    if not webhdfs and default_fs.startswith("hdfs://"):
        host, _, port = get("dfs.namenode.http-address").rpartition(":")
        if host in ("", "0.0.0.0"):
            host = urlsplit(default_fs).hostname or "localhost"
        webhdfs = f"{host}:{port}"
    return Cluster(_http(rm), default_fs, _http(webhdfs) if webhdfs else None)


def _env_conf_dir() -> Path | None:
    value = os.environ.get("HADOOP_CONF_DIR")
    return Path(value) if value else None


def _http(address: str) -> str:
    address = address.rstrip("/")
    return address if "://" in address else f"http://{address}"
