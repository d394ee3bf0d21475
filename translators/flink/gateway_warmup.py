"""Warm a spare gateway JVM of the pool by planning a job shaped like aiflow's own:
``python -P -m aiflow.translators.flink.gateway_warmup --port N``.

A job that adopts a warm JVM (``gateways``) still spent ~3 s in the JVM before its job was
submitted when the pool only planned a trivial SQL query: the planner's code generation for
Python calcs and correlates, the splitting of long generated methods (an ANTLR parse), the
filesystem connector's raw and json formats, the translation to a stream graph: each loads
and JITs classes on first use, in every fresh JVM. So the pool runs this program against each
spare before handing it out: in batch and in stream mode it declares what a read → transform →
write job declares (a raw file source with its path metadata, a pandas UDF returning a ROW
that parses it, the ``CROSS JOIN UNNEST`` barrier of ``FlinkJob.rows_where``, a second pandas
UDF, a json file sink) through PyFlink, exactly as the engine does, and has it translated to a
job graph and *submitted*: to a stub of Flink's REST API in this program, which accepts the
upload and answers that the job runs, so the client's path (job graph, REST client, multipart
upload; ~0.8 s cold) is warm too. Then it runs a one-line job on an embedded mini-cluster in
the spare (``run_locally``), so that the runtime's first use is behind it as well.

A program of its own, not the pool's thread: PyFlink keeps one gateway per process, and a
job's PyFlink objects (UDF wrappers, types) are what the warm-up must build. The JVM stays
alive after this exits: it pings the Java watchdog the pool gave it first, not ours, and the
job that adopts it points py4j's callbacks at itself (``get_gateway``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd

# As many columns as a small feature table, so generated methods are long enough to be split
# (``table.generated-code.max-length``), as a real job's are.
_FEATURES = {f"f{i}": ("double", "bigint", "string", "int", "bool")[i % 5] for i in range(14)}


class _Rows:
    """A pandas UDF body (pickled into the plan, never run here)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    def __call__(self, *args: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({c: args[0] for c in self.columns})


class _StubCluster(BaseHTTPRequestHandler):
    """What a Flink REST endpoint answers to a job submission: accepted (``POST /v1/jobs``,
    the multipart upload read and dropped), then running (``GET /v1/jobs/<id>/status``)."""

    protocol_version = "HTTP/1.1"
    submitted: list[str] = []

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # the client went away: nothing to answer
            super().handle()

    def do_POST(self) -> None:
        self._drain()
        self.submitted.append(self.path)
        self._answer(202, {"jobUrl": f"/jobs/{uuid.uuid4().hex}"})

    def do_GET(self) -> None:
        if self.path.endswith("/status"):
            self._answer(200, {"status": "RUNNING"})
        else:
            self._answer(404, {"errors": [f"{self.path}: not in this stub"]})

    def _drain(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            self.rfile.read(size + 2)  # the chunk and its CRLF
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def stub_cluster() -> Iterator[str]:
    """A stub Flink REST endpoint on the loopback interface, for as long as the block runs;
    its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubCluster)
    thread = threading.Thread(target=server.serve_forever, name="stub-flink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def plan(mode: str, scratch: str, rest_url: str) -> None:
    """Declare an aiflow-shaped job in a new TableEnvironment of ``mode`` and submit it to
    the session cluster at ``rest_url`` (the stub)."""
    from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
    from pyflink.table.udf import udf

    from aiflow.translators.flink.engine import barrier_query, quote, row_type, row_udf_query
    from aiflow.translators.flink.io import raw_files_ddl, text_files_ddl
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.flink.tableenv import java_configuration, table_env_options
    from aiflow.translators.flink.text_udfs import ERROR, LINE, STATUS, TEXT

    flink = FlinkSettings(rest_url=rest_url)
    conf = java_configuration(table_env_options(mode, flink, ship_python_jar=False))
    builder = EnvironmentSettings.new_instance().with_configuration(conf)
    builder = builder.in_streaming_mode() if mode == "stream" else builder.in_batch_mode()
    t_env = TableEnvironment.create(builder.build())
    t_env.get_config().add_configuration(conf)
    monitor = ", 'source.monitor-interval' = '1 s'" if mode == "stream" else ""
    t_env.execute_sql(raw_files_ddl("lines", f"{scratch}/in", monitor))
    parsed_type = {**_FEATURES, STATUS: "int", ERROR: "string", LINE: "bigint"}
    parse = udf(_Rows(list(parsed_type)), result_type=row_type(parsed_type, ""), func_type="pandas")
    t_env.create_temporary_function("parse", parse)
    lines = ("line", "path")
    query = row_udf_query("parse", lines, parsed_type, "lines", keep=lines)
    t_env.create_temporary_view("parsed", t_env.sql_query(query))
    t_env.create_temporary_view(
        "good", t_env.sql_query(barrier_query("parsed", _FEATURES, f"s.{quote(STATUS)} = 0"))
    )
    out = {**_FEATURES, "score": "double"}
    transform = udf(_Rows(list(out)), result_type=row_type(out, ""), func_type="pandas")
    t_env.create_temporary_function("transform", transform)
    t_env.create_temporary_view(
        "scored", t_env.sql_query(row_udf_query("transform", _FEATURES, out, "good"))
    )
    # written as an output example is: its text formatted by a UDF, behind a barrier
    text = udf(_Rows([TEXT]), result_type=DataTypes.STRING(), func_type="pandas")
    t_env.create_temporary_function("format", text)
    args = ", ".join(quote(c) for c in out)
    t_env.create_temporary_view(
        "texts", t_env.sql_query(f"SELECT format({args}) AS {quote(TEXT)} FROM scored")
    )
    texts = t_env.sql_query(barrier_query("texts", [TEXT], f"s.{quote(TEXT)} IS NOT NULL"))
    t_env.execute_sql(text_files_ddl("sink", TEXT, f"{scratch}/out"))
    statements = t_env.create_statement_set()
    statements.add_insert("sink", texts, overwrite=mode == "batch")
    statements.execute()


def run_locally(scratch: str) -> None:
    """Run a one-line job on an embedded mini-cluster in this JVM, as a job there would: the
    runtime's own first use (starting a mini-cluster, deploying a task, opening a Python
    operator: Beam's servers, Arrow, the file source and sink) costs 3-4 s of class loading in
    every fresh JVM, which the job that adopts this one then skips. Its Python worker runs in
    this process (loopback), booted as a job's is: its TableEnvironment is made the job's way."""
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    from aiflow.translators.flink.io import raw_files_ddl, text_files_ddl
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.flink.tableenv import create_table_env

    os.makedirs(f"{scratch}/local-in")
    with open(f"{scratch}/local-in/lines.csv", "w") as f:
        f.write("f0\n1.5\n")
    t_env = create_table_env("batch", FlinkSettings())  # a job's own way (this JVM: the port set)
    t_env.execute_sql(raw_files_ddl("lines", f"{scratch}/local-in"))
    t_env.create_temporary_function(
        "echo", udf(_Echo(), result_type=DataTypes.STRING(), func_type="pandas")
    )
    t_env.execute_sql(text_files_ddl("sink", "text", f"{scratch}/local-out"))
    t_env.execute_sql("INSERT INTO sink SELECT echo(`line`) FROM lines").wait()


class _Echo:
    """A pandas UDF body that is run (``run_locally``)."""

    def __call__(self, lines: pd.Series) -> pd.Series:
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflow.translators.flink.gateway_warmup")
    parser.add_argument("--port", type=int, required=True, help="the spare JVM's py4j port")
    args = parser.parse_args(argv)
    os.environ["PYFLINK_GATEWAY_PORT"] = str(args.port)  # PyFlink connects, launches nothing
    scratch = tempfile.TemporaryDirectory(prefix="aiflow-gateway-warmup-")
    with scratch, stub_cluster() as rest_url:
        for mode in ("batch", "stream"):
            plan(mode, scratch.name, rest_url)
        run_locally(scratch.name)
    if len(_StubCluster.submitted) != 2:
        print(f"submitted {_StubCluster.submitted}, expected 2 jobs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
