"""User-facing base classes for node behaviour: Transformer, Trainer, Evaluator, Predictor.

Users subclass these with plain pandas code. What makes them aiflow components is small: the
constructor arguments are captured (``component_params``) so the plan can record them and the
runtime can rebuild the same object in another process, on another machine, from the source
snapshot. That is also why constructor arguments must be JSON values.

Not here: how nodes run on an engine (translators' components) or how data is read.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd


class UserComponent:
    """Base of all user components. Subclasses may declare ``input_schema`` (columns they need)
    and ``output_schema`` (columns they produce) so mismatches surface when the workflow is
    built, not hours into a run."""

    input_schema: ClassVar[dict[str, str] | None] = None
    output_schema: ClassVar[dict[str, str] | None] = None
    _aiflow_params: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> UserComponent:
        self = super().__new__(cls)
        self._aiflow_params = _capture_params(cls, args, kwargs)
        return self

    @property
    def component_params(self) -> dict[str, Any]:
        return dict(self._aiflow_params)


class Transformer(UserComponent):
    """A pure function of one pandas batch; the same code serves batch and stream."""

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement transform(batch)")


class Trainer(UserComponent):
    """Fits a model on a batch. In stream mode it is called per micro-batch with
    ``base_model`` = the model's newest version, which is how online learning continues
    from the last model instead of starting over."""

    def fit(self, batch: pd.DataFrame, base_model: Any = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement fit(batch, base_model)")


class Evaluator(UserComponent):
    """Computes metrics of a model on a batch; they are stored on the model version."""

    def evaluate(self, batch: pd.DataFrame, model: Any) -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate(batch, model)")


class Predictor(UserComponent):
    """Adds predictions to a batch. The default calls ``model.predict`` on the columns the model
    was fitted on (scikit-learn's ``feature_names_in_``), else on every column except those
    named in ``exclude`` (default ``label``). An ``aiflow.ml`` model (flavor ``aiflow.ml``)
    applies its ``transform`` instead: the batch plus the columns the model adds (its params
    name the columns it reads)."""

    def __init__(self, exclude: list[str] | None = None) -> None:
        self.exclude = list(exclude) if exclude is not None else ["label"]

    def predict(self, batch: pd.DataFrame, model: Any) -> pd.DataFrame:
        if is_ml_stage(model):
            from aiflow.dsl.ml_stage import apply_stage

            return apply_stage(model, batch, keep_rows=True)
        fitted_on = getattr(model, "feature_names_in_", None)
        if fitted_on is not None:
            names = [str(c) for c in fitted_on]
            features = _one_block(batch, names)
            if features is None:
                features = batch[list(fitted_on)]
        else:
            names = [c for c in batch.columns if c not in self.exclude]
            features = _one_block(batch, names)
            if features is None:
                features = batch.drop(columns=[c for c in self.exclude if c in batch.columns])
        # Shallow: a new column is set on the copy only, and copying every column was the
        # largest cost of the local engine's predict path (benchmarks/flink_throughput.py).
        out = batch.copy(deep=False)
        out["prediction"] = model.predict(features)
        return out


def _one_block(batch: pd.DataFrame, names: list[str]) -> pd.DataFrame | None:
    """``batch[names]`` held as one 2-D array, when those columns share one numpy number type;
    else None. The same frame (columns, values, dtypes, index), but a model converting it to
    an array (scikit-learn does, at each step) gets a view instead of a gathered copy of
    columns from pandas' separate blocks: one copy instead of two or three (~0.5 s of a 1M-row
    predict; benchmarks/flink_throughput.py)."""
    import numpy as np
    import pandas as pd

    if not names or len(set(names)) < len(names) or not batch.columns.is_unique:
        return None
    if any(name not in batch.columns for name in names):
        return None  # batch[names] says which are missing
    dtypes = {batch.dtypes[name] for name in names}
    if len(dtypes) != 1:
        return None
    (dtype,) = dtypes
    if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
        return None
    block = np.empty((len(names), len(batch)), dtype=dtype)
    for row, name in zip(block, names, strict=True):
        row[:] = batch[name].to_numpy()
    return pd.DataFrame(block.T, columns=pd.Index(names), index=batch.index, copy=False)


class Pusher(UserComponent):
    """Ships a validated model version somewhere before ``af.push`` moves its alias (copy the
    artifact to a serving store, call a deployment API). If ``push`` raises, the alias does not
    move and the version is marked ``failed`` with the error as the reason."""

    def push(self, version: Any) -> None:
        """``version`` is the ``ModelVersion`` (name, number, artifact_uri, checksum, metrics)."""
        raise NotImplementedError(f"{type(self).__name__} must implement push(version)")


def is_ml_stage(obj: object) -> bool:
    """Whether ``obj`` is an ``aiflow.ml`` stage, without importing ``aiflow.ml`` (numpy) here:
    a program holding a stage has imported it already."""
    api = sys.modules.get("aiflow.ml.api")
    return api is not None and isinstance(obj, api.Stage)


def _capture_params(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        if args or kwargs:
            raise TypeError(f"{cls.__name__}() takes no arguments")
        return {}
    sig = _signature(cls, init)
    bound = sig.bind(None, *args, **kwargs)  # raises the usual TypeError on bad arguments
    bound.apply_defaults()
    params: dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            for key, val in value.items():
                params[key] = to_json_value(val, f"{cls.__name__}({key}=...)")
        else:
            params[name] = to_json_value(value, f"{cls.__name__}({name}=...)")
    return params


@functools.lru_cache(maxsize=1024)
def _signature(cls: type, init: Any) -> inspect.Signature:
    """The constructor's signature, checked once per class (big plans build thousands)."""
    sig = inspect.signature(init)
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            raise TypeError(
                f"{cls.__name__}.__init__: parameter '{param.name}' is positional-only or *args; "
                "aiflow rebuilds components from named parameters, so use named parameters"
            )
    return sig


def to_json_value(value: Any, where: str) -> Any:
    """``value`` as a JSON value (tuples become lists), or ``TypeError`` naming ``where``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where}: {value!r} is not a finite number")
        return value
    if isinstance(value, list | tuple):
        return [to_json_value(v, where) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, val in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict keys must be strings, got {key!r}")
            out[key] = to_json_value(val, where)
        return out
    # numpy scalars are common in ML code; accept them by value.
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return to_json_value(item(), where)
    raise TypeError(
        f"{where}: {type(value).__name__} is not a JSON value; component parameters are "
        "recorded in the plan, so pass str, int, float, bool, None, lists or dicts "
        "(load bigger things inside the component from a path parameter)"
    )
