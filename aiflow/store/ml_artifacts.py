"""The ``aiflow.ml`` flavor of a model artifact: the stage's own open format, no pickle.

The artifact folder *is* the saved stage (``metadata.json``, ``model_data/<i>.parquet``,
``stages/<i>/...``, ``aiflow.ml.persist``) plus aiflow's ``meta.json``, so
``aiflow.ml.load(artifact_uri)`` -- or any Parquet reader -- opens a registered version
directly. ``artifacts`` writes the folder under its staging directory and renames it whole, as
for a pickle.

The checksum covers every file of the folder except ``meta.json``: the sha256 of the lines
``<relative path> NUL <sha256 of the file>`` in path order, so it does not depend on the order
a file system lists files in, and a file added, removed, renamed or changed alters it.
``meta.json`` also records each file's sha256 (``files``), so a mismatch names the file.

Loading verifies the files it is about to read (a remote folder is copied to a local temporary
folder first, and that copy is verified and loaded), then ``aiflow.ml.load``\\ s it: only
``aiflow.ml`` classes are instantiated. Anything ``load`` refuses (a truncated Parquet file, a
bad ``metadata.json``, a class outside ``aiflow.ml``) is ``ArtifactCorrupt``.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import fsspec
from fsspec.implementations.local import LocalFileSystem

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.errors import ArtifactCorrupt, MLError, UserCodeError

if TYPE_CHECKING:
    from aiflow.ml.api import Stage

FLAVOR: Final = "aiflow.ml"
STAGE_METADATA: Final = "metadata.json"  # aiflow.ml.persist.METADATA, without importing numpy


def is_stage(model: Any) -> bool:
    """Whether ``model`` is an ``aiflow.ml`` stage (no import: holding one means it is loaded)."""
    import sys

    api = sys.modules.get("aiflow.ml.api")
    return api is not None and isinstance(model, api.Stage)


def write(stage: Stage, fs: Any, staging: str, skip: str) -> dict[str, str]:
    """Save ``stage`` into the existing, empty folder ``staging`` of ``fs``; return the sha256
    of each file written (relative path -> hex). ``skip``: the name reserved for meta.json."""
    from aiflow.ml.persist import write_stage

    try:
        if isinstance(fs, LocalFileSystem):
            write_stage(stage, Path(staging))
            return folder_digests(Path(staging), skip)
        with tempfile.TemporaryDirectory(prefix="aiflow-artifact-") as tmp:
            write_stage(stage, Path(tmp))
            digests = folder_digests(Path(tmp), skip)
            for name in digests:
                target = f"{staging}/{name}"
                fs.makedirs(target.rpartition("/")[0], exist_ok=True)
                fs.put_file(str(Path(tmp) / name), target)
            return digests
    except MLError as exc:
        raise UserCodeError(
            f"fit() returned an aiflow.ml model ({stage.stage_name}) that could not be saved: {exc}"
        ) from exc


def folder_digests(root: Path, skip: str) -> dict[str, str]:
    """sha256 (hex) of every file under ``root`` but ``skip``, by relative path, sorted."""
    out: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name != skip:
            out[name] = _file_sha256(path)
    return out


def checksum(digests: dict[str, str]) -> str:
    """The folder's checksum from its files' digests (see the module docstring)."""
    total = hashlib.sha256()
    for name in sorted(digests):
        total.update(f"{name}\0{digests[name]}\n".encode())
    return total.hexdigest()


def load(uri: str, expected: str | None, recorded: dict[str, str] | None, skip: str) -> Stage:
    """The stage of the artifact at ``uri``, its files verified against ``expected`` (the
    registered checksum) when given; ``ArtifactCorrupt`` naming the URI and, when ``meta.json``
    recorded the files' digests, the file that differs."""
    fs, path = fsspec.core.url_to_fs(uri.rstrip("/"))
    if isinstance(fs, LocalFileSystem):
        return _load_local(uri, Path(path), expected, recorded, skip)
    with tempfile.TemporaryDirectory(prefix="aiflow-artifact-") as tmp:
        try:
            for remote in fs.find(path):
                name = remote[len(path) :].lstrip("/")
                local = Path(tmp) / name
                local.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(local))
        except OSError as exc:
            raise ArtifactCorrupt(
                f"model artifact {uri}: cannot read it ({type(exc).__name__}: {exc})", uri=uri
            ) from exc
        return _load_local(uri, Path(tmp), expected, recorded, skip)


def digest_of(uri: str, skip: str) -> str:
    """The checksum computed from the files at ``uri`` (an artifact saved without one)."""
    fs, path = fsspec.core.url_to_fs(uri.rstrip("/"))
    digests: dict[str, str] = {}
    for remote in sorted(fs.find(path)):
        name = remote[len(path) :].lstrip("/")
        if name != skip:
            with fs.open(remote, "rb") as f:
                digests[name] = hashlib.sha256(f.read()).hexdigest()
    return checksum(digests)


def _load_local(
    uri: str, root: Path, expected: str | None, recorded: dict[str, str] | None, skip: str
) -> Stage:
    from aiflow.ml import load as load_stage

    if not (root / STAGE_METADATA).is_file():
        raise ArtifactCorrupt(
            f"model artifact {uri}: {STAGE_METADATA} does not exist (deleted or moved after the "
            "version was registered?)",
            uri=uri,
        )
    if expected is not None:
        try:
            digests = folder_digests(root, skip)
        except OSError as exc:
            raise ArtifactCorrupt(
                f"model artifact {uri}: cannot read it ({type(exc).__name__}: {exc})", uri=uri
            ) from exc
        found = checksum(digests)
        if found != expected.lower():
            raise ArtifactCorrupt(
                f"model artifact {uri}: its files have checksum {found}, expected {expected}"
                f"{_which_changed(digests, recorded)} (changed after the version was "
                "registered): restore the files or train a new version",
                uri=uri,
                expected=expected,
                found=found,
            )
    try:
        return load_stage(root)
    except MLError as exc:
        raise ArtifactCorrupt(
            f"model artifact {uri}: not a loadable aiflow.ml stage ({exc})", uri=uri
        ) from exc


def _which_changed(digests: dict[str, str], recorded: dict[str, str] | None) -> str:
    if not recorded:
        return ""
    changed = sorted(n for n in digests.keys() & recorded.keys() if digests[n] != recorded[n])
    missing = sorted(recorded.keys() - digests.keys())
    added = sorted(digests.keys() - recorded.keys())
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (("changed:", changed), ("missing:", missing), ("added:", added))
        if names
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
