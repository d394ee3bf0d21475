"""Python functions that run inside Flink's Python workers: transform and predict, and what every
function shares (errors that cross the JVM, the Arrow bridge's dtypes).

They are pandas UDFs: Flink hands one ``pd.Series`` per argument for a batch of rows and takes
back one DataFrame with the result ROW's fields. Everything here is pickled into the Flink job
and rebuilt in a worker — in the job process itself on the embedded mini-cluster, in a separate
interpreter on a session cluster — so each function carries only plain data (refs, paths, and
how to ask for the serving version: the job's API client or, without a server, the meta store
URI; see ``JobContext.serving_lookup``) and builds user objects in ``open``, once per task,
never per record.

Errors cross the JVM as text. A function that fails raises ``FlinkUdfError`` whose message
carries the aiflow error (class code, node, message) behind a marker; the engine finds it in
Flink's exception and re-raises the same ``AiflowError`` the local engine would, naming the
node, instead of 20 kB of Java stack.

Not here: parsing records and formatting output text (``text_udfs``); building tables and
jobs (``engine``, ``io``, ``outputs``, ``ml``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyflink.table.udf import FunctionContext, ScalarFunction

from aiflow.errors import AiflowError, InvalidInput, UserCodeError
from aiflow.translators import io

if TYPE_CHECKING:
    from aiflow.translators.job_store import ServingLookup

log = logging.getLogger("aiflow.runtime")

ERROR_MARKER = "AIFLOW_ERROR:"
_MARKED = re.compile(re.escape(ERROR_MARKER) + r"([A-Za-z0-9+/=]+)")


class FlinkUdfError(RuntimeError):
    """What a worker raises: an aiflow error packed so the driver can unpack it from Flink's
    exception text (the JVM keeps only the string)."""

    @classmethod
    def wrap(cls, exc: BaseException, node: str) -> FlinkUdfError:
        if isinstance(exc, AiflowError):
            code, message = exc.code, exc.message
        else:
            code, message = UserCodeError.code, f"{type(exc).__name__}: {exc}"
        payload = json.dumps({"code": code, "node": node, "message": message})
        packed = base64.b64encode(payload.encode()).decode()
        return cls(f"{ERROR_MARKER}{packed} ({message})")


def unpack_error(text: str) -> AiflowError | None:
    """The aiflow error a worker packed into Flink's exception text, if there is one."""
    found = _MARKED.findall(text)
    if not found:
        return None
    data = json.loads(base64.b64decode(found[-1]))
    node, message = data.get("node"), str(data["message"])
    prefix = f"node '{node}': "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    if data["code"] == InvalidInput.code:
        named = not node or message.startswith(f"node '{node}'")  # "node 'n' output: ..."
        return InvalidInput(message if named else f"{prefix}{message}")
    return UserCodeError(message, node)


# ---- dtypes Flink's Arrow bridge accepts for each aiflow column type -----------------------

# (dense dtype, dtype with nulls). PyFlink's Arrow bridge passes a null mask, which pandas'
# extension arrays (Int32, boolean, string) refuse, so nullable ints and bools travel as objects.
PANDAS_TYPES = {
    "double": ("float64", "float64"),
    "float": ("float32", "float32"),
    "int": ("int32", "object"),
    "bigint": ("int64", "object"),
    "bool": ("bool", "object"),
}


def to_flink_frame(frame: pd.DataFrame, columns: dict[str, str], where: str) -> pd.DataFrame:
    """``frame`` restricted to ``columns`` in order, values converted with the same rules as
    the local engine (``io.apply_schema``), dtypes narrowed to the ROW's Arrow types."""
    typed = io.schema_values(frame, columns, where)
    out = {}
    for name, type_name in columns.items():
        series = typed[name]
        dense, nullable = PANDAS_TYPES.get(type_name, (None, None))
        if dense is not None and str(series.dtype) == dense:
            pass  # no nulls, or NaN in a float column: the bridge's dtype already
        elif dense is not None and not series.isna().any():
            series = series.astype(dense)  # type: ignore[call-overload]
        elif nullable == "object" or type_name == "string":
            series = as_objects(series)
        out[name] = series
    return pd.DataFrame(out, index=frame.index)


# ---- user code, once per worker process ---------------------------------------------------

_code_cache: dict[tuple[str | None, str | None], Any] = {}


def _user_code(root: str | None, entrypoint: str | None) -> Any:
    """One ``UserCode`` per snapshot per process: on the mini-cluster workers share the job
    process, which has loaded the workflow file already; loading it again would re-run it."""
    from aiflow.translators.usercode import WORKFLOW_MODULE, UserCode

    key = (root, entrypoint)
    if key not in _code_cache:
        module = sys.modules.get(WORKFLOW_MODULE)
        loaded = getattr(module, "__file__", None)
        if root and entrypoint and loaded and Path(loaded) == Path(root) / entrypoint:
            _code_cache[key] = UserCode(None, None)  # resolve against the loaded module
        else:
            _code_cache[key] = UserCode(Path(root) if root else None, entrypoint)
    return _code_cache[key]


class NodeFunction(ScalarFunction):
    def __init__(self, node: str, in_columns: list[str]) -> None:
        self.node = node
        self.in_columns = in_columns

    def frame(self, args: tuple[pd.Series, ...]) -> pd.DataFrame:
        return pd.concat(args, axis=1, keys=self.in_columns)

    def eval(self, *args: pd.Series) -> pd.DataFrame | pd.Series:
        return self.call(self.frame(args))

    def call(self, frame: pd.DataFrame, step: Callable[[pd.DataFrame], Any] | None = None) -> Any:
        """``apply`` (or another ``step`` of this function), an error naming its node."""
        try:
            return (step or self.apply)(frame)
        except FlinkUdfError:
            raise
        except Exception as exc:
            raise FlinkUdfError.wrap(exc, self.node) from exc

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame | pd.Series:
        """A ROW result's fields (a frame), or a scalar result (a series)."""
        raise NotImplementedError


class UserFunction(NodeFunction):
    """Base of transform and predict: a user object rebuilt from the snapshot in ``open``."""

    def __init__(
        self,
        node: str,
        in_columns: list[str],
        out_columns: dict[str, str],
        component: dict[str, Any],
        code: tuple[str | None, str | None],
    ) -> None:
        super().__init__(node, in_columns)
        self.out_columns = out_columns
        self.component = component
        self.code = code
        self.user: Any = None

    def open(self, function_context: FunctionContext) -> None:
        from aiflow.plan.model import ComponentRef
        from aiflow.translators.usercode import blas_beside_pipeline

        blas_beside_pipeline()  # the worker's BLAS, for good: the JVM's threads share the cores
        try:
            ref = ComponentRef.model_validate(self.component)
            self.user = _user_code(*self.code).instantiate(ref, self.node)
        except Exception as exc:
            raise FlinkUdfError.wrap(exc, self.node) from exc

    def checked(self, out: object, rows: int, method: str) -> pd.DataFrame:
        if not isinstance(out, pd.DataFrame):
            raise UserCodeError(
                f"{method} returned {type(out).__name__}, expected a pandas DataFrame", self.node
            )
        if len(out) != rows:
            raise UserCodeError(
                f"{method} returned {len(out)} rows for {rows} input rows; on the flink engine "
                "a node keeps one output row per input row (run it with engine='local')",
                self.node,
            )
        missing = [c for c in self.out_columns if c not in out.columns]
        if missing:
            raise UserCodeError(
                f"{method} output lacks column(s) {missing} (got {list(out.columns)})", self.node
            )
        return to_flink_frame(out, self.out_columns, f"node '{self.node}' {method} output")


class TransformFunction(UserFunction):
    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.checked(self.user.transform(frame), len(frame), "transform()")


class PredictFunction(UserFunction):
    """Loads the model in ``open`` and, in stream mode, re-checks the serving version at least every
    ``refresh`` seconds, so a newly deployed version takes over without restarting the job;
    every row records the version that made it (``model_version``)."""

    def __init__(
        self,
        node: str,
        in_columns: list[str],
        out_columns: dict[str, str],
        component: dict[str, Any],
        code: tuple[str | None, str | None],
        *,
        model: str,
        pinned: tuple[int, int, str, str | None] | None,  # (id, version, artifact, checksum)
        store: ServingLookup,  # picklable: a job API client, or the store's URI
        refresh: float,
    ) -> None:
        super().__init__(node, in_columns, out_columns, component, code)
        self.model_name = model
        self.pinned = pinned
        self.store = store
        self.refresh = refresh
        self._model: tuple[int, int, Any] | None = None
        self._checked_at = 0.0

    def open(self, function_context: FunctionContext) -> None:
        super().open(function_context)
        self._current()

    def _current(self) -> tuple[int, Any]:
        now = time.monotonic()
        # Half the refresh: calls come once per bundle, about as often as ``refresh``; checking
        # only when a whole ``refresh`` passed skipped every other call, up to 2x stale.
        fresh = now - self._checked_at < self.refresh / 2
        if self._model is not None and (self.pinned or fresh):
            return self._model[1], self._model[2]
        choice = self.pinned
        if choice is None:
            version = self.store.serving_version(self.model_name)
            if version is None:
                raise UserCodeError(f"model '{self.model_name}' has no versions yet", self.node)
            choice = (version.id, version.version, version.artifact_uri, version.checksum)
        self._checked_at = now
        if self._model is None or self._model[0] != choice[0]:
            loaded = self._load(choice)
            if loaded is not None:
                self._model = (choice[0], choice[1], loaded)
            elif self._model is None:
                raise UserCodeError(
                    f"model '{self.model_name}' version {choice[1]} could not be loaded and no "
                    "earlier version is in use",
                    self.node,
                )
        return self._model[1], self._model[2]

    def _load(self, choice: tuple[int, int, str, str | None]) -> Any | None:
        """The model, its checksum verified; ``None`` (after marking the version failed, which
        moves ``deployed`` back) when it does not load: the previous version keeps serving."""
        from aiflow.errors import ArtifactCorrupt
        from aiflow.store.artifacts import load_model

        try:
            return load_model(choice[2], checksum=choice[3])
        except ArtifactCorrupt as exc:
            log.error("node '%s': %s version %s: %s", self.node, self.model_name, choice[1], exc)
            if self.pinned is None:
                self.store.mark_model_version_failed(
                    self.model_name,
                    choice[1],
                    reason=f"node '{self.node}' could not load it: {exc.message}",
                )
                return None
            raise

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        version, model = self._current()
        out = self.user.predict(frame, model)
        if isinstance(out, pd.DataFrame):
            out = out.copy()
            out["model_version"] = version
        return self.checked(out, len(frame), "predict()")


def bridged(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``frame`` (a function's ROW result) as the next function gets it when Flink carries it
    between them: each field through an Arrow array of its Flink type and back, by the
    conversions PyFlink's Arrow bridge makes (``pyflink.table.utils``), so dtypes and nulls
    are the ones an unchained function sees."""
    import pyarrow as pa

    types = {"double": pa.float64(), "float": pa.float32(), "int": pa.int32()}
    types |= {"bigint": pa.int64(), "string": pa.string(), "bool": pa.bool_()}
    index = frame.index
    if (
        list(frame.columns) == list(columns)
        and isinstance(index, pd.RangeIndex)
        and (
            index.start == 0
            and index.step == 1
            and all(map(_unchanged, frame.dtypes, columns.values()))
        )
    ):
        return frame  # what the bridge would give back: no copy
    out: dict[str, Any] = {}
    for name, type_name in columns.items():
        series = frame[name]
        if _unchanged(series.dtype, type_name):
            out[name] = series.to_numpy()
            continue
        array = pa.Array.from_pandas(series, mask=series.isnull(), type=types[type_name])
        out[name] = array.to_pandas(date_as_object=True)
    return pd.DataFrame(out)


def _unchanged(dtype: Any, type_name: str) -> bool:
    """Whether the Arrow bridge gives a column of ``dtype`` back as it is: a dense dtype
    (it cannot hold nulls), or a float's with NaN (which comes back NaN)."""
    return str(dtype) == PANDAS_TYPES.get(type_name, ("",))[0]


def as_objects(series: pd.Series) -> pd.Series:
    """Python values with None for nulls (what the Arrow bridge converts with a mask)."""
    values = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in series]
    return pd.Series(values, index=series.index, dtype=object)
