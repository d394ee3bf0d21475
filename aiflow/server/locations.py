"""Where a submitted workflow's examples may point: checked before the server records it.

A workflow submitted to a server runs on the server's host, so its examples must name data
that host reaches: a path it can read (the same host, a shared mount) or a remote URI
(``s3://``, ``kafka://``). The planner already resolved relative paths against the directory
the workflow was submitted from, as a local run resolves them (``paths_relative_to`` in
``aiflow.dsl.example``). This module checks the plan it answered with:

* **usable**, for the views the run's mode uses: a view read must exist and be readable by the
  server's OS user (a stream source too: the engines list it when they start); a location
  written (a batch target, a stream directory, dead letters) must be a writable directory or
  one the server can create. A refusal names the example, the path and why, instead of a job
  failing later with the same story in its log;
* **not the server's own files**, for every location of every example whatever the mode (a
  trigger may start the same workflow version in the other mode): nothing inside the
  server's ``AIFLOW_HOME`` except its data area (``$AIFLOW_HOME/data``), nor an SQLite meta
  store kept elsewhere, nor the runtime's ``{execution_dir}`` placeholder. Reading counts as
  much as writing: a record that does not parse is shown with its raw line in the job's error.

The plan comes from a subprocess that ran the submitter's code, so it is checked as
untrusted: a path that is not absolute is refused, and paths are compared after resolving
``..`` and symbolic links. Not here: remote URIs (their own credentials decide), the shape of
the plan (the translator validates it), and what a job's user code opens, which runs as the
server's OS user anyway (docs/server.md, "job credentials", says what that means).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from aiflow.config import Settings
from aiflow.errors import InvalidInput
from aiflow.plan.model import LogicalPlan, Node, NodeKind

DATA_AREA = "data"  # the one directory of AIFLOW_HOME open to examples
_LOCAL_SCHEMES = ("file", "local")  # fsspec's names for the local file system
_ADVICE = "use a path on a shared mount or a remote URI (s3://...)"


def check_locations(plan: LogicalPlan, mode: str, settings: Settings, store_uri: str) -> None:
    """Raise ``InvalidInput`` for the first example location the server cannot or must not
    use in a ``mode`` run of ``plan``."""
    from aiflow.translators.physical import EXECUTION_DIR

    fence = _Fence(settings.home, store_uri, settings.storage.root)
    for node in plan.nodes:
        example = node.example
        if example is None:
            continue
        for view, uri in _locations(node):
            where = f"example '{example.name}' ({view})"
            if EXECUTION_DIR in uri:
                raise InvalidInput(
                    f"{where}: '{EXECUTION_DIR}' in {uri} is reserved for aiflow's own "
                    "intermediate data"
                )
            path = _local_path(uri)
            if path is not None:
                fence.check(where, uri, path)
            else:
                fence.check_remote(where, uri)
        if node.kind in (NodeKind.READ_EXAMPLE, NodeKind.WRITE_EXAMPLE):
            for view, uri, access in _uses(node, mode):
                path = _local_path(uri)
                if path is not None:
                    _check_access(f"example '{example.name}' ({view})", path, access)


def _locations(node: Node) -> Iterator[tuple[str, str]]:
    """Every location a node's example may name or imply, in any mode."""
    from aiflow.translators.io import stream_dir

    example = node.example
    assert example is not None
    if example.batch_uri:
        yield "batch view", example.batch_uri
    if example.stream_uri:
        yield "stream view", example.stream_uri
    dead_letters = example.options.get("dead_letter_uri")
    if dead_letters:
        yield "dead letters", str(dead_letters)
    if node.kind is not NodeKind.READ_EXAMPLE and (example.batch_uri or example.stream_uri):
        # a sink without a stream view writes its stream parts beside its batch file
        yield "stream view", stream_dir(example.stream_uri, example.batch_uri)


def _uses(node: Node, mode: str) -> Iterator[tuple[str, str, str]]:
    """(view, uri, "read" or "write") for what a ``mode`` run of this node opens, as the
    engines choose it (``translators/local/io.py``, ``translators/flink/io.py``)."""
    from aiflow.translators.io import stream_dir

    example = node.example
    assert example is not None
    streams = mode == "stream" and bool(example.stream_uri)
    if node.kind is NodeKind.READ_EXAMPLE:
        if streams:
            yield "stream view", str(example.stream_uri), "read"
        elif example.batch_uri:
            yield "batch view", example.batch_uri, "read"
        dead_letters = example.options.get("dead_letter_uri")
        if dead_letters and example.options.get("on_error") == "dead_letter":
            yield "dead letters", f"{str(dead_letters).rstrip('/')}/", "write"
    elif mode == "batch" and (example.batch_uri or example.stream_uri):
        view = "batch view" if example.batch_uri else "stream view"
        yield view, example.batch_uri or f"{example.stream_uri}/", "write"
    elif mode == "stream" and (example.batch_uri or example.stream_uri):
        view = "stream view" if example.stream_uri else "batch view"
        yield view, stream_dir(example.stream_uri, example.batch_uri) + "/", "write"


def _local_path(uri: str) -> str | None:
    """The path ``uri`` names on the server's host as written (``file://`` and fsspec chains
    such as ``zip://f::file:///x.zip`` included: their last link is where the bytes are), or
    ``None`` for a remote URI."""
    innermost = uri.rsplit("::", 1)[-1]
    scheme, sep, rest = innermost.partition("://")
    if not sep:
        return innermost
    return rest if scheme.lower() in _LOCAL_SCHEMES else None


class _Fence:
    """The server's own files: ``AIFLOW_HOME`` except its data area, and the meta store."""

    def __init__(self, home: Path, store_uri: str, storage_root: str | None = None) -> None:
        self.home = Path(os.path.realpath(home))
        self.data = Path(os.path.realpath(self.home / DATA_AREA))
        self.store_file = _sqlite_file(store_uri)
        self.storage_root = storage_root  # snapshots, artifacts, intermediates (storage.root)
        local = _local_path(storage_root) if storage_root else None
        self.storage = Path(os.path.realpath(local)) if local else None

    def check_remote(self, where: str, uri: str) -> None:
        """A remote URI inside ``storage.root`` (e.g. on HDFS): aiflow's own files too."""
        root = self.storage_root
        if root and "://" in root and (uri.rstrip("/") + "/").startswith(root + "/"):
            raise InvalidInput(
                f"{where}: {uri} is inside aiflow's storage root {root} (snapshots, model "
                "artifacts, intermediates); use a location outside it"
            )

    def check(self, where: str, uri: str, path: str) -> None:
        if not os.path.isabs(path):
            raise InvalidInput(
                f"{where}: {uri} is not an absolute path (a server resolves nothing against "
                "its own working directory)"
            )
        real = Path(os.path.realpath(path))
        named = f"{uri}" if str(real) == path.rstrip("/") else f"{uri} (that is {real})"
        if real.is_relative_to(self.home) and not real.is_relative_to(self.data):
            raise InvalidInput(
                f"{where}: {named} is inside the server's AIFLOW_HOME ({self.home}), which "
                "holds its meta store, configuration, code and logs; examples may use only "
                f"its data area {self.data}/ there"
            )
        if self.storage is not None and real.is_relative_to(self.storage):
            raise InvalidInput(
                f"{where}: {named} is inside aiflow's storage root {self.storage} (snapshots, "
                "model artifacts, intermediates); use a location outside it"
            )
        store = self.store_file
        if store is not None and real.parent == store.parent and real.name.startswith(store.name):
            raise InvalidInput(f"{where}: {named} is the server's meta store")


def _sqlite_file(store_uri: str) -> Path | None:
    from sqlalchemy.engine import make_url

    url = make_url(store_uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(os.path.realpath(url.database))


def _check_access(where: str, path: str, access: str) -> None:
    """Whether the server's OS user can read ``path``, or write it (a path ending in ``/`` is
    a directory; any other's directory is where the file goes)."""
    real = Path(os.path.realpath(path))
    if access == "read":
        if not real.exists():
            _refuse(where, "read", path, "no such file or directory on the server's host")
        wanted = os.R_OK | os.X_OK if real.is_dir() else os.R_OK
        if not os.access(real, wanted):
            _refuse(where, "read", path, "the server's OS user may not read it")
        return
    directory = real if path.endswith("/") or real.is_dir() else real.parent
    probe = directory
    while not probe.exists() and probe != probe.parent:  # the nearest existing ancestor
        probe = probe.parent
    if not probe.is_dir():
        _refuse(where, "write", path, f"{probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        _refuse(where, "write", path, f"the server's OS user may not write in {probe}")


def _refuse(where: str, verb: str, path: str, why: str) -> None:
    raise InvalidInput(f"{where}: the server cannot {verb} {path}: {why}; {_ADVICE}")
