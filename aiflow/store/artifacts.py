"""Model artifacts: a directory per trained model holding ``model.pkl`` and ``meta.json``.

The flavor says how to load it back; ``sklearn`` and generic ``pickle`` exist now. Pickle is
only ever loaded by aiflow's own job runtime from the artifact root it wrote to — never from
data that arrives over the API (the server serves metadata, not unpickled objects).

An artifact appears whole or not at all: it is written under a hidden temporary directory and
renamed into place, so a model that cannot be pickled (or a full disk) leaves no half-written
file for a reader to trip over, and the caller registers a version only after this returned.

``meta.json`` records the sha256 of ``model.pkl`` (``artifact_checksum``), which the registry
keeps with the version; ``load_model`` given it verifies the bytes before unpickling them, so
a file changed or damaged after registration is refused (``ArtifactCorrupt``) instead of
serving whatever it now holds. A file that cannot be read or unpickled at all is refused the
same way, naming why.

An ``aiflow.ml`` stage (flavor ``aiflow.ml``, ``ml_artifacts``) is saved in its own open format
instead -- ``metadata.json`` and Parquet, no pickle -- in the same folder beside ``meta.json``,
with a checksum over all its files; ``load_model`` reads the flavor from ``meta.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pickle
import platform
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import fsspec

import aiflow.hadoop.fs  # noqa: F401 (fsspec's hdfs:// over WebHDFS)
from aiflow.errors import ArtifactCorrupt, UserCodeError
from aiflow.store import ml_artifacts

MODEL_FILE: Final = "model.pkl"
META_FILE: Final = "meta.json"


def flavor_of(model: Any) -> str:
    if ml_artifacts.is_stage(model):
        return ml_artifacts.FLAVOR
    return "sklearn" if type(model).__module__.split(".")[0] == "sklearn" else "pickle"


def save_model(model: Any, model_name: str, artifacts_root: str) -> tuple[str, str]:
    """Write the model under a fresh directory; return (artifact URI, flavor).

    Raises ``UserCodeError`` (no node: the caller knows it) when the model cannot be pickled
    (or, an ``aiflow.ml`` stage, saved).
    """
    flavor = flavor_of(model)
    name = uuid.uuid4().hex
    parent = f"{artifacts_root.rstrip('/')}/{model_name}"
    fs, parent_path = fsspec.core.url_to_fs(parent)
    final, staging = f"{parent_path}/{name}", f"{parent_path}/.{name}.tmp"
    fs.makedirs(staging, exist_ok=True)
    try:
        if flavor == ml_artifacts.FLAVOR:
            files = ml_artifacts.write(model, fs, staging, skip=META_FILE)
            meta = _meta(model, flavor) | {"sha256": ml_artifacts.checksum(files), "files": files}
        else:
            with fs.open(f"{staging}/{MODEL_FILE}", "wb") as out:
                digest = _HashingWriter(out)
                _pickle(model, digest)
            meta = _meta(model, flavor) | {"sha256": digest.hexdigest()}
        with fs.open(f"{staging}/{META_FILE}", "w") as out:
            json.dump(meta, out, indent=2)
        fs.mv(staging, final, recursive=True)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the original error, not a cleanup one
            fs.rm(staging, recursive=True)
        raise
    return f"{parent}/{name}", flavor


def _pickle(model: Any, out: Any) -> None:
    try:
        pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        # What pickle raises for locks, lambdas, local classes, open files and connections.
        raise UserCodeError(
            f"fit() returned a model ({type(model).__qualname__}) that could not be pickled "
            f"({type(exc).__name__}: {exc}); a model must be picklable to be registered: keep "
            "locks, lambdas, open files and connections out of it, or leave them out of its "
            "state with __getstate__/__setstate__"
        ) from exc


def _meta(model: Any, flavor: str) -> dict[str, Any]:
    meta = {
        "flavor": flavor,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "python": platform.python_version(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    if flavor == "sklearn":
        import sklearn

        meta["sklearn"] = sklearn.__version__
    return meta


def artifact_checksum(uri: str) -> str:
    """The sha256 (hex) of the artifact's ``model.pkl`` (of its files, flavor ``aiflow.ml``)
    as recorded in its ``meta.json`` when saved, to register with the version; computed from
    the files for an artifact saved before checksums were recorded. ``ArtifactCorrupt`` when
    neither can be read."""
    root = uri.rstrip("/")
    try:
        with fsspec.open(f"{root}/{META_FILE}", "r") as f:
            meta = json.load(f)
        recorded = meta.get("sha256")
    except FileNotFoundError:
        meta, recorded = {}, None
    except (OSError, ValueError, AttributeError) as exc:  # unreadable, not JSON, not an object
        raise ArtifactCorrupt(
            f"model artifact {uri}: cannot read its {META_FILE} ({type(exc).__name__}: {exc})",
            uri=uri,
        ) from exc
    if isinstance(recorded, str):
        return recorded
    if meta.get("flavor") == ml_artifacts.FLAVOR:
        return ml_artifacts.digest_of(uri, skip=META_FILE)
    return hashlib.sha256(_read_model_file(uri)).hexdigest()


def load_model(uri: str, checksum: str | None = None) -> Any:
    """The model saved at ``uri``; with ``checksum`` (the registered sha256) the file's bytes
    are verified first. ``ArtifactCorrupt`` naming the URI when the file is missing,
    unreadable, not a pickle, or (with ``checksum``) not the bytes that were registered.

    Errors of the model's own classes while unpickling (a module that is not importable here)
    are not corruption and propagate as they are. An ``aiflow.ml`` artifact is verified file by
    file and loaded with ``aiflow.ml.load`` (``ml_artifacts``).
    """
    meta = _read_meta(uri)
    if meta.get("flavor") == ml_artifacts.FLAVOR:
        files = meta.get("files")
        recorded = files if isinstance(files, dict) else None
        return ml_artifacts.load(uri, checksum, recorded, skip=META_FILE)
    data = _read_model_file(uri)
    if checksum is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != checksum.lower():
            raise ArtifactCorrupt(
                f"model artifact {uri}: {MODEL_FILE} has sha256 {found}, expected {checksum} "
                "(it changed after the version was registered): restore the file or train a "
                "new version",
                uri=uri,
                expected=checksum,
                found=found,
            )
    try:
        return pickle.load(io.BytesIO(data))
    except (pickle.UnpicklingError, EOFError) as exc:  # truncated or not a pickle at all
        raise ArtifactCorrupt(
            f"model artifact {uri}: {MODEL_FILE} is not a readable pickle "
            f"({type(exc).__name__}: {exc})",
            uri=uri,
        ) from exc


def _read_meta(uri: str) -> dict[str, Any]:
    """The artifact's ``meta.json``; an unreadable one tells the flavor by the files present
    (a stage's ``metadata.json``), and the flavor's loader names what is wrong."""
    root = uri.rstrip("/")
    try:
        with fsspec.open(f"{root}/{META_FILE}", "r") as f:
            meta = json.load(f)
        if isinstance(meta, dict):
            return meta
    except (OSError, ValueError):
        pass
    fs, path = fsspec.core.url_to_fs(root)
    if fs.exists(f"{path}/{ml_artifacts.STAGE_METADATA}"):
        return {"flavor": ml_artifacts.FLAVOR}
    return {}


def _read_model_file(uri: str) -> bytes:
    path = f"{uri.rstrip('/')}/{MODEL_FILE}"
    try:
        with fsspec.open(path, "rb") as f:
            data: bytes = f.read()
    except FileNotFoundError as exc:
        raise ArtifactCorrupt(
            f"model artifact {uri}: {MODEL_FILE} does not exist (deleted or moved after the "
            "version was registered?)",
            uri=uri,
        ) from exc
    except OSError as exc:
        raise ArtifactCorrupt(
            f"model artifact {uri}: cannot read {MODEL_FILE} ({type(exc).__name__}: {exc})",
            uri=uri,
        ) from exc
    return data


class _HashingWriter:
    """Passes writes through to ``out`` and hashes them: the checksum of exactly the bytes
    written, without reading the file back."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        written: int = self._out.write(data)
        return written

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
