"""What a model version was trained on, recorded with it (``ModelVersion.lineage``).

Batch: each example the training job read, with its location and a content fingerprint, so
"was version 7 trained on the same data as version 5?" has an answer even when the file was
rewritten in place. Stream: the micro-batches of the version's window (their ids are the input
file names), so a version can be traced back to the exact records it learned from.

The fingerprint is a SHA-256 over each data file's name and bytes, in name order: content,
not modification time, decides.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import fsspec

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.plan.model import NodeKind
from aiflow.translators import io

if TYPE_CHECKING:
    from aiflow.translators.context import JobContext

_CHUNK = 1 << 20


def fingerprint(uri: str) -> str:
    """``sha256:<hex>`` of the data files at ``uri`` (a file or a directory)."""
    digest = hashlib.sha256()
    for file in io.list_data_files(uri):
        digest.update(file.rsplit("/", 1)[-1].encode())
        with fsspec.open(file, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def batch_lineage(ctx: JobContext) -> dict[str, Any]:
    """The examples (and materialized intermediates) a batch training job read."""
    data = []
    for node in ctx.spec.nodes:
        if node.kind not in (NodeKind.READ_EXAMPLE, NodeKind.READ_INTERMEDIATE):
            continue
        example = node.example
        if example is None or example.batch_uri is None:
            continue
        uri = ctx.resolve_uri(example.batch_uri)
        entry: dict[str, Any] = {"example": example.name, "uri": uri}
        try:
            entry["fingerprint"] = fingerprint(uri)
        except Exception as exc:  # an unreadable location is recorded as such, not fatal
            entry["fingerprint"] = None
            entry["error"] = f"{type(exc).__name__}: {exc}"
        data.append(entry)
    return {"data": data}


def window_lineage(
    ctx: JobContext, micro_batches: list[str], records: int, source: str | None
) -> dict[str, Any]:
    """The stream window a version was trained on."""
    return {
        "window": {
            "source": source,
            "micro_batches": list(micro_batches),
            "records": records,
            "execution_id": ctx.execution.id,
        }
    }
