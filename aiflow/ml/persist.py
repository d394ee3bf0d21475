"""Saving and loading stages: an open folder format, written at once, safe to load.

A saved stage is a folder::

    metadata.json          {"class": "aiflow.ml.feature.standard_scaler.StandardScaler",
                            "format_version": 1, "params": {...}, "model_data": 1}
    model_data/0.parquet   the stage's tables (a Model's model data), vector columns as
                           list<double> (the size in the field metadata ``aiflow.vector_dims``)
    stages/<i>/            the stages of a pipeline or graph, each a folder like this one
                           (``"stages": n`` and the wiring, ``"layout"``, in metadata.json)

Why this format: any tool reads it (JSON and Parquet, no pickle), so a model trained here is
inspectable and servable elsewhere, and loading one runs no code from the file. ``load`` only
instantiates ``Stage`` classes defined in ``aiflow.ml`` modules; the class path in the file is
never imported otherwise. A stage class of your own (e.g. a test's toy stage) saves the same
way, and loads when its module is named: ``load(path, allowed_modules=["my_pkg.stages"])``, or
``MyStage.load(path)`` (the class the caller names is trusted). A class defined inside a
function cannot be found again, so saving one is refused.

``save`` writes into a temporary sibling folder and renames it into place, so a crash leaves
either the old folder or the new one, never half of one. Loaded tables are on the local engine.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Stage
from aiflow.ml.table import Table

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT_VERSION: Final = 1
METADATA: Final = "metadata.json"
VECTOR_DIMS: Final = b"aiflow.vector_dims"  # Parquet field metadata of a vector column
TRUSTED_PACKAGE: Final = "aiflow.ml"
_CLASS_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def save_stage(stage: Stage, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``stage`` to the folder ``path`` (see the module docstring)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise MLError(f"cannot save {stage.stage_name} to {target}: it is a file")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not overwrite:
        raise MLError(
            f"cannot save {stage.stage_name} to {target}: the folder is not empty "
            "(pass overwrite=True to replace it)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(temp, 0o755)  # mkdtemp's 0700 would make the saved model private
        write_stage(stage, temp)
        if occupied:
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            target.rename(old)
            temp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.rmdir()  # an empty folder gives way
            temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def write_stage(stage: Stage, directory: Path) -> None:
    """Write ``stage`` into the existing, empty ``directory`` (no temp folder: the caller's)."""
    params = type(stage).params()
    metadata: dict[str, Any] = {
        "class": class_path(stage),
        "format_version": FORMAT_VERSION,
        "params": {n: params[n].to_json(v) for n, v in stage.get_param_map().items()},
    }
    tables = stage.state_tables()
    for i, table in enumerate(tables):
        (directory / "model_data").mkdir(exist_ok=True)
        write_table(table, directory / "model_data" / f"{i}.parquet", stage.stage_name)
    metadata["model_data"] = len(tables)
    children = stage._saved_stages()
    for i, child in enumerate(children):
        child_dir = directory / "stages" / str(i)
        child_dir.mkdir(parents=True)
        write_stage(child, child_dir)
    if children:
        metadata["stages"] = len(children)
    layout = stage._saved_layout()
    if layout:
        metadata["layout"] = layout
    try:
        text = json.dumps(metadata, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MLError(f"{stage.stage_name}: its params cannot be written as JSON ({exc})") from None
    (directory / METADATA).write_text(text + "\n", encoding="utf-8")


def class_path(stage: Stage) -> str:
    """``module.Class`` of ``stage``; an error if ``load`` could not find the class again."""
    cls = type(stage)
    if "." in cls.__qualname__:
        raise MLError(
            f"cannot save {cls.__qualname__}: a class defined inside a function or class cannot "
            "be loaded again; define it at module level"
        )
    return f"{cls.__module__}.{cls.__qualname__}"


def load_stage(path: str | Path, *, allowed_modules: Sequence[str] = ()) -> Stage:
    """The stage saved in the folder ``path``; errors name the file at fault."""
    directory = Path(path)
    meta_file = directory / METADATA
    if not meta_file.is_file():
        raise MLError(f"{meta_file}: not found, so {directory} holds no saved aiflow.ml stage")
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MLError(f"{meta_file}: cannot read it as JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise MLError(f"{meta_file}: expected a JSON object")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise MLError(
            f"{meta_file}: format_version {version!r}, this aiflow reads {FORMAT_VERSION}"
        )
    cls = resolve_class(metadata.get("class"), allowed_modules, meta_file)
    params = _params(cls, metadata.get("params", {}), meta_file)
    children = [
        load_stage(directory / "stages" / str(i), allowed_modules=allowed_modules)
        for i in range(_count(metadata, "stages", meta_file))
    ]
    tables = [
        read_table(directory / "model_data" / f"{i}.parquet")
        for i in range(_count(metadata, "model_data", meta_file))
    ]
    try:
        stage = cls._restore(params, metadata.get("layout", {}), children)
        stage.load_state_tables(tables)
    except MLError as exc:
        raise MLError(f"{meta_file}: {exc}") from exc
    return stage


def resolve_class(name: Any, allowed_modules: Sequence[str], meta_file: Path) -> type[Stage]:
    """The Stage class ``name`` ("module.Class"), only from ``aiflow.ml`` or the allowed
    modules: a file never chooses what gets imported."""
    if not isinstance(name, str) or not _CLASS_PATH.fullmatch(name):
        raise MLError(f"{meta_file}: 'class' must be a 'module.Class' path, got {name!r}")
    module_name, _, class_name = name.rpartition(".")
    trusted = module_name == TRUSTED_PACKAGE or module_name.startswith(TRUSTED_PACKAGE + ".")
    if not trusted and module_name not in allowed_modules:
        raise MLError(
            f"{meta_file}: refusing to load class '{name}': only stages defined in "
            f"{TRUSTED_PACKAGE} load, or in a module passed as allowed_modules"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MLError(f"{meta_file}: cannot import the module of class '{name}' ({exc})") from None
    cls = getattr(module, class_name, None)
    if (
        not (isinstance(cls, type) and issubclass(cls, Stage))
        or inspect.isabstract(cls)
        or cls is Stage
    ):
        raise MLError(f"{meta_file}: '{name}' is not a concrete aiflow.ml stage class")
    return cls


def _params(cls: type[Stage], saved: Any, meta_file: Path) -> dict[str, Any]:
    if not isinstance(saved, dict):
        raise MLError(f"{meta_file}: 'params' must be a JSON object")
    known = cls.params()
    unknown = sorted(set(saved) - set(known))
    if unknown:
        raise MLError(
            f"{meta_file}: {cls.__name__} has no param {', '.join(unknown)} "
            f"(params: {', '.join(sorted(known)) or 'none'})"
        )
    try:
        # a param still at its ``None`` default is "not set": restore it by leaving it out
        # (setting ``None`` explicitly would fail its validator)
        return {
            name: known[name].from_json(value)
            for name, value in saved.items()
            if not (value is None and known[name].default is None)
        }
    except (TypeError, ValueError) as exc:
        raise MLError(f"{meta_file}: a param value cannot be read ({exc})") from None


def _count(metadata: dict[str, Any], key: str, meta_file: Path) -> int:
    value = metadata.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MLError(f"{meta_file}: '{key}' must be a count, got {value!r}")
    return value


# -- tables as Parquet ------------------------------------------------------------------------


def write_table(table: Table, file: Path, stage: str = "") -> None:
    """``table`` as one Parquet file; a vector column as list<double>."""
    import pyarrow.parquet as pq

    pq.write_table(to_arrow(table, stage), file)


def to_arrow(table: Table, stage: str = "") -> pa.Table:
    """``table`` as an Arrow table: a vector column as list<double> with its size in the
    field's metadata (what Parquet files and ``aiflow.ml.flink``'s wire format hold)."""
    import pyarrow as pa

    fields, arrays = [], []
    for name in table.columns:
        values = table.column(name)
        if values.ndim == 2:
            rows, dims = values.shape
            flat = pa.array(np.ascontiguousarray(values, dtype=np.float64).reshape(-1))
            offsets = pa.array(np.arange(rows + 1, dtype=np.int64) * dims, type=pa.int32())
            arrays.append(pa.ListArray.from_arrays(offsets, flat))
            fields.append(
                pa.field(name, pa.list_(pa.float64()), metadata={VECTOR_DIMS: b"%d" % dims})
            )
            continue
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            who = f"{stage}: " if stage else ""
            raise MLError(f"{who}cannot save column '{name}' as Parquet ({exc})") from None
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def read_table(file: Path) -> Table:
    """The table in the Parquet ``file`` (written by ``write_table`` or any tool: a list of
    numbers column of one size becomes a vector column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise MLError(f"{file}: cannot read model data ({exc})") from None
    return from_arrow(data, str(file))


def from_arrow(data: pa.Table, source: str) -> Table:
    """The ``Table`` of an Arrow table written by ``to_arrow`` (or any tool: a list of numbers
    column of one size becomes a vector column); errors name ``source``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, np.ndarray] = {}
    for field, chunked in zip(data.schema, data.columns, strict=True):
        array = chunked.combine_chunks()
        if not (pa.types.is_list(field.type) or pa.types.is_large_list(field.type)):
            columns[field.name] = array.to_numpy(zero_copy_only=False)
            continue
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        saved = (field.metadata or {}).get(VECTOR_DIMS)
        dims = int(saved) if saved is not None else (int(lengths[0]) if len(lengths) else 0)
        if array.null_count or (len(lengths) and (lengths != dims).any()):
            raise MLError(f"{source}: column '{field.name}' is not a vector column of size {dims}")
        flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        columns[field.name] = flat.reshape(len(array), dims)
    return Table(columns)
