"""An attempt's log: from its NodeManager while the container runs, from HDFS after.

The ApplicationMaster writes the job's output twice as it comes (``am/JobMaster.java``): to
``job.log`` in the container's log directory, which the NodeManager serves over its REST API
while the container runs, and to ``<staging_dir>/logs/<application>/job.log`` on HDFS, flushed
every half second, which stays after the container is gone. So a read of a running job comes
from its NodeManager, a read after it ended (or when the node is lost) from HDFS, and a follow
reads HDFS by offset, which the NodeManager API cannot do.

YARN's own log aggregation still runs as the cluster configures it (``yarn logs``); the HDFS
copy is aiflow's because aggregated logs are written only when the application ends, in a
binary TFile format only Hadoop's Java code reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from aiflow.errors import NotFound

from .staging import Staging

LOG_SCHEME = "yarn://"
LOG_FILE = "job.log"
_APP_ID = re.compile(r"^application_\d+_\d+$")
_FOLLOW_INTERVAL = 0.3  # s between reads of a followed log
_CONTAINER_LOGS = re.compile(r"^(https?://[^/]+)/node/containerlogs/(container_[\w]+)/")


def log_uri(app_id: str) -> str:
    """What the driver stores as ``job.log_uri``: the application, whose log the deployer
    finds itself (a stored URI never names a path to read)."""
    return f"{LOG_SCHEME}{app_id}"


def app_of(uri: str) -> str | None:
    """The application id of a ``yarn://`` log URI, None if it is not one."""
    if not uri.startswith(LOG_SCHEME):
        return None
    app_id = uri.removeprefix(LOG_SCHEME)
    return app_id if _APP_ID.match(app_id) else None


def is_app_id(text: str) -> bool:
    return bool(_APP_ID.match(text))


def missing() -> NotFound:
    return NotFound("no log of that attempt: its YARN application has none (yet, or any more)")


def hdfs_path(staging: Staging, app_id: str) -> str:
    return staging.path("logs", app_id, LOG_FILE)


def read(
    staging: Staging, app_id: str, report: dict[str, Any] | None, tail: int | None
) -> list[str]:
    """The whole log (or its last ``tail`` lines): the NodeManager's copy while the
    application runs, else the HDFS copy; nothing yet for an application still starting;
    ``NotFound`` for one the ResourceManager does not know and that left no log."""
    data = None
    if report is not None and report.get("state") == "RUNNING":
        data = _from_node_manager(report)
    if data is None:
        try:
            data = staging.read(hdfs_path(staging, app_id))
        except FileNotFoundError:
            if report is None:
                raise missing() from None
            data = b""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-tail:] if tail is not None else lines


def follow(
    staging: Staging,
    app_id: str,
    *,
    tail: int | None,
    ended: Callable[[], bool],
    until: Callable[[], bool] | None,
) -> Iterator[str]:
    """Lines as the job writes them (through the HDFS copy), until the application ended and
    everything it wrote was yielded, or ``until()``."""
    path = hdfs_path(staging, app_id)
    offset, pending = 0, b""
    first = True
    while True:
        finished = ended()  # asked before reading: nothing written before the end is missed
        try:
            chunk = staging.read(path, offset)
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            pending += chunk
            *complete, pending = pending.split(b"\n")
            lines = [line.decode("utf-8", errors="replace") for line in complete]
            if first and tail is not None:
                lines = lines[-tail:] if tail else []
            first = False
            yield from lines
            continue
        if finished or (until is not None and until()):
            if pending:
                yield pending.decode("utf-8", errors="replace")
            return
        time.sleep(_FOLLOW_INTERVAL)


def _from_node_manager(report: dict[str, Any]) -> bytes | None:
    """The running AM container's ``job.log`` from its NodeManager, None if unreachable."""
    match = _CONTAINER_LOGS.match(str(report.get("amContainerLogs") or ""))
    if match is None:
        return None
    node, container = match.groups()
    url = f"{node}/ws/v1/node/containerlogs/{container}/{LOG_FILE}"
    try:
        reply = httpx.get(url, timeout=5.0, params={"format": "octet-stream"})
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    return _contents(reply.content)


def _contents(body: bytes) -> bytes | None:
    """The file's bytes out of the NodeManager's framing (``Container: ... LogLength:N
    LogContents:`` before, ``End of LogType`` after)."""
    match = re.search(rb"LogLength:(\d+)\nLogContents:\n", body)
    if match is None:
        return None
    start = match.end()
    return body[start : start + int(match.group(1))]
