"""Graphs: a DAG of stages wired by table ids, built into one Estimator, Model or AlgoOperator.

Training logic is often a graph, not a line: two inputs, one model's data feeding another
stage, model data from outside. Flink ML has this only in Java; here it is::

    builder = GraphBuilder()
    data = builder.create_table_id()
    (scaled,) = builder.add_estimator(StandardScaler(...), data)
    (predicted,) = builder.add_estimator(LogisticRegression(...), scaled)
    estimator = builder.build_estimator([data], [predicted])
    model = estimator.fit(t)          # a GraphModel: the same graph, estimators replaced by models
    (out,) = model.transform(t)

Model-data wiring, as in Flink ML: ``get_model_data_from_estimator(est)`` gives ids of the
model data of ``est``'s fitted model (``get_model_data_from_model`` for a model); when the graph
runs as an Estimator (``fit``), ``set_model_data_on_estimator(stage, *ids)`` gives ``stage``
(its fitted model, for an estimator) those tables as model data; when it runs as a Model or
AlgoOperator, ``set_model_data_on_model(stage, *ids)`` does. ``build_estimator`` /
``build_model`` take ``input_model_data`` (ids fed by the built model's ``set_model_data``) and
``output_model_data`` (ids its ``get_model_data`` returns).

Evaluation is on demand: a table is computed when something needs it, so ``fit`` fits every
estimator but transforms only what later estimators consume, and ``get_model_data`` runs no
data through the graph. A stage's output count is unknown before it runs: ``add_*`` take
``num_outputs`` (default 1). Saved like pipelines, plus the wiring as ``layout``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

from aiflow.errors import MLError
from aiflow.ml.api import AlgoOperator, Estimator, Model, Stage
from aiflow.ml.table import Table

Ids = tuple["TableId", ...]


@dataclass(frozen=True)
class TableId:
    """A placeholder for a table flowing through a graph."""

    index: int


@dataclass(frozen=True)
class _Node:
    stage: Stage
    inputs: Ids
    outputs: Ids
    estimator_model_data: Ids | None = None  # model data when the graph runs as an Estimator
    model_model_data: Ids | None = None  # ... as a Model or AlgoOperator
    model_data_outputs: Ids | None = None  # ids of its (fitted) model's get_model_data()


_WIRING = ("inputs", "outputs", "estimator_model_data", "model_model_data", "model_data_outputs")
_ENDS = ("inputs", "outputs", "input_model_data", "output_model_data")


@dataclass(frozen=True)
class _Graph:
    nodes: tuple[_Node, ...]
    inputs: Ids
    outputs: Ids
    input_model_data: Ids | None = None
    output_model_data: Ids | None = None

    def layout(self) -> dict[str, Any]:
        def ids(value: Ids | None) -> list[int] | None:
            return None if value is None else [t.index for t in value]

        nodes = [{k: ids(getattr(n, k)) for k in _WIRING} for n in self.nodes]
        return {"nodes": nodes, **{k: ids(getattr(self, k)) for k in _ENDS}}

    @staticmethod
    def from_layout(layout: dict[str, Any], stages: list[Stage]) -> _Graph:
        def ids(value: Any) -> Ids | None:
            return None if value is None else tuple(TableId(int(i)) for i in value)

        try:
            if len(layout["nodes"]) != len(stages):
                raise MLError(f"layout has {len(layout['nodes'])} nodes for {len(stages)} stages")
            nodes = tuple(
                _Node(
                    stage,
                    *(ids(node.get(k)) or () for k in _WIRING[:2]),
                    *(ids(node.get(k)) for k in _WIRING[2:]),
                )
                for stage, node in zip(stages, layout["nodes"], strict=True)
            )
            return _Graph(
                nodes,
                ids(layout["inputs"]) or (),
                ids(layout["outputs"]) or (),
                ids(layout.get("input_model_data")),
                ids(layout.get("output_model_data")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MLError(f"the graph layout cannot be read ({exc!r})") from None


class GraphBuilder:
    """Builds graphs of stages (see the module docstring)."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._nodes: list[_Node] = []

    def create_table_id(self) -> TableId:
        return TableId(next(self._ids))

    def add_algo_operator(
        self, op: AlgoOperator, *inputs: TableId, num_outputs: int = 1
    ) -> list[TableId]:
        """Ids of the first ``num_outputs`` tables ``op.transform(*inputs)`` returns."""
        return self._add(op, AlgoOperator, inputs, num_outputs)

    def add_estimator(
        self, est: Estimator, *inputs: TableId, num_outputs: int = 1
    ) -> list[TableId]:
        """Ids of the tables ``est.fit(*inputs).transform(*inputs)`` returns (when the graph
        is fitted; its model's, in the fitted graph)."""
        return self._add(est, Estimator, inputs, num_outputs)

    def set_model_data_on_estimator(self, stage: Stage, *ids: TableId) -> None:
        """Give ``stage`` (an estimator's fitted model, or a model) these tables as model data
        when the graph runs as an Estimator."""
        self._wire(stage, "estimator_model_data", ids)

    def set_model_data_on_model(self, stage: Stage, *ids: TableId) -> None:
        """The same, when the graph runs as a Model or AlgoOperator."""
        self._wire(stage, "model_model_data", ids)

    def get_model_data_from_estimator(self, est: Estimator, num_tables: int = 1) -> list[TableId]:
        """Ids of the model data of ``est``'s fitted model."""
        return self._model_data_of(est, Estimator, num_tables)

    def get_model_data_from_model(self, model: Model, num_tables: int = 1) -> list[TableId]:
        """Ids of ``model``'s model data."""
        return self._model_data_of(model, Model, num_tables)

    def build_estimator(
        self,
        inputs: Sequence[TableId],
        outputs: Sequence[TableId],
        input_model_data: Sequence[TableId] | None = None,
        output_model_data: Sequence[TableId] | None = None,
    ) -> GraphEstimator:
        return GraphEstimator(self._graph(inputs, outputs, input_model_data, output_model_data))

    def build_model(
        self,
        inputs: Sequence[TableId],
        outputs: Sequence[TableId],
        input_model_data: Sequence[TableId] | None = None,
        output_model_data: Sequence[TableId] | None = None,
    ) -> GraphModel:
        graph = self._graph(inputs, outputs, input_model_data, output_model_data)
        return GraphModel(_operators_only(graph, "build_model"))

    def build_algo_operator(
        self, inputs: Sequence[TableId], outputs: Sequence[TableId]
    ) -> GraphAlgoOperator:
        graph = _operators_only(self._graph(inputs, outputs, None, None), "build_algo_operator")
        return GraphAlgoOperator(graph)

    # -- internals ------------------------------------------------------------------------------

    def _add(self, stage: Stage, kind: type, inputs: Ids, num_outputs: int) -> list[TableId]:
        _require(stage, kind)
        if any(node.stage is stage for node in self._nodes):
            raise MLError(f"GraphBuilder: this {stage.stage_name} is already in the graph")
        if num_outputs < 0:
            raise MLError(f"GraphBuilder: num_outputs must be >= 0, got {num_outputs}")
        outputs = tuple(self.create_table_id() for _ in range(num_outputs))
        self._nodes.append(_Node(stage, tuple(inputs), outputs))
        return list(outputs)

    def _find(self, stage: Stage) -> int:
        for i, node in enumerate(self._nodes):
            if node.stage is stage:
                return i
        raise MLError(f"GraphBuilder: this {stage.stage_name} was not added to the graph")

    def _wire(self, stage: Stage, field: str, ids: Ids) -> None:
        i = self._find(stage)
        node = self._nodes[i]
        if field == "estimator_model_data":
            self._nodes[i] = replace(node, estimator_model_data=tuple(ids))
        else:
            self._nodes[i] = replace(node, model_model_data=tuple(ids))

    def _model_data_of(self, stage: Stage, kind: type, num_tables: int) -> list[TableId]:
        _require(stage, kind)
        i = self._find(stage)
        ids = tuple(self.create_table_id() for _ in range(num_tables))
        self._nodes[i] = replace(self._nodes[i], model_data_outputs=ids)
        return list(ids)

    def _graph(
        self,
        inputs: Sequence[TableId],
        outputs: Sequence[TableId],
        input_model_data: Sequence[TableId] | None,
        output_model_data: Sequence[TableId] | None,
    ) -> _Graph:
        graph = _Graph(
            tuple(self._nodes),
            tuple(inputs),
            tuple(outputs),
            *(None if ids is None else tuple(ids) for ids in (input_model_data, output_model_data)),
        )
        known = {*graph.inputs, *(graph.input_model_data or ())}
        for node in graph.nodes:
            known.update(node.outputs, node.model_data_outputs or ())
        for node in graph.nodes:
            wired = (node.estimator_model_data or ()) + (node.model_model_data or ())
            for table_id in node.inputs + wired:
                if table_id not in known:
                    raise MLError(
                        f"GraphBuilder: {node.stage.stage_name} reads table id {table_id.index}, "
                        "which is neither a graph input nor any stage's output"
                    )
        for table_id in [*graph.outputs, *(graph.output_model_data or ())]:
            if table_id not in known:
                raise MLError(f"GraphBuilder: output table id {table_id.index} is never produced")
        return graph


def _require(stage: Stage, kind: type) -> None:
    if not isinstance(stage, kind):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise MLError(f"GraphBuilder: {type(stage).__name__} is not {article} {kind.__name__}")


def _operators_only(graph: _Graph, method: str) -> _Graph:
    for node in graph.nodes:
        if isinstance(node.stage, Estimator):
            raise MLError(
                f"GraphBuilder.{method}: {node.stage.stage_name} is an Estimator; "
                "use build_estimator and fit it"
            )
    return graph


class _Run:
    """One evaluation of a graph: tables computed on demand, each stage run at most once."""

    def __init__(
        self, owner: str, graph: _Graph, values: dict[TableId, Table], *, fitting: bool
    ) -> None:
        self.owner = owner  # the graph stage's name, first word of errors about the wiring
        self.graph = graph
        self.values = dict(values)
        self.fitting = fitting
        self.ready: dict[int, AlgoOperator] = {}
        self.busy: set[int] = set()
        self.producer: dict[TableId, int] = {}
        for i, node in enumerate(graph.nodes):
            for table_id in (*node.outputs, *(node.model_data_outputs or ())):
                self.producer[table_id] = i

    def table(self, table_id: TableId) -> Table:
        if table_id in self.values:
            return self.values[table_id]
        if table_id not in self.producer:
            if table_id in (self.graph.input_model_data or ()):
                wanted = len(self.graph.input_model_data or ())
                raise MLError(f"{self.owner}: no model data: call set_model_data({wanted} tables)")
            raise MLError(f"{self.owner}: table id {table_id.index} has no value here")
        i = self.producer[table_id]
        node = self.graph.nodes[i]
        operator = self.operator(i)
        if table_id in node.outputs:
            tables = operator.transform(*self.tables(node.inputs))
            ids = node.outputs
        else:
            tables, ids = self.model(operator).get_model_data(), node.model_data_outputs or ()
        if len(tables) < len(ids):
            raise MLError(
                f"{self.owner}: {operator.stage_name} returned {len(tables)} table(s), "
                f"but {len(ids)} are wired"
            )
        self.values.update(zip(ids, tables, strict=False))
        return self.values[table_id]

    def tables(self, ids: Ids) -> list[Table]:
        return [self.table(table_id) for table_id in ids]

    def operator(self, i: int) -> AlgoOperator:
        """Node ``i``'s stage ready to transform: fitted if an estimator, given its model data."""
        if i in self.ready:
            return self.ready[i]
        node = self.graph.nodes[i]
        if i in self.busy:
            raise MLError(
                f"{self.owner}: {node.stage.stage_name} depends on its own output (a cycle)"
            )
        self.busy.add(i)
        stage = node.stage
        operator = stage.fit(*self.tables(node.inputs)) if isinstance(stage, Estimator) else stage
        assert isinstance(operator, AlgoOperator)  # GraphBuilder._add took only these two
        wired = node.estimator_model_data if self.fitting else node.model_model_data
        if wired is not None:
            self.model(operator).set_model_data(*self.tables(wired))
        self.busy.discard(i)
        self.ready[i] = operator
        return operator

    def model(self, operator: AlgoOperator) -> Model:
        if not isinstance(operator, Model):
            raise MLError(f"{self.owner}: {operator.stage_name} is not a Model: no model data")
        return operator


class _GraphStage(Stage):
    """What the three graph stages share: the graph, saved as stages plus layout."""

    def __init__(self, graph: _Graph) -> None:
        super().__init__()
        self.graph = graph

    @property
    def stages(self) -> list[Stage]:
        return [node.stage for node in self.graph.nodes]

    def _inputs(self, tables: Sequence[Table]) -> dict[TableId, Table]:
        self.check_inputs(tables, len(self.graph.inputs), allow_empty=True)
        return dict(zip(self.graph.inputs, tables, strict=True))

    def _saved_stages(self) -> list[Stage]:
        return self.stages

    def _saved_layout(self) -> dict[str, Any]:
        return self.graph.layout()

    @classmethod
    def _restore(cls, params: dict[str, Any], layout: dict[str, Any], stages: list[Stage]) -> Self:
        return cls(_Graph.from_layout(layout, stages))


class GraphEstimator(_GraphStage, Estimator):
    """A graph with estimators; ``fit`` returns the matching GraphModel."""

    def fit(self, *tables: Table) -> GraphModel:
        run = _Run(self.stage_name, self.graph, self._inputs(tables), fitting=True)
        nodes = tuple(
            replace(node, stage=run.operator(i)) if isinstance(node.stage, Estimator) else node
            for i, node in enumerate(self.graph.nodes)
        )
        return GraphModel(replace(self.graph, nodes=nodes))


class GraphAlgoOperator(_GraphStage, AlgoOperator):
    """A graph of AlgoOperators run as one."""

    def transform(self, *tables: Table) -> list[Table]:
        run = _Run(self.stage_name, self.graph, self._inputs(tables), fitting=False)
        return run.tables(self.graph.outputs)


class GraphModel(_GraphStage, Model):
    """A graph of AlgoOperators and Models, with model data in and out as wired at build."""

    def transform(self, *tables: Table) -> list[Table]:
        run = _Run(
            self.stage_name,
            self.graph,
            {**self._model_inputs(), **self._inputs(tables)},
            fitting=False,
        )
        return run.tables(self.graph.outputs)

    def set_model_data(self, *tables: Table) -> Self:
        wanted = self.graph.input_model_data
        if not wanted or len(tables) != len(wanted):
            raise self.error(
                f"takes {len(wanted or ())} model data table(s) (input_model_data at build), "
                f"got {len(tables)}"
            )
        return super().set_model_data(*tables)

    def get_model_data(self) -> list[Table]:
        if self.graph.output_model_data is None:
            raise self.error("no output_model_data was given at build: it has no model data")
        run = _Run(self.stage_name, self.graph, self._model_inputs(), fitting=False)
        return run.tables(self.graph.output_model_data)

    def _model_inputs(self) -> dict[TableId, Table]:
        if not self.has_model_data:
            return {}
        return dict(zip(self.graph.input_model_data or (), super().get_model_data(), strict=True))

    def state_tables(self) -> list[Table]:
        return super().get_model_data() if self.has_model_data else []
