"""Model artifacts: a directory per trained model holding ``model.pkl`` and ``meta.json``.

The flavor says how to load it back; ``sklearn`` and generic ``pickle`` exist now. Pickle is
only ever loaded by aiflow's own job runtime from the artifact root it wrote to — never from
data that arrives over the API (the server serves metadata, not unpickled objects).
"""

from __future__ import annotations

import json
import pickle
import platform
import uuid
from datetime import UTC, datetime
from typing import Any

import fsspec


def flavor_of(model: Any) -> str:
    return "sklearn" if type(model).__module__.split(".")[0] == "sklearn" else "pickle"


def save_model(model: Any, model_name: str, artifacts_root: str) -> tuple[str, str]:
    """Write the model under a fresh directory; return (artifact URI, flavor)."""
    flavor = flavor_of(model)
    uri = f"{artifacts_root.rstrip('/')}/{model_name}/{uuid.uuid4().hex}"
    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path, exist_ok=True)
    with fs.open(f"{path}/model.pkl", "wb") as out:
        pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    meta = {
        "flavor": flavor,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "python": platform.python_version(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    if flavor == "sklearn":
        import sklearn

        meta["sklearn"] = sklearn.__version__
    with fs.open(f"{path}/meta.json", "w") as out:
        json.dump(meta, out, indent=2)
    return uri, flavor


def load_model(uri: str) -> Any:
    with fsspec.open(f"{uri.rstrip('/')}/model.pkl", "rb") as f:
        return pickle.load(f)
