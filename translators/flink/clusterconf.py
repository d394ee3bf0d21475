"""The private Flink tree of aiflow's session cluster: what ``aiflow flink start`` writes.

The ``apache-flink`` wheel's own ``conf/`` must stay untouched (it is shared by every user of the
venv and replaced on reinstall), so the daemons get ``FLINK_CONF_DIR``/``FLINK_LIB_DIR`` pointing
here instead::

    <root>/conf/config.yaml  Flink 2.x nested YAML: loopback addresses, our ports and memory,
                             python.executable = this interpreter, no restart strategy
    <root>/conf/log4j*       copied from the wheel
    <root>/lib/              links to the wheel's lib/*.jar plus opt/flink-python-*.jar: with
                             it on the cluster's classpath a job with Python UDFs needs no
                             42 MB jar in pipeline.jars
    <root>/log, pid, tmp, checkpoints

Everything is rewritten on each start, so a changed setting or an upgraded PyFlink takes effect.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiflow.errors import FlinkUnavailable
from aiflow.translators.flink.settings import FlinkSettings
from aiflow.translators.flink.tableenv import flink_python_jar

HOST = "127.0.0.1"
IDENT = "aiflow"  # FLINK_IDENT_STRING: names the pid and log files (default $USER, often unset)
SUBDIRS = ("conf", "lib", "log", "pid", "tmp", "checkpoints")


def prepare(
    root: Path, settings: FlinkSettings, flink_home: Path, rest_port: int, rpc_port: int
) -> None:
    """Create the tree and write its conf and lib dirs."""
    link_tree(root, flink_home)
    config = cluster_config(root, settings, flink_home, rest_port, rpc_port)
    (root / "conf" / "config.yaml").write_text(dump_yaml(config))


def link_tree(root: Path, flink_home: Path) -> None:
    """The tree's directories, the wheel's log4j files, and ``lib/`` (the wheel's jars plus
    ``flink-python``); the caller writes ``conf/config.yaml``."""
    for sub in SUBDIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    for src in (flink_home / "conf").glob("log4j*.properties"):
        (root / "conf" / src.name).write_bytes(src.read_bytes())
    lib = root / "lib"
    for link in lib.iterdir():
        link.unlink()
    for jar in [*sorted((flink_home / "lib").glob("*.jar")), flink_python_jar(flink_home)]:
        (lib / jar.name).symlink_to(jar)


def daemon_env(root: Path, java_home: Path) -> dict[str, str]:
    """The environment for ``jobmanager.sh``/``taskmanager.sh``: ours, minus any Flink or Hadoop
    settings of the caller's shell, plus the private tree and the JDK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLINK_", "HADOOP_"))}
    env.update(
        JAVA_HOME=str(java_home),
        FLINK_CONF_DIR=str(root / "conf"),
        FLINK_LIB_DIR=str(root / "lib"),
        FLINK_IDENT_STRING=IDENT,
        FLINK_LOG_DIR=str(root / "log"),
        FLINK_PID_DIR=str(root / "pid"),
    )
    return env


def cluster_config(
    root: Path, settings: FlinkSettings, flink_home: Path, rest_port: int, rpc_port: int
) -> dict[str, Any]:
    """Flat Flink options (``dump_yaml`` nests them)."""
    return {
        "env.java.opts.all": shipped_java_opts(flink_home),
        "env.log.dir": str(root / "log"),
        "env.pid.dir": str(root / "pid"),
        "jobmanager.bind-host": HOST,
        "jobmanager.rpc.address": HOST,
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.memory.process.size": settings.jobmanager_memory,
        "taskmanager.bind-host": HOST,
        "taskmanager.host": HOST,
        "taskmanager.numberOfTaskSlots": settings.slots,
        "taskmanager.memory.process.size": settings.taskmanager_memory,
        "rest.address": HOST,
        "rest.bind-address": HOST,
        "rest.port": rest_port,
        "web.submit.enable": False,  # no jar upload through the UI: jobs come from aiflow
        "web.tmpdir": str(root / "tmp" / "web"),
        "io.tmp.dirs": str(root / "tmp"),
        "parallelism.default": settings.parallelism,
        "metrics.fetcher.update-interval": 2000,  # ms: fresher record counts in REST and the UI
        # aiflow's driver owns retries; Flink restarting a job behind it would hide the failure
        "restart-strategy.type": "none",
        "execution.checkpointing.dir": f"file://{root / 'checkpoints'}",
        # the TaskManager starts Python workers with this: it must have pyflink and aiflow
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }


def shipped_java_opts(flink_home: Path) -> str:
    """The wheel's ``env.java.opts.all``: the --add-opens Flink needs on Java 17+."""
    from ruamel.yaml import YAML  # a dependency of apache-flink itself

    shipped = YAML(typ="safe").load((flink_home / "conf" / "config.yaml").read_text()) or {}
    return str(shipped.get("env", {}).get("java", {}).get("opts", {}).get("all", ""))


@contextmanager
def locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``, waited for at most ``timeout`` seconds (a concurrent
    start is bounded by its own timeout, so that is enough)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FlinkUnavailable(f"another `aiflow flink` command holds {path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dump_yaml(flat: dict[str, Any]) -> str:
    """Flink 2.x's ``config.yaml`` format: dotted keys as nested mappings."""
    from io import StringIO

    from ruamel.yaml import YAML

    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.width = 4096  # keep the long java opts on one line
    out = StringIO()
    yaml.dump(nested, out)
    return "# written by `aiflow flink start`, rewritten on every start\n" + out.getvalue()


def pick_port(configured: int, previous: Any, taken: set[int]) -> int:
    """The configured port; else the one used last time if it is free (so an exported
    ``AIFLOW__FLINK__REST_URL`` keeps working across restarts); else a free one."""
    if configured:
        return configured
    if isinstance(previous, int) and previous not in taken and port_free(previous):
        return previous
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # test as a server binds: connections to the old cluster lingering in TIME_WAIT are fine
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True
