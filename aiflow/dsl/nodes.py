"""The node functions of the DSL (``af.read_example``, ``af.train``, ``af.predict``, ...) and
the helpers that build a node, shared by the lifecycle and SQL nodes.

Each DSL call checks what it can at once (the input belongs to this workflow, the declared
schemas fit, parameters are JSON) so the error points at the line that caused it.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable
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
from aiflow.dsl.example import Example, Model
from aiflow.errors import InvalidPlan
from aiflow.plan.model import (
    ComponentRef,
    ControlEdge,
    Node,
    NodeKind,
)
from aiflow.plan.properties import check_properties
from aiflow.plan.schema import normalize_columns, type_feeds

if TYPE_CHECKING:
    from aiflow.ml.api import AlgoOperator, Estimator

from aiflow.dsl.workflow import DataRef, ModelRef, NodeRef, Workflow, _current, _wf


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
    return _module_ref_of(str(obj.__module__), module_file, None if source is None else str(source))


@functools.lru_cache(maxsize=256)
def _module_ref_of(module: str, module_file: str | None, source: str | None) -> str:
    # a 100,000-node workflow asks this for every node: resolve and compare each file once
    # (keyed by strings: comparing Path keys on every hit cost more than the lookup saved)
    if (
        source is not None
        and module_file is not None
        and Path(module_file).resolve() == Path(source)
    ):
        return f"file:{Path(source).name}"
    return module


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
    # Per-deployer options of the node's job, by deployer name: ``{"kubernetes": {"image":
    # ..., "resources": ...}}``; a run checks those of its own deployer before anything starts.
    deploy: dict[str, dict[str, Any]]


_OPTION_NAMES = frozenset(NodeOptions.__annotations__)


def _new_node(wf: Workflow, kind: NodeKind, default_id: str, opts: NodeOptions) -> dict[str, Any]:
    """The id and the common fields of a new node, validated."""
    unknown = opts.keys() - _OPTION_NAMES
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
    if props:  # (a node without properties has nothing to check; building one to say so
        # cost more than the rest of the node at 100,000 nodes)
        check_properties(Node.model_construct(id=node_id, kind=kind, properties=props))
    retries, retry_delay = opts.get("retries", 0), opts.get("retry_delay", 0.0)
    timeout = opts.get("timeout")
    if retries < 0 or retry_delay < 0 or (timeout is not None and timeout <= 0):
        raise InvalidPlan("retries and retry_delay must be >= 0 and timeout > 0", node_id)
    deploy = _deploy_options(opts.get("deploy"), node_id)
    return {
        "id": node_id,
        "kind": kind,
        "engine": opts.get("engine"),
        "properties": props,
        "retries": retries,
        "retry_delay": retry_delay,
        "timeout": timeout,
        "deploy": deploy,
    }


_DEPLOYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def _deploy_options(value: object, node_id: str) -> dict[str, dict[str, Any]]:
    """``deploy=`` as plain JSON, by deployer name; empty option sets are dropped, so
    ``deploy={"kubernetes": {}}`` records (and hashes) the same plan as no option. What the
    options mean is each deployer's to check, when a run uses it (``Deployer.check_overrides``).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPlan(
            f"deploy= must map deployer names to options, e.g. "
            f"deploy={{'kubernetes': {{'image': '...'}}}}; got {type(value).__name__}",
            node_id,
        )
    out: dict[str, dict[str, Any]] = {}
    for name, options in value.items():
        if not isinstance(name, str) or not _DEPLOYER_NAME.match(name):
            raise InvalidPlan(f"deploy= key {name!r} is not a deployer name", node_id)
        if not isinstance(options, dict):
            raise InvalidPlan(
                f"deploy['{name}'] must be a dict of options, got {type(options).__name__}",
                node_id,
            )
        if options:
            out[name] = to_json_value(options, f"node '{node_id}' deploy['{name}']")
    return out


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


@functools.lru_cache(maxsize=1024)
def _snake(name: str) -> str:
    # (a class name per node: a regular expression per node was 5% of a 100,000-node build)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
