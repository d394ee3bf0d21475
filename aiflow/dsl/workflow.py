"""The workflow builder: ``with af.workflow(name):`` plus the node functions that add to it.

Each DSL call checks what it can at once (the input belongs to this workflow, the declared
schemas fit, parameters are JSON) so the error points at the line that caused it; checks that
need the whole graph (control-edge cycles) run when the ``with`` block ends. Nothing here
touches the meta store: a workflow that fails validation leaves no trace.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from aiflow.dsl.components import (
    Evaluator,
    Predictor,
    Trainer,
    Transformer,
    UserComponent,
    is_ml_stage,
    to_json_value,
)
from aiflow.dsl.example import Example, Model, checked_name
from aiflow.errors import InvalidPlan
from aiflow.plan.model import (
    ActionRule,
    Channel,
    ComponentRef,
    ControlEdge,
    DataEdge,
    LogicalPlan,
    Node,
    NodeKind,
)
from aiflow.plan.properties import check_properties
from aiflow.plan.schema import normalize_columns, type_feeds
from aiflow.plan.validate import check_acyclic

if TYPE_CHECKING:
    from aiflow.ml.api import AlgoOperator, Estimator

_current: contextvars.ContextVar[Workflow | None] = contextvars.ContextVar(
    "aiflow_workflow", default=None
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class NodeRef:
    """A handle on a node of a workflow; pass it to ``af.run_after``."""

    def __init__(self, workflow: Workflow, node_id: str) -> None:
        self.workflow = workflow
        self.node_id = node_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.node_id} of {self.workflow.name}>"


class DataRef(NodeRef):
    """Records flowing out of a node; ``columns`` is what is known of their schema."""

    def __init__(
        self, workflow: Workflow, node_id: str, columns: dict[str, str] | None, port: int = 0
    ) -> None:
        super().__init__(workflow, node_id)
        self.port = port
        self.columns = columns


class ModelRef(NodeRef):
    """The model a ``train`` node produces (a new version of ``model_name`` per run)."""

    def __init__(self, workflow: Workflow, node_id: str, model_name: str) -> None:
        super().__init__(workflow, node_id)
        self.model_name = model_name


class Workflow:
    """A workflow under construction; ``plan`` is its logical plan."""

    def __init__(self, name: str, engine: str = "local", source_file: Path | None = None) -> None:
        checked_name("workflow", name)
        self.name = name
        self.engine = engine
        self.source_file = source_file
        self.nodes: list[Node] = []
        self._ids: set[str] = set()
        self.edges: list[DataEdge] = []
        self.control_edges: list[ControlEdge] = []
        self.actions: list[ActionRule] = []  # af.action_on_* (aiflow.dsl.events)
        self.models: dict[str, Model] = {}

    @property
    def plan(self) -> LogicalPlan:
        return LogicalPlan(
            workflow=self.name,
            engine=self.engine,
            nodes=list(self.nodes),
            edges=list(self.edges),
            control_edges=list(self.control_edges),
            actions=list(self.actions),
        )

    def validate(self) -> None:
        check_acyclic(self.plan)

    # -- building blocks used by the node functions -------------------------------------

    def _node_id(self, wanted: str | None, default: str) -> str:
        taken = self._ids
        if wanted is not None:
            if not _NAME_RE.match(wanted):
                raise InvalidPlan(
                    f"node name {wanted!r} may only use letters, digits, '_', '.', '-'"
                )
            if wanted in taken:
                raise InvalidPlan(f"node name {wanted!r} is used twice in workflow '{self.name}'")
            return wanted
        candidate, n = default, 1
        while candidate in taken:
            n += 1
            candidate = f"{default}_{n}"
        return candidate

    def _add(self, node: Node, inputs: list[tuple[NodeRef, str]]) -> None:
        for port, (ref, kind) in enumerate(inputs):
            source_port = ref.port if isinstance(ref, DataRef) else 0
            self.edges.append(
                DataEdge(
                    source=Channel(node=ref.node_id, port=source_port),
                    target=node.id,
                    target_port=port,
                    kind="model" if kind == "model" else "data",
                )
            )
        self.nodes.append(node)
        self._ids.add(node.id)

    def _own(self, ref: object, node_id: str, what: str) -> None:
        if not isinstance(ref, NodeRef):
            raise InvalidPlan(
                f"{what} must be the output of another node of this workflow, got {ref!r}",
                node_id,
            )
        if ref.workflow is not self:
            raise InvalidPlan(
                f"{what} '{ref.node_id}' is an output of workflow '{ref.workflow.name}', "
                f"not of '{self.name}'",
                node_id,
            )


@contextmanager
def workflow(name: str, engine: str = "local") -> Iterator[Workflow]:
    """Build a workflow: every node function called inside the block adds to it."""
    if _current.get() is not None:
        raise InvalidPlan("af.workflow blocks cannot be nested")
    wf = Workflow(name, engine=engine, source_file=_caller_file())
    token = _current.set(wf)
    try:
        yield wf
    finally:
        _current.reset(token)
    wf.validate()


def _caller_file() -> Path | None:
    """The file of the code that opened the ``with`` block (skipping contextlib's frames)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") not in (__name__, "contextlib"):
            file = frame.f_globals.get("__file__")
            return Path(file).resolve() if file else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _wf(kind: str) -> Workflow:
    wf = _current.get()
    if wf is None:
        raise InvalidPlan(f"af.{kind}() must be called inside `with af.workflow(name):`")
    return wf


def _component_ref(obj: object, node_id: str, expected: type | None) -> ComponentRef:
    cls = obj if inspect.isfunction(obj) else type(obj)
    if expected is not None and not isinstance(obj, expected):
        raise InvalidPlan(
            f"expected an instance of af.{expected.__name__}, got {type(obj).__name__}", node_id
        )
    qualname = getattr(cls, "__qualname__", "")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise InvalidPlan(
            f"{qualname} is defined inside a function; define it at module level so the job "
            "can import it from the source snapshot",
            node_id,
        )
    params = obj.component_params if isinstance(obj, UserComponent) else {}
    return ComponentRef(module=_module_ref(cls), qualname=qualname, params=params)


def _ml_adapter(obj: Any, kind: str, node_id: str) -> Any:
    """An ``aiflow.ml`` stage wrapped in the component that records it; anything else as is."""
    if not is_ml_stage(obj):
        return obj
    from aiflow.dsl.ml_stage import adapter_for

    return adapter_for(obj, kind, node_id)


def _module_ref(obj: Any) -> str:
    """``file:<name>`` for code in the workflow file itself (it may run as ``__main__``);
    the dotted module name for anything importable."""
    module = sys.modules.get(obj.__module__)
    module_file = getattr(module, "__file__", None)
    wf = _current.get()
    source = wf.source_file if wf is not None else None
    if source is not None and module_file is not None and _resolved(module_file) == source:
        return f"file:{source.name}"
    return str(obj.__module__)


@functools.lru_cache(maxsize=256)
def _resolved(path: str) -> Path:
    # a 10,000-node workflow asks this for every node: resolve each module file once
    return Path(path).resolve()


class NodeOptions(TypedDict, total=False):
    """Keyword options every node function accepts."""

    name: str  # the node's id in the plan, the CLI and logs (default: derived from its kind)
    engine: str  # default: the workflow's engine
    # Per-mode properties, checked against what the node kind takes (aiflow.plan.properties)
    batch: dict[str, Any]  # properties that apply in batch mode only
    stream: dict[str, Any]  # properties that apply in stream mode only
    properties: dict[str, Any]  # properties for both modes
    retries: int
    retry_delay: float  # seconds
    timeout: float  # seconds


def _new_node(wf: Workflow, kind: NodeKind, default_id: str, opts: NodeOptions) -> dict[str, Any]:
    """The id and the common fields of a new node, validated."""
    unknown = set(opts) - set(NodeOptions.__annotations__)
    if unknown:
        raise TypeError(
            f"af.{kind.value}() got unexpected option(s) {sorted(unknown)} "
            f"(valid: {', '.join(NodeOptions.__annotations__)})"
        )
    node_id = wf._node_id(opts.get("name"), default_id)
    props: dict[str, dict[str, Any]] = {}
    for mode, key in (("common", "properties"), ("batch", "batch"), ("stream", "stream")):
        values = opts.get(key)
        if values:
            props[mode] = to_json_value(values, f"node '{node_id}' {mode} properties")
    check_properties(Node.model_construct(id=node_id, kind=kind, properties=props))
    retries, retry_delay = opts.get("retries", 0), opts.get("retry_delay", 0.0)
    timeout = opts.get("timeout")
    if retries < 0 or retry_delay < 0 or (timeout is not None and timeout <= 0):
        raise InvalidPlan("retries and retry_delay must be >= 0 and timeout > 0", node_id)
    return {
        "id": node_id,
        "kind": kind,
        "engine": opts.get("engine"),
        "properties": props,
        "retries": retries,
        "retry_delay": retry_delay,
        "timeout": timeout,
    }


def _check_feeds(wf: Workflow, node_id: str, source: DataRef, needs: dict[str, str] | None) -> None:
    if not needs or source.columns is None:
        return
    needs = normalize_columns(needs)
    for column, expected in needs.items():
        found = source.columns.get(column)
        if found is None:
            raise InvalidPlan(
                f"needs column '{column}' ({expected}) but '{source.node_id}' produces only "
                f"{sorted(source.columns)}",
                node_id,
            )
        if not type_feeds(found, expected):
            raise InvalidPlan(
                f"column '{column}': '{source.node_id}' produces {found}, this node expects "
                f"{expected}",
                node_id,
            )


# ---- node functions (the public DSL) ------------------------------------------------------


def read_example(example: Example, **opts: Unpack[NodeOptions]) -> DataRef:
    """Read an example: its batch view in batch mode, its stream view in stream mode."""
    wf = _wf("read_example")
    if not isinstance(example, Example):
        raise InvalidPlan(f"af.read_example needs an af.Example, got {type(example).__name__}")
    common = _new_node(wf, NodeKind.READ_EXAMPLE, f"read_{example.name}", opts)
    wf._add(Node(**common, example=example.spec, output_columns=example.spec.columns), [])
    return DataRef(wf, common["id"], example.spec.columns)


def write_example(data: DataRef, example: Example, **opts: Unpack[NodeOptions]) -> NodeRef:
    """Write records to an example (batch: its batch_uri; stream: part files, see docs)."""
    wf = _wf("write_example")
    if not isinstance(example, Example):
        raise InvalidPlan(f"af.write_example needs an af.Example, got {type(example).__name__}")
    common = _new_node(wf, NodeKind.WRITE_EXAMPLE, f"write_{example.name}", opts)
    node_id = common["id"]
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), example.spec.columns)
    wf._add(Node(**common, example=example.spec), [(data, "data")])
    return NodeRef(wf, node_id)


def transform(
    data: DataRef, transformer: Transformer | AlgoOperator, **opts: Unpack[NodeOptions]
) -> DataRef:
    """Apply a Transformer (or an ``aiflow.ml`` AlgoOperator, ``aiflow.dsl.ml_stage``) to
    every batch (or micro-batch) of ``data``."""
    wf = _wf("transform")
    common = _new_node(wf, NodeKind.TRANSFORM, _snake(type(transformer).__name__), opts)
    node_id = common["id"]
    component: Transformer = _ml_adapter(transformer, "transform", node_id)
    ref = _component_ref(component, node_id, Transformer)
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), component.input_schema)
    out = normalize_columns(component.output_schema) if component.output_schema else None
    wf._add(Node(**common, component=ref, output_columns=out), [(data, "data")])
    return DataRef(wf, node_id, out)


def train(
    data: DataRef,
    trainer: Trainer | Estimator,
    *,
    model: Model | None = None,
    **opts: Unpack[NodeOptions],
) -> ModelRef:
    """Fit a model; each run (each micro-batch in stream mode) registers a new version. An
    ``aiflow.ml`` Estimator or Pipeline is recorded as an adapter (``aiflow.dsl.ml_stage``)."""
    wf = _wf("train")
    model = model or Model(f"{wf.name}.{_snake(type(trainer).__name__)}")
    if not isinstance(model, Model):
        raise InvalidPlan(f"af.train(model=...) needs an af.Model, got {type(model).__name__}")
    common = _new_node(wf, NodeKind.TRAIN, f"train_{model.name}", opts)
    node_id = common["id"]
    component: Trainer = _ml_adapter(trainer, "train", node_id)
    ref = _component_ref(component, node_id, Trainer)
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), component.input_schema)
    wf._add(Node(**common, component=ref, model=model.name), [(data, "data")])
    wf.models[model.name] = model
    return ModelRef(wf, node_id, model.name)


def evaluate(
    data: DataRef, model: ModelRef | Model, evaluator: Evaluator, **opts: Unpack[NodeOptions]
) -> NodeRef:
    """Compute metrics of ``model`` on ``data``; stored on the model version evaluated."""
    wf = _wf("evaluate")
    common = _new_node(wf, NodeKind.EVALUATE, f"evaluate_{_snake(type(evaluator).__name__)}", opts)
    node_id = common["id"]
    ref = _component_ref(evaluator, node_id, Evaluator)
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), evaluator.input_schema)
    model_name, model_inputs = _model_input(wf, node_id, model)
    wf._add(Node(**common, component=ref, model=model_name), [(data, "data"), *model_inputs])
    return NodeRef(wf, node_id)


def predict(
    data: DataRef,
    model: ModelRef | Model,
    predictor: Predictor | None = None,
    **opts: Unpack[NodeOptions],
) -> DataRef:
    """Add a ``prediction`` column (and ``model_version``, the version that made it)."""
    wf = _wf("predict")
    predictor = predictor if predictor is not None else Predictor()
    common = _new_node(wf, NodeKind.PREDICT, "predict", opts)
    node_id = common["id"]
    ref = _component_ref(predictor, node_id, Predictor)
    _check_feeds(wf, node_id, _own_data(wf, data, node_id), predictor.input_schema)
    model_name, model_inputs = _model_input(wf, node_id, model)
    out = None
    if predictor.output_schema is not None:
        out = {**normalize_columns(predictor.output_schema), "model_version": "bigint"}
    wf._add(
        Node(**common, component=ref, model=model_name, output_columns=out),
        [(data, "data"), *model_inputs],
    )
    return DataRef(wf, node_id, out)


def user_operation(
    fn: Callable[..., Any],
    *inputs: DataRef,
    params: dict[str, Any] | None = None,
    output_schema: dict[str, str] | None = None,
    **opts: Unpack[NodeOptions],
) -> DataRef:
    """Run arbitrary user code: ``fn(*batches, **params)`` returning a DataFrame or None."""
    wf = _wf("user_operation")
    if not inspect.isfunction(fn):
        raise InvalidPlan(f"af.user_operation needs a module-level function, got {fn!r}")
    common = _new_node(wf, NodeKind.USER_OPERATION, _snake(fn.__name__), opts)
    node_id = common["id"]
    ref = _component_ref(fn, node_id, None)
    ref = ref.model_copy(update={"params": to_json_value(params or {}, f"node '{node_id}' params")})
    for data in inputs:
        _own_data(wf, data, node_id)
    out = normalize_columns(output_schema) if output_schema else None
    wf._add(
        Node(**common, component=ref, output_columns=out),
        [(data, "data") for data in inputs],
    )
    return DataRef(wf, node_id, out)


def _own_data(wf: Workflow, data: object, node_id: str) -> DataRef:
    wf._own(data, node_id, "input")
    if not isinstance(data, DataRef):
        raise InvalidPlan(
            f"input must be records (the output of read_example, transform, predict or "
            f"user_operation), got {data!r}",
            node_id,
        )
    return data


def _model_input(
    wf: Workflow, node_id: str, model: ModelRef | Model
) -> tuple[str, list[tuple[NodeRef, str]]]:
    if isinstance(model, Model):
        return model.name, []
    wf._own(model, node_id, "model")
    if not isinstance(model, ModelRef):
        raise InvalidPlan(
            f"model must be the output of af.train or an af.Model, got output of '{model.node_id}'",
            node_id,
        )
    return model.model_name, [(model, "model")]


def run_after(node: NodeRef, *upstream: NodeRef) -> None:
    """Control edge: ``node``'s job starts only after the jobs of ``upstream`` end well."""
    wf = _wf("run_after")
    wf._own(node, node.node_id, "node")
    for up in upstream:
        wf._own(up, node.node_id, "upstream")
        wf.control_edges.append(ControlEdge(upstream=up.node_id, downstream=node.node_id))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
