"""Model artifacts: a directory per trained model holding ``model.pkl`` and ``meta.json``.

The flavor says how to load it back; ``sklearn`` and generic ``pickle`` exist now. Pickle is
only ever loaded by aiflow's own job runtime from the artifact root it wrote to — never from
data that arrives over the API (the server serves metadata, not unpickled objects).

An artifact appears whole or not at all: it is written under a hidden temporary directory and
renamed into place, so a model that cannot be pickled (or a full disk) leaves no half-written
file for a reader to trip over, and the caller registers a version only after this returned.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import platform
import uuid
from datetime import UTC, datetime
from typing import Any

import fsspec

from aiflow.errors import UserCodeError


def flavor_of(model: Any) -> str:
    return "sklearn" if type(model).__module__.split(".")[0] == "sklearn" else "pickle"


def save_model(model: Any, model_name: str, artifacts_root: str) -> tuple[str, str]:
    """Write the model under a fresh directory; return (artifact URI, flavor).

    Raises ``UserCodeError`` (no node: the caller knows it) when the model cannot be pickled.
    """
    flavor = flavor_of(model)
    name = uuid.uuid4().hex
    parent = f"{artifacts_root.rstrip('/')}/{model_name}"
    fs, parent_path = fsspec.core.url_to_fs(parent)
    final, staging = f"{parent_path}/{name}", f"{parent_path}/.{name}.tmp"
    fs.makedirs(staging, exist_ok=True)
    try:
        with fs.open(f"{staging}/model.pkl", "wb") as out:
            _pickle(model, out)
        with fs.open(f"{staging}/meta.json", "w") as out:
            json.dump(_meta(model, flavor), out, indent=2)
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


def _meta(model: Any, flavor: str) -> dict[str, str]:
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


def load_model(uri: str) -> Any:
    with fsspec.open(f"{uri.rstrip('/')}/model.pkl", "rb") as f:
        return pickle.load(f)
