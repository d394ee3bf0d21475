"""Source snapshots: the workflow's code, content-addressed, so a job runs the code the plan was
built from even where the author's disk is not (a pod, a YARN container, next week).

A snapshot holds the ``.py`` (and ``.sql``) files under the workflow file's directory — not data,
not virtualenvs. Its hash covers paths and contents only, so it is stable across runs and
machines; the archive is a deterministic tar.gz stored once per hash under
``$AIFLOW_HOME/snapshots`` (through fsspec, so the location can become s3:// or hdfs://).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import fsspec

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.errors import InvalidInput

SOURCE_SUFFIXES = (".py", ".sql")
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", ".venv", "build", "dist"}
MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    hash: str
    root: Path
    entrypoint: str  # the workflow file, relative to root
    files: tuple[str, ...]

    def archive(self) -> bytes:
        buffer = io.BytesIO()
        # mtime=0 and fixed owners: the same sources give the same bytes.
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
            for rel in self.files:
                data = (self.root / rel).read_bytes()
                info = tarfile.TarInfo(rel)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def collect(source_file: Path) -> Snapshot:
    root = source_file.resolve().parent
    files: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES) and not name.startswith("."):
                path = Path(dirpath) / name
                total += path.stat().st_size
                files.append(path.relative_to(root).as_posix())
    if total > MAX_SNAPSHOT_BYTES:
        raise InvalidInput(
            f"source snapshot of {root} is {total} bytes (limit {MAX_SNAPSHOT_BYTES}); "
            "keep the workflow in a directory of its own"
        )
    files.sort()
    entry = source_file.resolve().relative_to(root).as_posix()
    return Snapshot(hash=_digest(root, files), root=root, entrypoint=entry, files=tuple(files))


def _digest(root: Path, files: list[str]) -> str:
    digest = hashlib.sha256()
    for rel in files:
        digest.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def store(snapshot: Snapshot, snapshots_dir: str | Path) -> str:
    """Write the archive once per hash; return its URI."""
    uri = f"{str(snapshots_dir).rstrip('/')}/{snapshot.hash}.tar.gz"
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        fs.makedirs(fs._parent(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with fs.open(tmp, "wb") as out:
            out.write(snapshot.archive())
        fs.mv(tmp, path)
    return uri


def extract(uri: str, source_hash: str, cache_dir: Path) -> Path:
    """The snapshot unpacked under ``cache_dir/<hash>`` (done once, atomically, safely)."""
    target = cache_dir / source_hash
    if (target / ".complete").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with fsspec.open(uri, "rb") as f:
        data = f.read()
    tmp = Path(tempfile.mkdtemp(prefix=f".{source_hash[:12]}-", dir=cache_dir))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        # The "data" filter refuses absolute paths, '..', links out of the tree and devices.
        tar.extractall(tmp, filter="data")
    names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    if _digest(tmp, names) != source_hash:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InvalidInput(f"snapshot {uri} does not match its hash {source_hash}")
    (tmp / ".complete").touch()
    try:
        os.rename(tmp, target)
    except OSError:  # another job extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target
