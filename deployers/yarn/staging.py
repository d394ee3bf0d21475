"""The cluster's file system as the deployer uses it: the AM jar, and each attempt's log.

Through WebHDFS (fsspec's ``webhdfs`` filesystem, plain HTTP): it needs no native Hadoop
library (pyarrow's HDFS client needs ``libhdfs`` and a JVM) and it is what every HDFS
deployment serves. A NodeManager localizes a resource by its ``hdfs://`` URL on the default
file system, so paths here are always turned back into such URLs for the submission.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import httpx

from aiflow.errors import DeploymentError
from aiflow.hadoop.conf import Cluster
from aiflow.hadoop.fs import webhdfs


class Staging:
    """``staging_dir`` on the cluster's default file system, read and written over WebHDFS."""

    def __init__(self, cluster: Cluster, staging_dir: str, user: str) -> None:
        if not cluster.webhdfs:
            raise DeploymentError(
                f"the yarn deployer stages files on HDFS, but the default file system is "
                f"{cluster.default_fs!r}; set AIFLOW__YARN__WEBHDFS or an hdfs:// fs.defaultFS"
            )
        split = urlsplit(staging_dir)
        if split.scheme not in ("", "hdfs"):
            raise DeploymentError(f"yarn staging_dir {staging_dir!r}: only hdfs:// is supported")
        if not split.netloc and not cluster.default_fs.startswith("hdfs://"):
            raise DeploymentError(
                f"yarn staging_dir {staging_dir!r} is a path on the default file system, "
                f"which is {cluster.default_fs!r}, not HDFS; set HADOOP_CONF_DIR (or "
                "AIFLOW__YARN__HADOOP_CONF_DIR) or an hdfs://namenode:8020/... staging_dir"
            )
        self.root = split.path.rstrip("/") or "/"
        self.default_fs = (
            f"hdfs://{split.netloc}" if split.netloc else cluster.default_fs.rstrip("/")
        )
        self.webhdfs = cluster.webhdfs
        self.user = user
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = webhdfs(str(self.webhdfs), self.user)
        return self._fs

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def url(self, path: str) -> str:
        """The ``hdfs://`` URL of a path, as YARN and Hadoop's FileSystem take it."""
        return self.default_fs + path

    def resource(self, path: str) -> dict[str, Any]:
        """A YARN local resource for the file at ``path`` (size and time must match)."""
        info = self._call("read the status of", path, lambda: self.fs.info(path))
        return {
            "resource": self.url(path),
            "type": "FILE",
            "visibility": "APPLICATION",
            "size": int(info["size"]),
            "timestamp": int(info["modificationTime"]),
        }

    def upload(self, local: Path, path: str) -> None:
        """Write ``local`` to ``path`` unless a file of the same size is there (content-named
        paths make that enough).

        Written under a temporary name, then renamed into place only if ``path`` is still
        absent: a file YARN localizes must never change (its size and time are in every
        submission), and two drivers staging the same jar at once must both succeed. One
        WebHDFS ``CREATE``, streamed to the DataNode it redirects to: fsspec's writer creates
        an empty file and appends 5 MB at a time, ~12x slower."""
        if self.exists(path) and self.size(path) == local.stat().st_size:
            return
        self._call(
            "create the directory of",
            path,
            lambda: self.fs.makedirs(posixpath.dirname(path), exist_ok=True),
        )
        staged = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with httpx.Client(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
                self._create(client, local, staged)
                renamed = client.put(
                    self._url(staged),
                    params={"op": "RENAME", "destination": path, "user.name": self.user},
                )
                if renamed.status_code != 200:
                    raise OSError(f"{renamed.status_code} {renamed.text[:300]}")
        except (httpx.HTTPError, OSError) as exc:
            raise self._error("upload", path, exc) from None
        finally:
            if self.exists(staged):  # not renamed: another writer's file is in place
                self.remove(staged)

    def _create(self, client: httpx.Client, local: Path, path: str) -> None:
        params = {"op": "CREATE", "overwrite": "false", "user.name": self.user}
        redirect = client.put(self._url(path), params=params)
        location = redirect.headers.get("location")
        if redirect.status_code != 307 or not location:
            raise OSError(f"{redirect.status_code} {redirect.text[:300]}")
        with local.open("rb") as data:
            written = client.put(location, content=_chunks(data))
        if written.status_code != 201:
            raise OSError(f"{written.status_code} {written.text[:300]}")

    def _url(self, path: str) -> str:
        return f"{self.webhdfs}/webhdfs/v1{path}"

    def exists(self, path: str) -> bool:
        return bool(self._call("look up", path, lambda: self.fs.exists(path)))

    def size(self, path: str) -> int | None:
        """Bytes in the file (so far, for one still being written), None if there is none."""
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read the status of", path, exc) from None
        return int(info["size"])

    def read(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """``length`` bytes (else all) from ``offset``; ``FileNotFoundError`` if missing.

        Straight through WebHDFS ``OPEN``, not fsspec's file object, which stops at the
        NameNode's length: for a file still being written (a running job's log) that lags
        what the DataNodes serve after each ``hflush``."""
        params: dict[str, str | int] = {"op": "OPEN", "offset": offset, "user.name": self.user}
        if length is not None:
            params["length"] = length
        try:
            reply = httpx.get(
                self._url(path),
                params=params,
                follow_redirects=True,
                timeout=httpx.Timeout(30.0, connect=5.0),
            )
        except httpx.HTTPError as exc:
            raise self._error("read", path, exc) from None
        if reply.status_code == 404:
            raise FileNotFoundError(path)
        if reply.status_code == 403 and offset > 0 and "offset" in reply.text.lower():
            return b""  # asked past the end: nothing new yet
        if reply.status_code >= 400:
            raise self._error("read", path, OSError(f"{reply.status_code} {reply.text[:300]}"))
        return reply.content

    def remove(self, path: str) -> None:
        self._call("remove", path, lambda: self.fs.rm(path, recursive=True))

    def _call(self, what: str, path: str, call: Any) -> Any:
        try:
            return call()
        except OSError as exc:
            raise self._error(what, path, exc) from None

    def _error(self, what: str, path: str, exc: Exception) -> DeploymentError:
        return DeploymentError(
            f"cannot {what} {self.url(path)} through WebHDFS at {self.webhdfs}: {exc}"
        )


def _chunks(data: BinaryIO, size: int = 2**20) -> Iterator[bytes]:
    while chunk := data.read(size):
        yield chunk
