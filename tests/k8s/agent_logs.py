"""The node agent's container logs: written like a container runtime, served like a kubelet.

Writing: a pump thread per container run reads the process's stdout+stderr pipe and appends
records in the CRI log format containerd uses (``<RFC3339Nano time> <F|P> <bytes>\\n``; ``P``
marks a partial line, written as soon as it arrives so unterminated progress output shows up
too). Keeping a time per record is what makes ``timestamps`` and ``sinceSeconds``/``sinceTime``
work as on a real node.

Serving: the kubelet API's ``GET /containerLogs/{namespace}/{pod}/{container}`` over HTTPS with
a self-signed certificate (the API server is started without ``--kubelet-certificate-authority``
and so does not verify it, as with any kubelet without a CA-signed serving certificate). The
server listens on loopback only and does not authenticate its client (a kubelet does); it
answers ``follow``, ``tailLines``, ``sinceSeconds``, ``sinceTime``, ``timestamps``,
``limitBytes`` and ``previous``. ``follow`` streams until the container's process has ended
and its log is drained.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import select
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("node_agent.logs")
FOLLOW_POLL = 0.05  # s between reads of a followed log that has nothing new


def now_rfc3339() -> str:
    """The current time as the CRI log format writes it (UTC, nanosecond field)."""
    stamp = dt.datetime.now(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def pump(source: BinaryIO, path: Path) -> None:
    """Copy a process's output into ``path`` as CRI log records until the pipe closes (every
    process holding it has exited)."""
    fd = source.fileno()
    with open(path, "ab", buffering=0) as out:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            stamp = now_rfc3339().encode()
            pieces = chunk.split(b"\n")
            records = [stamp + b" F " + piece + b"\n" for piece in pieces[:-1]]
            if pieces[-1]:
                records.append(stamp + b" P " + pieces[-1] + b"\n")
            out.write(b"".join(records))
    source.close()


@dataclass(frozen=True)
class Record:
    """One CRI log record: ``full`` records end a line."""

    stamp: str
    full: bool
    content: bytes

    @property
    def time(self) -> float:
        return dt.datetime.fromisoformat(self.stamp[:26] + "+00:00").timestamp()

    def render(self, timestamps: bool) -> bytes:
        prefix = self.stamp.encode() + b" " if timestamps else b""
        return prefix + self.content + (b"\n" if self.full else b"")


def parse_records(data: bytes) -> tuple[list[Record], int]:
    """The complete records at the start of ``data`` and how many bytes they took (a record
    still being written is left for the next read)."""
    records: list[Record] = []
    consumed = 0
    while True:
        end = data.find(b"\n", consumed)
        if end < 0:
            return records, consumed
        line = data[consumed:end]
        consumed = end + 1
        stamp, _, rest = line.partition(b" ")
        tag, _, content = rest.partition(b" ")
        records.append(Record(stamp.decode(), tag == b"F", content))


def tail(records: list[Record], lines: int) -> list[Record]:
    """The records of the last ``lines`` lines (a trailing partial line counts as one)."""
    if lines <= 0:
        return []
    seen = 0
    for index in range(len(records) - 1, -1, -1):
        if records[index].full or index == len(records) - 1:
            seen += 1
            if seen > lines:
                return records[index + 1 :]
    return records


def read_text(path: Path, lines: int, max_bytes: int) -> str:
    """The last lines of a container log as text (terminationMessagePolicy
    FallbackToLogsOnError)."""
    try:
        records, _ = parse_records(path.read_bytes())
    except OSError:
        return ""
    data = b"".join(r.render(False) for r in tail(records, lines))
    return data[-max_bytes:].decode("utf-8", errors="replace")


@dataclass
class LogTarget:
    """Where a container's log is, and whether its writer may still append to it."""

    path: Path
    live: Callable[[], bool]


class LogNotFound(Exception):
    """The request names no servable log; ``status`` is the HTTP status the kubelet answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# (namespace, pod, container, previous) -> target; raises LogNotFound
Lookup = Callable[[str, str, str, bool], LogTarget]


@dataclass
class LogQuery:
    follow: bool = False
    tail_lines: int | None = None
    since: float | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    previous: bool = False

    @classmethod
    def parse(cls, query: str) -> LogQuery:
        values = {k: v[-1] for k, v in parse_qs(query).items()}
        since: float | None = None
        if "sinceSeconds" in values:
            since = time.time() - int(values["sinceSeconds"])
        elif "sinceTime" in values:
            since = dt.datetime.fromisoformat(values["sinceTime"]).timestamp()
        return cls(
            follow=values.get("follow") == "true",
            tail_lines=int(values["tailLines"]) if "tailLines" in values else None,
            since=since,
            timestamps=values.get("timestamps") == "true",
            limit_bytes=int(values["limitBytes"]) if "limitBytes" in values else None,
            previous=values.get("previous") == "true",
        )


def stream(target: LogTarget, query: LogQuery, gone: Callable[[], bool]) -> Iterator[bytes]:
    """The bytes a kubelet would answer for ``query``: history first, then (``follow``) new
    records until the writer is done and the file drained, or the client went away."""
    budget = query.limit_bytes
    with open(target.path, "rb") as source:
        records, consumed = parse_records(source.read())
        if query.since is not None:
            records = [r for r in records if r.time >= query.since]
        if query.tail_lines is not None:
            records = tail(records, query.tail_lines)
        while True:
            for record in records:
                data = record.render(query.timestamps)
                if budget is not None:
                    data = data[:budget]
                    budget -= len(data)
                if data:
                    yield data
                if budget is not None and budget <= 0:
                    return
            if not query.follow:
                return
            live = target.live()  # before reading: once it is False, one more read is complete
            source.seek(consumed)
            records, used = parse_records(source.read())
            consumed += used
            if not records:
                if not live or gone():
                    return
                time.sleep(FOLLOW_POLL)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: fits streaming
    server: LogServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts == ["healthz"]:
            self._answer(200, "ok")
        elif len(parts) == 4 and parts[0] == "containerLogs":
            self._logs(parts[1], parts[2], parts[3], url.query)
        else:
            self._answer(404, f"node agent: no handler for {url.path}")

    def _logs(self, namespace: str, pod: str, container: str, query_text: str) -> None:
        try:
            query = LogQuery.parse(query_text)
        except ValueError as exc:
            self._answer(400, f"invalid log query {query_text!r}: {exc}")
            return
        try:
            target = self.server.lookup(namespace, pod, container, query.previous)
        except LogNotFound as exc:
            self._answer(exc.status, str(exc))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for data in stream(target, query, self._client_gone):
                self.wfile.write(data)
        except (OSError, ssl.SSLError):
            pass  # the client went away

    def _client_gone(self) -> bool:
        """The API server sends nothing after its request: a readable socket means it closed."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable)

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class LogServer(ThreadingHTTPServer):
    """The kubelet HTTPS endpoint on loopback; ``serve_forever`` runs in a daemon thread."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, port: int, cert: Path, key: Path, lookup: Lookup) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        # handshakes happen on the handler's first read, in its own thread, so a slow client
        # never blocks the accept loop
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.lookup = lookup
        self.thread = threading.Thread(target=self.serve_forever, name="log-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def self_signed_certificate(directory: Path, node: str) -> tuple[Path, Path]:
    """A serving certificate for 127.0.0.1 and the node's name, made once per work dir."""
    cert, key = directory / "kubelet.crt", directory / "kubelet.key"
    if cert.exists() and key.exists():
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "3650", "-subj", f"/CN={node}", "-keyout", str(key), "-out",
            str(cert), "-addext", f"subjectAltName=IP:127.0.0.1,DNS:{node}",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"openssl could not make the node agent's certificate: {done.stderr}")
    return cert, key
