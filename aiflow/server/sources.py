"""Reading a workflow version's source snapshot for the dashboard: the file list, one file.

Only names listed in the archive are served (``tarfile`` members looked up by exact name), so a
path cannot reach outside the snapshot, and files are returned as text for the page to render
as text, never as HTML.
"""

from __future__ import annotations

import io
import tarfile
from typing import Final

import fsspec

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import WorkflowVersion
from aiflow.schemas.views import SourceFile, SourceListing

MAX_FILE_BYTES: Final = 2 * 1024 * 1024


def list_sources(version: WorkflowVersion) -> SourceListing:
    with _archive(version) as tar:
        files = [SourceFile(path=m.name, size=m.size) for m in tar.getmembers() if m.isfile()]
    return SourceListing(
        workflow=version.workflow_name,
        version=version.version,
        source_hash=version.source_hash,
        files=sorted(files, key=lambda f: f.path),
    )


def read_source(version: WorkflowVersion, path: str) -> str:
    """The text of file ``path`` of the snapshot (UTF-8; undecodable bytes replaced)."""
    with _archive(version) as tar:
        try:
            member = tar.getmember(path)
        except KeyError:
            raise NotFound(
                f"workflow '{version.workflow_name}' version {version.version} has no source "
                f"file '{path}'"
            ) from None
        if not member.isfile():
            raise NotFound(f"'{path}' is not a file of the snapshot")
        if member.size > MAX_FILE_BYTES:
            raise InvalidInput(
                f"source file '{path}' is {member.size} bytes; at most {MAX_FILE_BYTES} are shown"
            )
        data = tar.extractfile(member)
        assert data is not None  # a regular file
        return data.read().decode("utf-8", errors="replace")


def _archive(version: WorkflowVersion) -> tarfile.TarFile:
    try:
        with fsspec.open(version.snapshot_uri, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFound(
            f"the source snapshot of workflow '{version.workflow_name}' version "
            f"{version.version} is gone ({version.snapshot_uri})"
        ) from None
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
