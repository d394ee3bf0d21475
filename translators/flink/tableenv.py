"""PyFlink ``TableEnvironment``s set up the way aiflow runs Flink jobs; where PyFlink and Java are.

``create_table_env(mode, settings)`` is what the Flink engine calls, once per job process:

* ``flink.rest_url`` unset: an embedded mini-cluster inside this process. PyFlink runs the Python
  UDFs in this process too ("loopback" mode): same imports and ``sys.path`` as the driver.
* ``flink.rest_url`` set: the job is submitted to that session cluster (``execution.target:
  remote``). The TaskManager starts its own Python workers with ``python.executable`` =
  this interpreter, so the cluster must see the same venv (true for ``aiflow flink start``).
  PyFlink decides loopback vs. separate worker when the environment is *created*, from the env
  var ``_python_worker_execution_mode``; setting the target afterwards is not enough (the
  TaskManager would call back into this process). The REST endpoint is checked first, so an
  unreachable cluster fails at once with its address instead of after the client's retries.

Both: ``restart-strategy.type: none`` (aiflow's driver owns retries, and a failing UDF must end
the job as FAILED rather than restart it forever), stream jobs checkpoint every
``flink.checkpoint_interval`` seconds (the filesystem sink commits files on checkpoints;
``stream_job_options`` adjusts that once the job's sinks are known), and Python functions get
Arrow batches and bundles sized for the mode (``table_env_options``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiflow.config import Settings
from aiflow.errors import FlinkUnavailable, InvalidInput
from aiflow.translators.flink import loopback
from aiflow.translators.flink.settings import FlinkSettings, flink_settings

if TYPE_CHECKING:
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import TableEnvironment

BATCH_ARROW_ROWS = 50_000  # rows a Python function of a batch job gets a call (at most)
STREAM_BUNDLE_ROWS = 200_000  # records a stream job's Python function gets before a bundle ends
_JAR_OPTIONS = ("pipeline.jars", "pipeline.classpaths")  # PyFlink loads these into its class loader
_WORKER_MODE_ENV = "_python_worker_execution_mode"  # read by PyFlink in TableEnvironment._open
_JDK_GLOBS = (
    "/usr/lib/jvm/*",
    "/usr/java/*",
    "/opt/java/*",
    "/usr/local/opt/openjdk*/libexec/openjdk.jdk/Contents/Home",
    "/Library/Java/JavaVirtualMachines/*/Contents/Home",
)

log = logging.getLogger(__name__)


def create_table_env(
    mode: str,
    settings: Settings | FlinkSettings | None = None,
    *,
    jars: Iterable[str | Path] = (),
    job_name: str | None = None,
    config: Mapping[str, str] | None = None,
) -> TableEnvironment:
    """A batch (``mode="batch"``) or streaming (``"stream"``) TableEnvironment.

    ``jars`` (connector jars, local paths) go to ``pipeline.jars``; ``job_name`` becomes
    ``pipeline.name`` (what Flink's web UI and ``/jobs/overview`` show); ``config`` overrides
    any option set here."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    flink = _flink_settings(settings)
    _check(mode, flink)
    options = table_env_options(
        mode, flink, jars=jars, job_name=job_name, ship_python_jar=_ship_python_jar(flink)
    )
    options.update(config or {})
    os.environ["JAVA_HOME"] = str(find_java_home(flink.java_home))  # the gateway JVM reads it
    _connect_gateway(flink)
    conf = java_configuration(options)
    builder = EnvironmentSettings.new_instance().with_configuration(conf)
    builder = builder.in_streaming_mode() if mode == "stream" else builder.in_batch_mode()
    with _worker_mode(flink):
        t_env = TableEnvironment.create(builder.build())
    t_env.get_config().add_configuration(conf)  # the table config is what a submission reads
    loopback.install(t_env)  # on the mini-cluster: its Python workers boot in milliseconds
    return t_env


def create_stream_env(
    settings: Settings | FlinkSettings | None = None, *, parallelism: int | None = None
) -> StreamExecutionEnvironment:
    """A DataStream environment in batch runtime mode, on the same cluster and with the same
    options as ``create_table_env("batch")`` (``aiflow.ml.flink`` runs its tasks on it);
    ``parallelism`` overrides ``flink.parallelism``."""
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

    flink = _flink_settings(settings)
    _check("batch", flink)
    options = table_env_options("batch", flink, ship_python_jar=_ship_python_jar(flink))
    if parallelism is not None:
        options["parallelism.default"] = str(parallelism)
    os.environ["JAVA_HOME"] = str(find_java_home(flink.java_home))
    _connect_gateway(flink)
    conf = java_configuration(options)
    with _worker_mode(flink):
        env = StreamExecutionEnvironment.get_execution_environment(conf)
        if flink.rest_url:  # getExecutionEnvironment(conf) is always a local one in Java
            from pyflink.java_gateway import get_gateway

            jvm_env = get_gateway().jvm.org.apache.flink.streaming.api.environment
            env = StreamExecutionEnvironment(
                jvm_env.StreamExecutionEnvironment(conf._j_configuration)
            )
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    return env


def java_configuration(options: Mapping[str, str]) -> Configuration:
    """A PyFlink ``Configuration`` holding ``options``, one py4j call per option.

    PyFlink's ``set_string`` looks the jar options' keys up over py4j on every call (~8 round
    trips of ~1 ms) to add those jars to the context class loader; only the jar options need
    that, so only they go through it."""
    from pyflink.common import Configuration

    conf = Configuration()
    for key, value in options.items():
        if key in _JAR_OPTIONS:
            conf.set_string(key, value)
        else:
            conf._j_configuration.setString(key, value)
    return conf


def table_env_options(
    mode: str,
    flink: FlinkSettings,
    *,
    jars: Iterable[str | Path] = (),
    job_name: str | None = None,
    ship_python_jar: bool = True,
) -> dict[str, str]:
    """The Flink options ``create_table_env`` sets (pure: no JVM, testable on its own).

    ``ship_python_jar``: for a session cluster, add ``flink-python`` to ``pipeline.jars``;
    without it on the cluster a job with Python UDFs fails with ClassNotFoundException.
    ``aiflow flink start`` puts it on the cluster's classpath, which saves shipping 42 MB."""
    _check(mode, flink)
    options = {
        "parallelism.default": str(flink.parallelism),
        "restart-strategy.type": "none",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        # Rows a Python function gets at once (a call's fixed cost is ~5 ms of pandas), and
        # rows before the JVM waits for all results (the end of a bundle): batches of a bundle
        # overlap, the worker computing one while the JVM sends the next, and at a bundle's
        # end both sides idle in turn (~0.15-0.3 s). Until then the JVM keeps a row for each
        # record sent and every result it got (Beam hands results over when the bundle ends):
        # a bundle bounds the JVM's memory. Stream bundles also end every 200 ms, or only at
        # checkpoints in a job that writes files (``stream_job_options``).
        "python.fn-execution.arrow.batch.size": "25000",
        "python.fn-execution.bundle.size": str(STREAM_BUNDLE_ROWS),
        # per-bundle metrics of the Python workers, which aiflow does not read
        "python.metric.enabled": "false",
    }
    if mode == "batch":
        # no time limit (no checkpoint waits for a bundle: Flink's default of a bundle a second
        # cost a 1M-row job ~1.5 s); Arrow batches twice a stream's: a call's fixed costs
        # halved pay for the bundles' ends (1M rows: ~200k records/s either way, see
        # docs/benchmarks.md), where one bundle for the whole input held it all in the JVM
        options["python.fn-execution.bundle.size"] = str(flink.batch_bundle_rows)
        options["python.fn-execution.bundle.time"] = str(2**31 - 1)  # ms
        options["python.fn-execution.arrow.batch.size"] = str(BATCH_ARROW_ROWS)
    if job_name:
        options["pipeline.name"] = job_name
    jar_urls = [Path(jar).resolve().as_uri() for jar in jars]
    if flink.rest_url:
        host, port = _host_port(flink.rest_url)
        options.update({"execution.target": "remote", "rest.address": host, "rest.port": port})
        if ship_python_jar:
            jar_urls.insert(0, flink_python_jar().as_uri())
    if jar_urls:
        options["pipeline.jars"] = ";".join(jar_urls)
    if mode == "stream":
        options.update(stream_job_options(flink.checkpoint_interval, files=False))
        options.update(
            {
                "execution.checkpointing.mode": "EXACTLY_ONCE",
                "python.fn-execution.bundle.time": "200",  # ms: small streams flush quickly
            }
        )
    return options


def stream_job_options(interval: float, *, files: bool) -> dict[str, str]:
    """A stream job's options once its sinks are known: checkpoints every ``interval`` s and,
    when it writes ``files``, a Python bundle a checkpoint.

    A checkpoint ends every bundle (the operator flushes before its barrier), so with a bundle
    time of two intervals bundles end at checkpoints only, unless checkpoints stall, and an
    Arrow batch as large as a bundle makes a bundle one call: a text sink gets one row (the
    batch's text) a checkpoint, right before it, and commits it as one part by that checkpoint
    (``io.rolling``). With 200 ms bundles, records waited in a part for its age to roll it,
    then for the next checkpoint: ~2 intervals to be visible, now ~half of one (records wait
    in the JVM instead, as they would in the part)."""
    options = {"execution.checkpointing.interval": f"{max(1, round(interval * 1000))} ms"}
    if files:
        options["python.fn-execution.bundle.time"] = str(max(1, round(interval * 2000)))
        options["python.fn-execution.arrow.batch.size"] = str(STREAM_BUNDLE_ROWS)
    return options


# -- where PyFlink and Java are ------------------------------------------------------------------


def pyflink_home() -> Path:
    """The installed ``pyflink`` package dir: it holds Flink's bin/, lib/, opt/ and conf/."""
    from importlib.util import find_spec

    spec = find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise FlinkUnavailable(
            "PyFlink is not installed in this environment: pip install 'aiflow[flink]'"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def flink_python_jar(flink_home: Path | None = None) -> Path:
    """``opt/flink-python-*.jar``: the Python operators, which a cluster's lib/ lacks."""
    opt = (flink_home or pyflink_home()) / "opt"
    found = sorted(opt.glob("flink-python-*.jar"))
    if not found:
        raise FlinkUnavailable(f"no flink-python-*.jar in {opt}: reinstall apache-flink")
    return found[-1]


def find_java_home(configured: str | None = None) -> Path:
    """The JDK to run Flink with: ``flink.java_home``, else ``$JAVA_HOME``, else the ``java`` on
    PATH (symlinks resolved), else a JDK in a usual place (17, then 21, then 11 preferred).

    An explicit setting that has no ``bin/java`` is an error rather than skipped, so a typo is
    not silently replaced by another JDK."""
    explicit = (("flink.java_home", configured), ("JAVA_HOME", os.environ.get("JAVA_HOME")))
    for source, value in explicit:
        if value:
            home = Path(value).expanduser()
            if _has_java(home):
                return home
            raise FlinkUnavailable(f"{source}={value} has no bin/java: point it at a JDK 11-21")
    on_path = shutil.which("java")
    if on_path:
        home = Path(on_path).resolve().parent.parent
        if home.name == "jre" and _has_java(home.parent):  # JDK 8 layout
            home = home.parent
        if _has_java(home):
            return home
    import glob

    candidates = [Path(p) for pattern in _JDK_GLOBS for p in sorted(glob.glob(pattern))]
    for version in ("17", "21", "11", ""):
        for home in candidates:
            if version in home.name and _has_java(home):
                return home
    raise FlinkUnavailable(
        "no Java found for Flink: set JAVA_HOME (or flink.java_home, env "
        "AIFLOW__FLINK__JAVA_HOME) to a JDK 11-21, or put `java` on PATH "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
    )


def _ship_python_jar(flink: FlinkSettings) -> bool:
    """Whether a session cluster lacks flink-python; asking it first also fails fast, naming
    the URL, rather than after the client's retries."""
    if not flink.rest_url:
        return False
    from aiflow.translators.flink.rest import FlinkRest

    return not FlinkRest(flink.rest_url, timeout=10.0).has_python_jar()


def _connect_gateway(flink: FlinkSettings) -> None:
    """This process's first gateway: a warm JVM from the pool when one is ready
    (``aiflow.translators.flink.gateways``), its log moved to the job's directory; else PyFlink
    launches one when the environment is created, as it always did."""
    from aiflow.translators.flink import gateways

    if not gateways.adopt(flink):
        return
    from pyflink.java_gateway import get_gateway

    try:
        get_gateway()
    except Exception as exc:  # gone since the pool handed it out: launch our own
        log.warning("the warm Flink gateway JVM did not answer (%s): launching one", exc)
        gateways.give_up()
        return
    try:
        gateways.log_to(os.environ.get("FLINK_LOG_DIR"), os.environ.get("LOG4J_PROPERTIES"))
    except Exception as exc:  # the job runs; only its JVM log stays in the pool's directory
        log.warning("could not move the Flink gateway JVM's log to the job's: %s", exc)


@contextlib.contextmanager
def _worker_mode(flink: FlinkSettings) -> Iterator[None]:
    """Python workers in separate processes for a session cluster (see the module docstring),
    while the environment is created; the variable is restored afterwards."""
    previous = os.environ.get(_WORKER_MODE_ENV)
    if flink.rest_url:
        os.environ[_WORKER_MODE_ENV] = "process"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_WORKER_MODE_ENV, None)
        else:
            os.environ[_WORKER_MODE_ENV] = previous


def _has_java(home: Path) -> bool:
    return os.access(home / "bin" / "java", os.X_OK)


def _flink_settings(settings: Settings | FlinkSettings | None) -> FlinkSettings:
    if settings is None or isinstance(settings, Settings):
        return flink_settings(settings)
    return settings


def _check(mode: str, flink: FlinkSettings) -> None:
    if mode not in ("batch", "stream"):
        raise InvalidInput(f"unknown Flink mode '{mode}': use 'batch' or 'stream'")
    if flink.rest_url:
        _host_port(flink.rest_url)


def _host_port(rest_url: str) -> tuple[str, str]:
    parts = urlsplit(rest_url)
    try:
        port = parts.port or 8081  # Flink's default rest.port
    except ValueError:
        port = 0
    if parts.scheme != "http" or not parts.hostname or not port:
        raise InvalidInput(f"flink.rest_url '{rest_url}' must look like http://host:port")
    return parts.hostname, str(port)
