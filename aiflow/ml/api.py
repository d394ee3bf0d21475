"""The stage API: what every algorithm, feature stage, pipeline and graph is.

    Stage                  params (``WithParams``), ``save(path)``, ``load(path)``
    +- AlgoOperator        transform(*tables) -> list[Table]
    |  +- Transformer      an AlgoOperator that maps rows to rows (same API; a marker)
    |     +- Model         + set_model_data(*tables) / get_model_data(): what fit learnt
    +- Estimator           fit(*tables) -> Model

Every stage takes and returns *lists* of tables, so a stage with two inputs (data and model
data) or two outputs (predictions and a stream of model versions) needs no special case, and
model data are tables too: they can be saved as Parquet, streamed, or fed to another stage.

Writing a stage (e.g. a scaler):

1. Declare params as class attributes (``param``), inheriting the shared ones
   (``common_params``: ``HasInputCol``, ``HasMaxIter``, ...). The constructor takes them as
   keywords; do not override ``__init__`` with other arguments, since ``load`` rebuilds a stage
   as ``cls(**params)`` (a ``Model`` is then given its model data).
2. An ``Estimator``: implement ``fit(*tables)``: ``data = self.check_inputs(tables)`` (count,
   not empty, one engine), compute with numpy on whole columns (``table.vector(col,
   stage=self.stage_name)``), and return
   ``MyModel().copy_params_from(self).set_model_data(Table({...}))``.
3. A ``Model``: keep everything learnt in model data tables (one row of a vector column
   ``"coefficient"``, say), read them in ``transform`` through ``get_model_data()`` -- or
   override ``set_model_data`` to also cache parsed arrays, calling ``super()`` first. Then
   ``save`` / ``load`` need nothing more: params go to ``metadata.json``, model data to Parquet.
4. An ``AlgoOperator`` / ``Transformer``: implement ``transform(*tables) -> list[Table]``,
   returning new tables (``table.with_columns({...})``); tables are immutable.
5. Raise ``self.error("...")`` (an ``MLError`` starting with the class name) for bad input;
   name the param or column at fault.

A stage holding tables that are not model data (an online estimator's initial model) overrides
``state_tables`` / ``load_state_tables`` so that they are saved too.

Not here: the file format (``persist``), composition (``pipeline``, ``graph``).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from aiflow.errors import MLError
from aiflow.ml.param import WithParams
from aiflow.ml.table import Table, same_engine


class Stage(WithParams, ABC):
    """A node of an ML workflow: params, plus whatever tables it holds; saved as a folder.

    Engines: every ``transform`` and ``fit`` a subclass defines is wrapped so that, given
    tables on engine ``flink``, it runs on Flink (``aiflow.ml.flink.engine``: the same method,
    in Flink tasks over local tables); on ``local`` tables it is called as written. An
    estimator whose own ``fit`` drives Flink jobs (its iterations run there) says so with
    ``flink_driver = True`` (or ``drives_flink_fit``, when it depends on its params)."""

    flink_driver: ClassVar[bool] = False

    def drives_flink_fit(self) -> bool:
        """Whether this estimator's own ``fit`` runs in the driver on Flink tables, sending its
        iterations to Flink; otherwise the whole fit runs in one Flink task."""
        return self.flink_driver

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("transform", "fit"):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "_runs_on_its_engine", False):
                setattr(cls, name, _on_tables_engine(method))

    def error(self, message: str) -> MLError:
        """An ``MLError`` reading "<StageClass>: <message>" (raise it)."""
        return MLError(f"{self.stage_name}: {message}")

    def check_inputs(
        self, tables: Sequence[Table], count: int | None = 1, *, allow_empty: bool = False
    ) -> str:
        """Check a call's input tables: ``count`` of them (``None``: any, at least one), not
        empty unless ``allow_empty``, all on one engine. Returns that engine."""
        for i, table in enumerate(tables):
            if not isinstance(table, Table):
                raise self.error(f"input {i} is a {type(table).__name__}, expected a Table")
        if count is not None and len(tables) != count:
            raise self.error(f"expected {count} input table(s), got {len(tables)}")
        if not tables:
            raise self.error("expected at least one input table, got none")
        if not allow_empty:
            for i, table in enumerate(tables):
                if table.num_rows == 0:
                    which = "the input table" if len(tables) == 1 else f"input table {i}"
                    raise self.error(f"{which} is empty (columns: {', '.join(table.columns)})")
        return same_engine(tables, self.stage_name)

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the stage to the folder ``path`` now (``persist``); an existing non-empty
        folder is an error unless ``overwrite``."""
        from aiflow.ml.persist import save_stage

        save_stage(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, *, allowed_modules: Sequence[str] = ()) -> Self:
        """The stage saved at ``path``, which must be a ``cls``. Classes outside ``aiflow.ml``
        load only from ``allowed_modules`` (``cls``'s own module is allowed: the caller named
        it)."""
        from aiflow.ml.persist import load_stage

        stage = load_stage(path, allowed_modules=(*allowed_modules, cls.__module__))
        if not isinstance(stage, cls):
            raise MLError(
                f"{path}: holds a stage of class {type(stage).__name__}, not {cls.__name__} "
                "(aiflow.ml.load reads any stage)"
            )
        return stage

    def state_tables(self) -> list[Table]:
        """The tables saved with the stage besides its params (a Model: its model data)."""
        return []

    def load_state_tables(self, tables: Sequence[Table]) -> None:
        """Take back the tables ``state_tables`` returned when the stage was saved."""
        if tables:
            raise self.error(f"got {len(tables)} saved table(s), but this stage holds none")

    # Composite stages (pipelines, graphs) save their stages under ``stages/<i>/`` and how they
    # connect as JSON; ``persist`` calls these three, nothing else needs them.

    def _saved_stages(self) -> list[Stage]:
        return []

    def _saved_layout(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _restore(cls, params: dict[str, Any], layout: dict[str, Any], stages: list[Stage]) -> Self:
        """A new stage from what was saved (its tables are given afterwards)."""
        return cls(**params)


def _on_tables_engine(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` run where its tables are (see ``Stage``)."""

    @functools.wraps(method)
    def run(self: Stage, *tables: Any) -> Any:
        given = [t for t in tables if isinstance(t, Table)]
        if any(t.engine == "flink" for t in given):
            from aiflow.ml.flink.engine import run as run_on_flink

            same_engine(given, self.stage_name)  # no mixing engines in one call

            return run_on_flink(self, method, tables)
        return method(self, *tables)

    run._runs_on_its_engine = True  # type: ignore[attr-defined]
    return run


class AlgoOperator(Stage):
    """A stage computing output tables from input tables."""

    @abstractmethod
    def transform(self, *tables: Table) -> list[Table]:
        """The output tables (new ones: inputs are never changed)."""


class Transformer(AlgoOperator):
    """An AlgoOperator mapping each input row to an output row (adding columns, say)."""


class Model(Transformer):
    """A Transformer whose behaviour comes from model data (tables), usually set by ``fit``."""

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._model_data: list[Table] | None = None

    def set_model_data(self, *tables: Table) -> Self:
        """Use ``tables`` as the model data; returns ``self``. Subclasses may override to parse
        them (call ``super().set_model_data(*tables)`` first)."""
        if not tables:
            raise self.error("set_model_data needs at least one table")
        self.check_inputs(tables, None, allow_empty=True)
        self._model_data = list(tables)
        return self

    def get_model_data(self) -> list[Table]:
        """The model data tables; an error if none were set."""
        if self._model_data is None:
            raise self.error("no model data: fit an estimator or call set_model_data first")
        return list(self._model_data)

    @property
    def has_model_data(self) -> bool:
        return self._model_data is not None

    def state_tables(self) -> list[Table]:
        return self.get_model_data() if self.has_model_data else []

    def load_state_tables(self, tables: Sequence[Table]) -> None:
        if tables:
            self.set_model_data(*tables)


class Estimator(Stage):
    """A stage that learns a Model from tables."""

    @abstractmethod
    def fit(self, *tables: Table) -> Model:
        """The fitted model (a new one each call)."""


class StartsFromModelData(Stage):
    """An estimator that may start from given model data (``set_initial_model_data``: a
    KMeans from chosen centroids, an online estimator from a batch model). Holds them in
    ``_initial`` and saves them with the stage; subclasses check and store them in their
    ``set_initial_model_data``."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._initial: Table | None = None

    @abstractmethod
    def set_initial_model_data(self, *tables: Table) -> Self:
        """Check ``tables`` and keep them (as ``_initial``) for the next fit."""

    def get_initial_model_data(self) -> list[Table]:
        """The initial model data set (an empty list if none)."""
        return [] if self._initial is None else [self._initial]

    def state_tables(self) -> list[Table]:
        return self.get_initial_model_data()

    def load_state_tables(self, tables: Sequence[Table]) -> None:
        if tables:
            self.set_initial_model_data(*tables)
