"""The numpy fast path: a scikit-learn model called with the request's float array instead of a
DataFrame, for a version a one-time probe showed answers exactly the same.

**Why.** scikit-learn validates a DataFrame input column by column (dtypes, feature names,
through narwhals): at one instance per request that is most of a prediction (measured on the
benchmark's 13-feature LogisticRegression: 2.2 ms with a DataFrame, 0.44 ms with an array).

**When.** The chain is the default predictor alone (``af.Predictor()``, no transforms), every
field of the schema is a float64 column (a request then becomes one float block), and the model
is a scikit-learn estimator or pipeline. It gets exactly the array scikit-learn would have taken
out of the frame -- the same values in the same memory layout, the columns the predictor would
have selected in its order -- so after input validation the same code runs on the same data.

**Feature names.** A model fitted on a DataFrame remembers its columns (``feature_names_in_``)
and warns when given an array. The fast path calls a *view* of it: a shallow copy without that
attribute (it shares every fitted array, so it costs no memory), i.e. the model as it would be
had it been fitted on the array; for a ``Pipeline``, its first step is viewed that way.

**The probe** (``probe``), once per loaded version, on the watcher thread and before the version
is served: a few rows made from the schema (several at once, and one alone) go through the
normal path and through the fast path; the fast path is used only if both answer the same JSON
bytes, with no exception and no warning on either side. A model that reads column names (a
``ColumnTransformer`` selecting by name, a custom estimator) fails or answers differently, and
keeps the DataFrame path. On a request, any exception on the fast path reruns the request on the
normal path, so an error answer (422 naming the node) is the normal path's, word for word.

Not here: building the chain (``chain``), loading versions (``model_holder``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiflow.serving.protocol import dumps
from aiflow.serving.schema import Schema, block_frame

if TYPE_CHECKING:
    import numpy as np

_PROBE_ROWS: Final = 8
_PASSTHROUGH: Final = ("passthrough", None)


@dataclass(frozen=True)
class FastPath:
    """How one loaded version predicts from a request's float block (``schema.to_block``).

    ``model``: the numpy view of the version's model; ``take``: the rows of the block (the
    schema's columns) the predictor hands the model, ``None`` for all of them in order;
    ``fallback``: the normal path on the same block, for a block the fast path raised on.
    """

    model: Any
    take: tuple[int, ...] | None
    fallback: Callable[[np.ndarray], list[Any]]

    def predict(self, block: np.ndarray) -> list[Any]:
        """One prediction per column of ``block`` (shape: fields x instances)."""
        try:
            return self.direct(block)
        except Exception:  # answer (or refuse) it exactly as the normal path does
            return self.fallback(block)

    def direct(self, block: np.ndarray) -> list[Any]:
        rows = block if self.take is None else block[list(self.take)]
        return list(self.model.predict(rows.T).tolist())


def numpy_view(model: Any) -> Any | None:
    """``model`` as if fitted on an array (see the module's docstring), or ``None`` for a model
    that is not a scikit-learn estimator. ``model`` itself is never changed."""
    try:
        from sklearn.base import BaseEstimator
        from sklearn.pipeline import Pipeline
    except ImportError:  # not a scikit-learn model then
        return None
    if isinstance(model, Pipeline):
        steps = list(model.steps)
        for i, (name, step) in enumerate(steps):
            if isinstance(step, str | None) and step in _PASSTHROUGH:
                continue
            view = numpy_view(step)
            if view is None:
                return None
            steps[i] = (name, view)
            break
        pipeline = _shallow(model)
        pipeline.steps = steps
        return pipeline
    if not isinstance(model, BaseEstimator):
        return None
    if "feature_names_in_" not in vars(model):
        return model
    view = _shallow(model)
    del view.__dict__["feature_names_in_"]
    return view


def _shallow(model: Any) -> Any:
    """A new instance sharing ``model``'s attributes (no ``__getstate__`` hooks run)."""
    clone = object.__new__(type(model))
    clone.__dict__.update(vars(model))
    return clone


def probe(
    predict: Callable[[Any, Any], list[Any]],
    model: Any,
    schema: Schema | None,
    exclude: list[str],
) -> tuple[FastPath | None, str]:
    """The fast path for ``model`` if the probe shows it answers as the normal path
    (``predict(frame, model)``) does, else ``None``; and why, for the log.

    ``exclude``: the columns the default predictor leaves out when the model names none."""
    import numpy as np

    if schema is None or not schema.float_block:
        return None, "the request's fields are not all float64 columns"
    view = numpy_view(model)
    if view is None:
        return None, f"{type(model).__name__} is not a scikit-learn estimator"
    take = _columns(model, schema, exclude)
    if take is None:
        return None, "the model's feature names are not all fields of the request"

    def fallback(block: np.ndarray) -> list[Any]:
        return predict(block_frame(schema, block), model)

    fast = FastPath(view, None if take == tuple(range(len(schema.columns))) else take, fallback)
    rng = np.random.default_rng(0)
    block = np.ascontiguousarray(rng.normal(scale=3.0, size=(len(schema.columns), _PROBE_ROWS)))
    block[:, 0] = 0.0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for sample in (block, np.ascontiguousarray(block[:, 1:2])):
                slow, quick = fallback(sample), fast.direct(sample)
                if dumps(slow) != dumps(quick):
                    return None, "the probe answered differently with an array"
    except Exception as exc:  # either side raised: keep the path every job uses
        return None, f"the probe raised {type(exc).__name__}: {exc}"
    if caught:
        return None, f"the probe warned: {caught[0].message}"
    return fast, "the probe answered the same with an array"


def _columns(model: Any, schema: Schema, exclude: list[str]) -> tuple[int, ...] | None:
    """The schema columns ``af.Predictor`` hands ``model``, as indexes; ``None`` when some
    column the model was fitted on is not in the schema."""
    columns = list(schema.columns)
    fitted_on = getattr(model, "feature_names_in_", None)
    if fitted_on is None:
        return tuple(i for i, c in enumerate(columns) if c not in exclude)
    names = [str(n) for n in fitted_on]
    if not set(names) <= set(columns):
        return None
    return tuple(columns.index(n) for n in names)
