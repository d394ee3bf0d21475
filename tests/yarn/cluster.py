"""A real Hadoop cluster for the YARN tests: HDFS, a ResourceManager and NodeManagers on loopback.

The daemons are Hadoop's own classes (``MiniHadoop.java`` beside this file) on the pinned
``hadoop-cluster`` jars, not a mock: the YARN deployer must be tested against the real RM REST
API, real container launches and real node loss. One JVM for the master (NameNode, DataNode,
ResourceManager) and one per NodeManager, because a NodeManager's process tree is what a "host"
is here: ``kill_nodemanager`` SIGKILLs it with every container it launched (they call ``setsid``,
so they are outside its process group, but still its descendants), and the RM reports the node
LOST after its 10 s expiry.

Every daemon runs in its own session (process group), with ``base_dir`` as its working
directory and its stdout, stderr and Hadoop's log4j output in ``base_dir/<name>.log``. It prints
``READY {json}`` there once serving and runs until its stdin closes, which is how ``stop`` asks
it to shut down before killing what is left (any process whose working directory is under
``base_dir``: the daemons and their YARN containers).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.yarn.processes import kill_tree, kill_under

SOURCE = Path(__file__).with_name("MiniHadoop.java")
MASTER_START_TIMEOUT = 180.0  # ~11 s here; a cold JVM on 2 busy cores needs room
NM_START_TIMEOUT = 120.0  # ~6 s here
STOP_TIMEOUT = 30.0
# The JDK 17 module opens Hadoop 3.4's reflection (Guice, Jersey, protobuf) needs.
_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.lang", "java.util", "java.lang.reflect", "java.net", "java.io", "sun.nio.ch",
        "java.util.concurrent",
    )
]  # fmt: skip
_LOG4J = """\
log4j.rootLogger=INFO, err
log4j.appender.err=org.apache.log4j.ConsoleAppender
log4j.appender.err.Target=System.err
log4j.appender.err.layout=org.apache.log4j.PatternLayout
log4j.appender.err.layout.ConversionPattern=%d %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.eclipse.jetty=WARN
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.BlockStateChange=WARN
"""


class HadoopError(RuntimeError):
    """The cluster could not be set up or a daemon did not start (the message has its log)."""


def find_java_home() -> Path:
    """``$JAVA_HOME``, else the JDK that the ``java`` on PATH belongs to (what
    ``scripts/ensure_java.sh`` installs). A JDK, not a JRE: ``javac`` builds ``MiniHadoop``."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        java_home = Path(home)
    else:
        java = shutil.which("java")
        if java is None:
            raise HadoopError("no java on PATH or in $JAVA_HOME (scripts/ensure_java.sh)")
        java_home = Path(java).resolve().parent.parent
    if not os.access(java_home / "bin" / "javac", os.X_OK):
        raise HadoopError(f"{java_home} is not a JDK (no bin/javac): install a JDK 17")
    return java_home


@dataclass
class NodeManager:
    """One NodeManager JVM: ``id`` is its YARN node id ("localhost:PORT"), ``http`` its web
    address. ``running`` is False once its process has ended (killed or stopped)."""

    index: int
    id: str
    http: str
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None


@dataclass
class HadoopCluster:
    """A running cluster. ``classpath`` is what a YARN container's CLASSPATH needs to run Hadoop
    client code against it: the configuration directory, then the jar directory's wildcard."""

    base_dir: Path
    java_home: Path
    jar_dir: Path
    resource_manager: str  # http://HOST:PORT of the RM's web app and REST API
    default_fs: str  # hdfs://HOST:PORT
    namenode_http: str  # http://HOST:PORT, WebHDFS under /webhdfs/v1
    conf_dir: Path  # core-, hdfs- and yarn-site.xml with the real addresses
    master: subprocess.Popen[bytes] = field(repr=False)
    node_managers: list[NodeManager] = field(default_factory=list)

    @property
    def classpath(self) -> list[str]:
        return [str(self.conf_dir), f"{self.jar_dir}/*"]

    # -- NodeManagers -------------------------------------------------------------------------

    def start_nodemanager(self) -> int:
        """Start one more NodeManager (a new host); returns its index in ``node_managers``.
        It has registered with the RM once it is READY (``wait_nodes`` confirms it)."""
        return self.start_nodemanagers(1)[0]

    def start_nodemanagers(self, count: int) -> list[int]:
        """Start ``count`` NodeManagers in parallel; returns their indexes."""
        first = len(self.node_managers)
        indexes = list(range(first, first + count))
        started = [
            _spawn(self, ["nodemanager", str(self.base_dir), str(i)], f"nm-{i}") for i in indexes
        ]
        try:
            with ThreadPoolExecutor(max(count, 1)) as pool:
                readies = list(
                    pool.map(
                        lambda s: wait_daemon_ready(s[0], s[1], NM_START_TIMEOUT, "NodeManager"),
                        started,
                    )
                )
        except BaseException:  # one failed: do not leave its siblings running unlisted
            for process, _ in started:
                _close_and_wait(process, timeout=0)
            raise
        for i, (process, log_file), ready in zip(indexes, started, readies, strict=True):
            http = f"http://localhost:{ready['http_port']}"
            self.node_managers.append(NodeManager(i, str(ready["id"]), http, log_file, process))
        return indexes

    def kill_nodemanager(self, index: int) -> list[int]:
        """Lose a host: SIGKILL NodeManager ``index`` and every process it started (its YARN
        containers). Returns the pids killed; the RM notices after its 10 s expiry."""
        node = self.node_managers[index]
        killed = kill_tree(node.pid)
        node.process.wait(STOP_TIMEOUT)
        return killed

    def running_nodemanagers(self) -> list[NodeManager]:
        return [node for node in self.node_managers if node.running]

    # -- the ResourceManager's view -----------------------------------------------------------

    def rm_get(self, path: str) -> Any:
        """GET ``path`` (e.g. ``/ws/v1/cluster/nodes``) from the RM's REST API, as JSON."""
        response = httpx.get(
            f"{self.resource_manager}{path}", headers={"Accept": "application/json"}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def nodes(self) -> list[dict[str, Any]]:
        """The RM's nodes in every state (RUNNING, LOST, SHUTDOWN, ...), as its REST API says."""
        answer = self.rm_get(f"/ws/v1/cluster/nodes?states={_NODE_STATES}")
        return list((answer.get("nodes") or {}).get("node") or [])

    def wait_nodes(
        self, n_running: int | None = None, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Wait until the RM's RUNNING nodes are exactly the NodeManagers running here (and,
        if given, ``n_running`` of them): after a start they have registered, after a kill the
        RM has marked the lost one LOST. Returns the RM's node list."""
        live = {node.id for node in self.running_nodemanagers()}
        if n_running is not None and n_running != len(live):
            raise ValueError(
                f"wait_nodes({n_running}) but {len(live)} NodeManager(s) are running here"
            )
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.nodes()
            running = {node["id"] for node in nodes if node.get("state") == "RUNNING"}
            if running == live:
                return nodes
            if time.monotonic() > deadline:
                states = {node["id"]: node.get("state") for node in nodes}
                raise AssertionError(
                    f"after {timeout} s the RM reports nodes {states}; expected RUNNING "
                    f"exactly {sorted(live)}"
                )
            time.sleep(0.5)

    def kill_applications(self, spare_tag: str = "aiflow-flink-session") -> list[str]:
        """Kill every YARN application not yet finished (a test's leftovers hold containers)
        except those tagged ``spare_tag`` (the session-wide Flink session of the
        ``flink_on_yarn`` fixture); returns their ids."""
        answer = self.rm_get("/ws/v1/cluster/apps?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING")
        ids = [
            app["id"]
            for app in (answer.get("apps") or {}).get("app") or []
            if spare_tag not in str(app.get("applicationTags") or "").split(",")
        ]
        for app_id in ids:
            httpx.put(
                f"{self.resource_manager}/ws/v1/cluster/apps/{app_id}/state",
                json={"state": "KILLED"},
                timeout=10,
            ).raise_for_status()
        return ids

    # -- logs and shutdown --------------------------------------------------------------------

    def log_tail(self, name: str = "master", lines: int = 40) -> str:
        """The last ``lines`` lines of a daemon's log ("master", "nm-0", ...)."""
        return _tail(self.base_dir / f"{name}.log", lines)

    def stop(self) -> None:
        """Close the daemons' stdin (NodeManagers first, so they unregister from a live RM),
        wait for them, then SIGKILL whatever is left under ``base_dir`` (containers included)."""
        nodes = self.running_nodemanagers()
        for process in [node.process for node in nodes]:
            _close_and_wait(process)
        _close_and_wait(self.master)
        kill_under(self.base_dir)


_NODE_STATES = "NEW,RUNNING,UNHEALTHY,DECOMMISSIONING,DECOMMISSIONED,LOST,REBOOTED,SHUTDOWN"


def start_hadoop(base_dir: Path, nodemanagers: int = 2) -> HadoopCluster:
    """Start HDFS and the RM, then ``nodemanagers`` NodeManagers in parallel, and wait until the
    RM lists them RUNNING. Fetches the ``hadoop-cluster`` jars first if they are not cached.
    On any failure everything started is killed and ``HadoopError`` carries the log tail."""
    from aiflow.translators.flink.jars import ensure_jars

    java_home = find_java_home()
    jars = ensure_jars("hadoop-cluster")
    base_dir = Path(base_dir).resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    _compile(java_home, jars[0].parent, base_dir)
    (base_dir / "log4j.properties").write_text(_LOG4J)
    process, log_file = _spawn_raw(
        java_home, jars[0].parent, base_dir, ["master", str(base_dir)], "master", heap="1g"
    )
    try:
        ready = wait_daemon_ready(
            process, log_file, MASTER_START_TIMEOUT, "Hadoop master (HDFS + RM)"
        )
        cluster = HadoopCluster(
            base_dir=base_dir,
            java_home=java_home,
            jar_dir=jars[0].parent,
            resource_manager=str(ready["resource_manager"]),
            default_fs=str(ready["default_fs"]),
            namenode_http=str(ready["namenode_http"]),
            conf_dir=Path(ready["conf_dir"]),
            master=process,
        )
        cluster.start_nodemanagers(nodemanagers)
        try:
            cluster.wait_nodes(nodemanagers)
        except (AssertionError, httpx.HTTPError) as exc:
            raise HadoopError(
                f"the NodeManagers started but the RM does not list them: {exc}; last lines "
                f"of {log_file}:\n{_tail(log_file, 40)}"
            ) from exc
        return cluster
    except BaseException:  # also Ctrl-C or a test timeout: never leave the JVMs behind
        _close_and_wait(process, timeout=0)
        kill_under(base_dir)
        raise


# -- internals ----------------------------------------------------------------------------------


def _compile(java_home: Path, jar_dir: Path, base_dir: Path) -> None:
    """Compile ``MiniHadoop.java`` once per cluster: the source launcher would compile it again
    in every daemon's JVM (~3 s of CPU each on a 2-core machine)."""
    classes = base_dir / "classes"
    done = subprocess.run(
        [str(java_home / "bin" / "javac"), "-nowarn", "-cp", f"{jar_dir}/*", "-d", str(classes),
         str(SOURCE)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise HadoopError(f"javac {SOURCE.name} failed:\n{(done.stdout + done.stderr)[-3000:]}")


def _spawn(
    cluster: HadoopCluster, args: list[str], name: str
) -> tuple[subprocess.Popen[bytes], Path]:
    return _spawn_raw(
        cluster.java_home, cluster.jar_dir, cluster.base_dir, args, name, heap="512m",
        conf_dir=cluster.conf_dir,
    )  # fmt: skip


def _spawn_raw(
    java_home: Path,
    jar_dir: Path,
    base_dir: Path,
    args: list[str],
    name: str,
    heap: str,
    conf_dir: Path | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start one daemon JVM in a session of its own; stdin is a pipe that keeps it running."""
    env = dict(os.environ, JAVA_HOME=str(java_home))  # containers inherit it: {{JAVA_HOME}}
    if conf_dir is not None:
        env["HADOOP_CONF_DIR"] = str(conf_dir)  # in YARN's env whitelist, so containers get it
    command = [
        str(java_home / "bin" / "java"), *_OPENS, f"-Xmx{heap}", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", f"-Daiflow.hadoop.jars={jar_dir}",
        f"-Dlog4j.configuration=file:{base_dir / 'log4j.properties'}",
        "-cp", f"{base_dir / 'classes'}:{jar_dir}/*", "MiniHadoop", *args,
    ]  # fmt: skip
    log_file = base_dir / f"{name}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=base_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log_file


def wait_daemon_ready(
    process: subprocess.Popen[bytes], log_file: Path, timeout: float, what: str
) -> dict[str, Any]:
    """The JSON of the daemon's ``READY`` line; raises ``HadoopError`` with its log tail if it
    exits or stays silent for ``timeout`` s (and kills it then)."""
    deadline = time.monotonic() + timeout
    with log_file.open("rb") as log:  # read as it grows: the master logs megabytes first
        pending = b""
        while True:
            pending += log.read()
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.startswith(b"READY "):
                    return dict(json.loads(line[len(b"READY ") :]))
            exited = process.poll()
            if exited is not None and not lines:
                why = f"exited with {exited}"
            elif time.monotonic() > deadline:
                why = f"was not READY within {timeout:.0f} s"
            else:
                time.sleep(0.2)
                continue
            _close_and_wait(process, timeout=0)
            raise HadoopError(f"{what} {why}; last lines of {log_file}:\n{_tail(log_file, 40)}")


def _close_and_wait(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Close stdin (the daemon's signal to stop), wait, then SIGKILL its whole tree."""
    stdin: IO[bytes] | None = process.stdin
    if stdin is not None and not stdin.closed:
        with contextlib.suppress(OSError):
            stdin.close()
    if process.poll() is None and timeout > 0:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    if process.poll() is None:
        kill_tree(process.pid)
        process.wait(STOP_TIMEOUT)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _tail(path: Path, lines: int) -> str:
    return "\n".join(_read(path).splitlines()[-lines:])
