"""The ``flink`` engine: a job's fused chain becomes one Flink job, built with PyFlink's Table
API and run on the embedded mini-cluster or on a session cluster (``flink.rest_url``).

The job process stays the driver: it builds the tables, submits one Flink job named
``<workflow>/<job>#<execution>`` (every source, function and sink named after its plan node, so
Flink's UI shows the user's names), waits for it — or cancels it when the job is stopped — and turns
Flink's failure into the same ``AiflowError`` the local engine raises, naming the node.

Flink runs what is a function of each record: reading and parsing examples, transform,
predict, writing. Training, evaluation and user operations inherit ``local`` (``fallback``)
and run as their own jobs, fed by a materialized intermediate (json lines, which both engines
read and write).

Not here: what each node builds (``io``, ``ml``), the Python side of the UDFs
(``udfs``), cluster management (``cluster``, ``rest``, ``tableenv``).
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.errors import AiflowError, DeploymentError, InvalidPlan, UserCodeError
from aiflow.translators.engine import Engine, Operator, operator_for, register_engine
from aiflow.translators.flink import gateways, loopback, stopping
from aiflow.translators.flink.settings import flink_settings

if TYPE_CHECKING:
    import pandas as pd
    from pyflink.table import Table, TableEnvironment

    from aiflow.config import Settings
    from aiflow.translators.context import JobContext
    from aiflow.translators.physical import JobSpec

ENGINE = "flink"
log = logging.getLogger("aiflow.engine.flink")

# aiflow column type -> Flink SQL type
SQL_TYPES = {
    "double": "DOUBLE",
    "float": "FLOAT",
    "int": "INT",
    "bigint": "BIGINT",
    "string": "STRING",
    "bool": "BOOLEAN",
}
_PANDAS_KINDS = {"f": "double", "i": "bigint", "u": "bigint", "b": "bool", "O": "string"}


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """``text`` as a Flink SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def file_url(path: str) -> str:
    return path if "://" in path else f"file://{path}"


def sql_columns(columns: dict[str, str], node: str) -> str:
    parts = []
    for name, type_name in columns.items():
        if type_name not in SQL_TYPES:
            raise InvalidPlan(
                f"column '{name}' has type {type_name}, which the flink engine does not "
                f"support yet (supported: {', '.join(SQL_TYPES)})",
                node,
            )
        parts.append(f"{quote(name)} {SQL_TYPES[type_name]}")
    return ", ".join(parts)


def aiflow_type(flink_type: str, column: str, node: str) -> str:
    """The aiflow column type of a Flink SQL result column."""
    base = flink_type.split("(")[0].replace(" NOT NULL", "").strip().upper()
    for aiflow_name, sql_name in SQL_TYPES.items():
        if base == sql_name:
            return aiflow_name
    if base in ("VARCHAR", "CHAR"):
        return "string"
    if base in ("INTEGER",):
        return "int"
    raise InvalidPlan(
        f"result column '{column}' has Flink type {flink_type}, which aiflow examples do not "
        f"carry; CAST it to one of {', '.join(SQL_TYPES.values())}",
        node,
    )


def barrier_query(source: str, columns: Iterable[str], condition: str = "TRUE") -> str:
    """``columns`` of the view ``source`` where ``condition`` holds (on ``s.``), behind the
    barrier ``FlinkJob.rows_where`` explains."""
    names = ", ".join(f"s.{quote(c)}" for c in columns)
    return (
        f"SELECT {names} FROM {quote(source)} AS s CROSS JOIN UNNEST(CASE WHEN {condition} "
        "THEN ARRAY[1] ELSE ARRAY_REMOVE(ARRAY[1], 1) END) AS k(`__af_row`)"
    )


def row_udf_query(
    function: str, args: Iterable[str], fields: Iterable[str], source: str, keep: Sequence[str] = ()
) -> str:
    """The rows of the view ``source`` through the ROW-returning ``function`` of ``args``, its
    ``fields`` as columns (after the columns to ``keep``): how the engine calls a pandas UDF."""
    kept = "".join(f"{quote(c)}, " for c in keep)
    call = f"{quote(function)}({', '.join(quote(a) for a in args)})"
    out = ", ".join(f"r.{quote(f)} AS {quote(f)}" for f in fields)
    return f"SELECT {kept}{out} FROM (SELECT {kept}{call} AS r FROM {quote(source)})"


def row_type(columns: dict[str, str], node: str) -> Any:
    from pyflink.table import DataTypes

    types = {
        "double": DataTypes.DOUBLE(),
        "float": DataTypes.FLOAT(),
        "int": DataTypes.INT(),
        "bigint": DataTypes.BIGINT(),
        "string": DataTypes.STRING(),
        "bool": DataTypes.BOOLEAN(),
    }
    sql_columns(columns, node)  # the same check and message as for tables
    return DataTypes.ROW([DataTypes.FIELD(n, types[t]) for n, t in columns.items()])


def columns_of_frame(frame: pd.DataFrame, node: str) -> dict[str, str]:
    """aiflow column types of a sample's dtypes (for outputs no schema declares)."""
    out = {}
    for name, dtype in frame.dtypes.items():
        if str(dtype) in ("float32", "Float32"):
            out[str(name)] = "float"
        elif str(dtype) in ("int32", "Int32"):
            out[str(name)] = "int"
        elif str(dtype) in ("string", "str"):
            out[str(name)] = "string"
        elif dtype.kind in _PANDAS_KINDS:
            out[str(name)] = _PANDAS_KINDS[dtype.kind]
        else:
            raise InvalidPlan(
                f"output column '{name}' has dtype {dtype}, which the flink engine cannot carry; "
                "declare output_schema on the component",
                node,
            )
    return out


class FlinkJob:
    """What operators build into: the table environment, one statement set (every sink of
    the job, so the chain runs once), each node's table with its columns, and work to do in
    the driver after the Flink job ends (finalizing outputs, counting dead letters)."""

    def __init__(self, t_env: TableEnvironment, ctx: JobContext, spec: JobSpec) -> None:
        self.t_env = t_env
        self.ctx = ctx
        self.spec = spec
        self.statements = t_env.create_statement_set()
        self.tables: dict[str, Table] = {}
        self.columns: dict[str, dict[str, str]] = {}
        self.samples: dict[str, pd.DataFrame | None] = {}
        self.operators: dict[str, FlinkOperator] = {}
        self.finalizers: list[Callable[[], None]] = []
        self.tickers: list[Callable[[], None]] = []  # stream: called while the job runs
        self.sinks = 0
        self.file_sinks = 0

    @property
    def state_dir(self) -> Path:
        """A stream job's home across attempts and executions: its checkpoints and staged
        output live here, so a restarted job resumes from the newest checkpoint and finds the
        files that checkpoint refers to."""
        return self.ctx.settings.home / "flink" / "jobs" / self.spec.workflow / self.spec.name

    @property
    def code(self) -> tuple[str | None, str | None]:
        root = self.ctx.code.root
        return (str(root) if root else None, self.ctx.code.entrypoint)

    def output(self, node: str, table: Table, columns: dict[str, str]) -> Table:
        self.t_env.create_temporary_view(quote(node), table)
        self.tables[node] = table
        self.columns[node] = columns
        return table

    def rows_where(self, source: str, columns: dict[str, str], condition: str = "TRUE") -> Table:
        """``columns`` of the view ``source`` for the rows where ``condition`` holds, behind
        a barrier the planner cannot move Python functions across.

        Flink's planner evaluates a Python function *before* a filter that comes earlier in
        the query (it merges both into one calc and splits that Python-first), so a plain
        WHERE would let a transformer see header lines, bad records, or rows the user's SQL
        filtered out. ``CROSS JOIN UNNEST`` of a one- or zero-element array is a correlate in
        Java: rows it does not emit do not exist for what comes after."""
        return self.t_env.sql_query(barrier_query(source, columns, condition))

    def insert(self, sink: str, table: Table, *, files: bool = True) -> None:
        # A batch job replaces the files a failed attempt of it left behind (a retry must not
        # add a second copy of the records); a stream job appends, one file per checkpoint.
        overwrite = files and self.spec.mode == "batch"
        self.statements.add_insert(quote(sink), table, overwrite=overwrite)
        self.sinks += 1
        self.file_sinks += files

    def input_of(self, node: str, port: int = 0) -> str:
        return self.spec.inputs_of(node)[port].source.node

    def sample(self, node: str) -> pd.DataFrame | None:
        """A few of the node's output rows computed in the driver, to learn the types of
        outputs no schema declares; None when there is nothing to sample."""
        if node not in self.samples:
            self.samples[node] = self.operators[node].sample()
        return self.samples[node]


class FlinkOperator(Operator):
    """A node on the flink engine: ``build`` turns its inputs' tables into its own (or a sink)."""

    job: FlinkJob

    def build(self, inputs: list[str]) -> None:
        raise NotImplementedError

    def sample(self) -> pd.DataFrame | None:
        return None

    def input_sample(self) -> pd.DataFrame | None:
        return self.job.sample(self.job.input_of(self.node.id))


@register_engine
class FlinkEngine(Engine):
    name = ENGINE
    intermediate_formats = ("json",)
    fallback = "local"

    @classmethod
    def describe_job(cls, result: dict[str, Any], settings: Settings) -> list[tuple[str, Any]]:
        flink = result.get("engine", {}).get("flink", {})
        if not flink.get("job_id"):
            return []
        ui = flink.get("web_ui") or "- (embedded mini-cluster)"
        return [("flink job", flink["job_id"]), ("flink web UI", ui)]

    @classmethod
    def job_logs(
        cls, result: dict[str, Any], settings: Settings, tail: int | None
    ) -> Iterator[str]:
        """The TaskManager's log lines of the job, on a session cluster (through REST)."""
        flink_id = result.get("engine", {}).get("flink", {}).get("job_id")
        rest_url = flink_settings(settings).rest_url
        if not flink_id or not rest_url:
            return
        from aiflow.translators.flink.rest import FlinkRest

        try:
            text = FlinkRest(rest_url).taskmanager_log(flink_id)
        except AiflowError as exc:  # the job or the cluster may be gone: the aiflow log stands
            yield f"--- Flink TaskManager log of {flink_id}: unavailable ({exc})"
            return
        lines = text.splitlines()[-tail:] if tail else text.splitlines()
        yield f"--- Flink TaskManager log of {flink_id} ({rest_url})"
        yield from lines

    @classmethod
    def forget_workflow(cls, workflow: str, settings: Settings) -> None:
        import fsspec

        import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

        fs, path = fsspec.core.url_to_fs(f"{_checkpoints_root(settings)}/{workflow}")
        if fs.exists(path):
            fs.rm(path, recursive=True)

    def run_job(self, spec: JobSpec, ctx: JobContext) -> dict[str, Any]:
        from aiflow.translators.flink.tableenv import create_table_env, stream_job_options

        info: dict[str, Any] = {}
        ctx.result.engine = {"flink": info}
        logs = ctx.settings.logs_dir / str(ctx.execution.id) / spec.name
        info["jvm_log_dir"] = str(jvm_logs_to(logs / f"flink-attempt-{ctx.job.attempt}"))
        config: dict[str, str] = {}
        if spec.mode == "stream" and flink_settings(ctx.settings).rest_url:
            _cancel_orphans(ctx, info)  # first: an orphan may still complete a checkpoint
        if spec.mode == "stream":
            config = checkpoint_options(checkpoint_location(ctx.settings, spec))
            restored = config.get("execution.state-recovery.path")
            if restored:
                info["restored_from"] = restored
        t_env = create_table_env(
            spec.mode,
            ctx.settings,
            job_name=flink_job_name(spec.workflow, spec.name, ctx.execution.id),
            jars=_connector_jars(spec),
            config=config,
        )
        info.update(gateways.describe())  # a warm JVM from the pool, or its own
        job = FlinkJob(t_env, ctx, spec)
        try:
            for node in spec.nodes:
                cls = operator_for(node.kind, ENGINE)
                assert cls is not None and issubclass(cls, FlinkOperator), node.kind
                operator = cls(node, ctx)
                operator.job = job
                job.operators[node.id] = operator
                inputs = [edge.source.node for edge in spec.inputs_of(node.id)]
                with _flink_errors(node.id):
                    operator.build(inputs)
        except Stopped:
            return ctx.result.to_dict()  # stopped while waiting for a first model version
        if job.sinks == 0:
            raise InvalidPlan(f"job '{spec.name}' writes nothing; add af.write_example")
        if spec.mode == "stream":
            # outputs that are all Kafka topics pile up no files: commit (show records) sooner
            flink = flink_settings(ctx.settings)
            interval = (
                flink.checkpoint_interval if job.file_sinks else flink.kafka_checkpoint_interval
            )
            table_config = t_env.get_config()
            for key, value in stream_job_options(interval, files=bool(job.file_sinks)).items():
                table_config.set(key, value)
            info["checkpoint_interval"] = interval
        if ctx.stop.is_set():
            return ctx.result.to_dict()  # stopped before the submission
        rest = flink_settings(ctx.settings).rest_url
        if rest:
            name = flink_job_name(spec.workflow, spec.name, ctx.execution.id)
            stopping.cancel_on_stop(ctx, name, info, rest)
        with _flink_errors(None):
            result = job.statements.execute()
            _wait(result, job, info)
        info["python_workers_booted_fast"] = loopback.booted()
        for finalize in [*job.tickers, *job.finalizers]:
            finalize()
        return ctx.result.to_dict()


_LOG4J = """\
# the PyFlink gateway JVM of one job attempt (the mini-cluster runs in it too). Appending:
# PyFlink's own config truncates, and a stream job's JVM logs once more after log4j shut down.
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FileAppender
appender.file.name = FileAppender
appender.file.type = FILE
appender.file.append = true
appender.file.fileName = ${sys:log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
"""


def jvm_logs_to(directory: Path) -> Path:
    """Where this process's PyFlink JVM logs: a directory per job attempt beside the job's own
    log. By default every job process writes the same file inside site-packages and the next
    one overwrites it. A ``FLINK_LOG_DIR`` set by the caller (benchmarks) wins."""
    import os

    if os.environ.get("FLINK_LOG_DIR"):
        return Path(os.environ["FLINK_LOG_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "log4j-gateway.properties"
    config.write_text(_LOG4J)
    os.environ["FLINK_LOG_DIR"] = str(directory)
    os.environ["LOG4J_PROPERTIES"] = str(config)
    return directory


def flink_job_name(workflow: str, job: str, execution: int) -> str:
    """What Flink's UI and REST API call the job: the aiflow job, and which execution."""
    return f"{workflow}/{job}#{execution}"


def _cancel_orphans(ctx: JobContext, info: dict[str, Any]) -> None:
    """Cancel running Flink jobs of earlier executions of this stream job. A job process that
    is killed while it submits (the driver's SIGKILL after the stop grace) leaves its Flink job
    running on the session cluster, holding slots and writing the same outputs; the next start
    of the same stream job is the one place that knows it is not wanted."""
    from aiflow.translators.flink.rest import TERMINAL_STATES, FlinkRest

    rest = FlinkRest(str(flink_settings(ctx.settings).rest_url))
    prefix = f"{ctx.spec.workflow}/{ctx.spec.name}#"
    cancelled = []
    for job in rest.jobs():  # ours is not submitted yet: any running one is an orphan, even
        # of this execution (an earlier attempt whose container was lost with its node)
        if job.name.startswith(prefix) and job.state == "RUNNING":
            rest.cancel(job.job_id)
            rest.wait(job.job_id, TERMINAL_STATES, timeout=60.0)
            cancelled.append(f"{job.name} ({job.job_id})")
    if cancelled:
        log.warning("cancelled orphaned Flink jobs of this stream job: %s", cancelled)
        info["cancelled_orphans"] = cancelled


def _connector_jars(spec: JobSpec) -> list[Path]:
    """The pinned connector jars (fetched into the cache once), when a node uses Kafka."""
    uris = [
        str(value)
        for node in spec.nodes
        if node.example is not None
        for value in (
            node.example.batch_uri,
            node.example.stream_uri,
            node.example.options.get("dead_letter_uri"),
        )
        if value
    ]
    if not any(uri.startswith("kafka://") for uri in uris):
        return []
    from aiflow.translators.flink.jars import ensure_jars
    from aiflow.translators.flink.versions import check_flink_version

    check_flink_version()  # the connector was chosen for one Flink release
    return ensure_jars("connectors")


class Stopped(Exception):
    """The job was asked to stop before its Flink job was submitted."""


def checkpoint_location(settings: Settings, spec: JobSpec) -> str:
    """Where a stream job's checkpoints go: under ``flink.checkpoints_dir`` (a URI, e.g. on
    HDFS, which every node of a cluster reaches), else ``<storage.root>/flink/jobs`` (default
    ``$AIFLOW_HOME/flink/jobs``)."""
    uri = f"{_checkpoints_root(settings)}/{spec.workflow}/{spec.name}/chk"
    return uri if "://" in uri else Path(uri).as_uri()


def _checkpoints_root(settings: Settings) -> str:
    root = flink_settings(settings).checkpoints_dir or f"{settings.storage_root}/flink/jobs"
    return root.rstrip("/")


def checkpoint_options(location: str | Path) -> dict[str, str]:
    """Checkpoints kept after the job ends, and a restore from the newest one, so a stream
    job that is restarted — a retry, or the next execution — continues exactly where the
    last one's last checkpoint left its sources and sinks.

    ``location``: a local directory, or a ``file://`` or ``hdfs://`` URI (listed over WebHDFS;
    Flink itself writes there through its Hadoop file system)."""
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

    uri = location.as_uri() if isinstance(location, Path) else location
    fs, root = fsspec.core.url_to_fs(uri)
    fs.makedirs(root, exist_ok=True)
    options = {
        "execution.checkpointing.dir": uri,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "2",
    }
    done = [posixpath.dirname(m) for m in fs.glob(f"{root.rstrip('/')}/*/chk-*/_metadata")]
    if done:
        newest = max(done, key=lambda d: (_mtime(fs, d), int(d.rsplit("-", 1)[1])))
        options["execution.state-recovery.path"] = uri[: len(uri) - len(root)] + newest
        options["execution.state-recovery.ignore-unclaimed-state"] = "true"
    return options


def _mtime(fs: Any, path: str) -> float:
    info = fs.info(path)
    if "modificationTime" in info:  # WebHDFS: ms since the epoch
        return float(info["modificationTime"]) / 1000
    return float(info.get("mtime") or info.get("created") or 0)


def _wait(result: Any, job: FlinkJob, info: dict[str, Any]) -> None:
    """Poll the job until it ends, cancelling it when the job process is asked to stop (the
    runtime sets ``ctx.stop`` on SIGTERM; a blocking ``wait()`` would never notice). A stream
    job's tickers (output committers) run between polls."""
    ctx = job.ctx
    client = result.get_job_client()
    if client is not None:
        flink_id = str(client.get_job_id())
        info["job_id"] = flink_id
        rest = flink_settings(ctx.settings).rest_url
        if rest:
            from aiflow.translators.flink.rest import FlinkRest

            ui = flink_settings(ctx.settings).web_ui_url
            info["web_ui"] = FlinkRest(rest, web_ui=ui).web_ui_url(flink_id)
        ctx.publish()
        while not ctx.stop.is_set():
            try:
                status = client.get_job_status().result()
            except Exception as exc:
                if not rest:
                    break  # the mini-cluster is gone: the job ended; wait() says how
                # Our gateway JVM is gone (a stop signal reaches the process group): the
                # cluster's job must not run on without its driver.
                ctx.stop.wait(1.0)
                stopping.cancel(client, flink_id, rest)
                if ctx.stop.is_set():
                    return
                raise DeploymentError(
                    f"lost the connection to Flink job {flink_id}; cancelled it: {exc}"
                ) from exc
            if status.is_globally_terminal_state():
                break
            for tick in job.tickers:
                tick()
            ctx.stop.wait(0.2 if not job.tickers else ctx.settings.stream.poll_interval)
        if ctx.stop.is_set():
            stopping.cancel(client, flink_id, rest)
            return
    result.wait()


@contextlib.contextmanager
def _flink_errors(node: str | None) -> Iterator[None]:
    """Turn what PyFlink raises (Py4J errors holding Java and Python stacks) into the aiflow
    error a worker packed, or the root cause's last line, naming the node when known."""
    from aiflow.translators.flink.udfs import unpack_error

    try:
        yield
    except AiflowError:
        raise
    except Exception as exc:
        text = str(exc)
        packed = unpack_error(text)
        if packed is not None:
            raise packed from None
        from aiflow.translators.flink.rest import root_cause_line

        cause = root_cause_line(text)
        if node is not None:
            raise UserCodeError(cause, node) from exc
        raise DeploymentError(f"flink job failed: {cause}") from exc


# Importing the operator modules registers them for this engine.
from aiflow.translators.flink import io, ml, outputs  # noqa: E402, F401
