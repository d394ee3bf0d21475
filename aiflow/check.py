"""``aiflow check FILE``: does every engine (local, Flink, ...), in batch and stream mode,
compute the same records from the same input?

The per-record part of a workflow — each output example with the read/transform/predict chain
that feeds it — is copied into a check workflow of its own whose sources are a sample of the
real sources' batch views (the first rows, written to a scratch directory) and whose outputs go
to that directory. The check workflow then runs for real on every path (engine and mode): batch
as one execution, stream by starting it, dropping the sample into the watched directory, and
stopping it once every record came out. Predict nodes serve the model's serving version on every
path, so all four use the same model. Outputs are compared to the first path's, per column.

One more path, ``serve/request``, is the online prediction service (``aiflow serve --workflow
FILE``): each sample record is sent as an instance of a V1 ``:predict`` request to the service
app in this process, through the workflow's chain in front of the predict node, and the
``prediction`` and ``model_version`` it answers are compared with the first path's output.

Training and evaluation are left out on purpose: online training legitimately differs from
offline training (that is what it is for); the promise under test is that the same record gets
the same features and the same prediction wherever it runs. One exception, ``ml-fit/<node>``
(``aiflow.check_ml``): an ``aiflow.ml`` estimator a train node fits must fit the same model on
Flink as locally, when ``flink`` is among the paths' engines.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.errors import InvalidPlan

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from aiflow.dsl.workflow import Workflow
    from aiflow.plan.model import Node
    from aiflow.store.sql_store import MetaStore

_CHAIN_KINDS = ("read_example", "transform", "predict", "write_example")
SERVE_PATH = ("serve", "request")  # aiflow serve --workflow: request/response
_SERVED_COLUMNS = ("prediction", "model_version")


@dataclass
class ColumnDiff:
    column: str
    differing: int  # rows whose values differ (floats: by more than the tolerance)
    max_abs: float | None = None  # floats only


@dataclass
class PathResult:
    engine: str
    mode: str
    rows: dict[str, int] = field(default_factory=dict)  # output -> rows
    diffs: dict[str, list[ColumnDiff]] = field(default_factory=dict)  # output -> columns
    problems: list[str] = field(default_factory=list)  # missing columns, row counts, errors

    @property
    def name(self) -> str:
        return f"{self.engine}/{self.mode}"

    @property
    def ok(self) -> bool:
        return not self.problems and not any(d.differing for ds in self.diffs.values() for d in ds)


def check_workflow(
    wf: Workflow,
    *,
    rows: int = 50,
    paths: tuple[tuple[str, str], ...] | None = None,
    tolerance: float = 1e-9,
    timeout: float = 300.0,
    store: MetaStore | None = None,
) -> list[PathResult]:
    """Run ``wf``'s per-record chains on every path (default: every engine in every mode it
    runs, ``default_paths()``); results compare to ``paths[0]``."""
    from aiflow.config import get_settings
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.engine import load_engine

    store = store or MetaStore()
    paths = paths or default_paths()
    if not any(n.kind.value == "predict" for n in _chain_nodes(wf)):
        paths = tuple(p for p in paths if p != SERVE_PATH)  # nothing to serve
    scratch = Path(tempfile.mkdtemp(prefix=f"aiflow-check-{wf.name}-"))
    check_name = f"{wf.name}.check-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        samples = _write_samples(wf, scratch / "samples", rows)
        results: list[PathResult] = []
        outputs: list[dict[str, pd.DataFrame]] = []
        for engine, mode in paths:
            result = PathResult(engine, mode)
            out_dir = scratch / f"{engine}-{mode}"
            check = _check_workflow(wf, check_name, samples, out_dir)
            try:
                if (engine, mode) == SERVE_PATH:
                    produced = _serve_path(wf, samples, outputs[0] if outputs else {}, store)
                else:
                    produced = _run_path(check, engine, mode, samples, out_dir, timeout, store)
            except Exception as exc:  # one path failing must not hide the others' results
                result.problems.append(f"run failed: {exc}")
                produced = {}
            result.rows = {name: len(frame) for name, frame in produced.items()}
            if outputs and produced:
                _compare(outputs[0], produced, result, tolerance)
            outputs.append(produced)
            results.append(result)
        from aiflow.check_ml import ml_fit_results  # aiflow.ml fits: local vs Flink

        engines = {engine for engine, _ in paths}
        return results + ml_fit_results(wf, engines, rows=rows, tolerance=tolerance)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for engine in {engine for engine, _ in paths if (engine, _) != SERVE_PATH}:
            load_engine(engine).forget_workflow(check_name, get_settings())


def default_paths() -> tuple[tuple[str, str], ...]:
    """Every (engine, mode) that the installed engines run, ``local`` first: the reference;
    then the prediction service."""
    from aiflow.translators.engine import available_engines, load_engine

    engines = sorted(available_engines(), key=lambda name: (name != "local", name))
    paths = tuple((name, mode) for name in engines for mode in load_engine(name).modes)
    return (*paths, SERVE_PATH)


def _serve_path(
    wf: Workflow,
    samples: dict[str, Path],
    reference: dict[str, pd.DataFrame],
    store: MetaStore,
) -> dict[str, pd.DataFrame]:
    """What the service answers for the sample records, as the reference's outputs with the
    served ``prediction`` and ``model_version``: only those two come from the service."""
    from aiflow.serving.app import create_app
    from aiflow.serving.chain import load_chain
    from aiflow.translators import io

    if wf.source_file is None:
        raise InvalidPlan(f"workflow '{wf.name}' has no source file to serve from")
    if not reference:
        raise RuntimeError("the reference path produced nothing to compare with")
    plan = wf.plan
    produced: dict[str, pd.DataFrame] = {}
    for write in (n for n in _chain_nodes(wf) if n.kind.value == "write_example"):
        predict, source = _predict_upstream(plan, write.id)
        if predict is None or write.id not in reference:
            continue  # an output without a prediction is not served
        assert predict.model is not None and source.example is not None
        example = source.example
        records = io.read_example_file(str(samples[source.id]), example.format, example.columns)
        instances = _json_records(records)
        chain = load_chain(wf.source_file, predict.model, predict.id)
        app = create_app(store, predict.model, chain=chain, dev=True)
        app.holder.sync()  # load the version to serve (no watcher: nothing moves meanwhile)
        body = _request(app, f"/v1/models/{predict.model}:predict", {"instances": instances})
        served = reference[write.id].copy()
        served["prediction"] = body["predictions"]
        served["model_version"] = body["model_version"]
        produced[write.id] = served
    return produced


def _request(app: Any, path: str, payload: dict[str, Any]) -> Any:
    """One POST to the service app in this process, through its ASGI interface."""
    import anyio
    import httpx

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, json=payload)

    response = anyio.run(post)
    if response.status_code != 200:
        raise RuntimeError(f"the service answered {response.status_code}: {response.text}")
    return response.json()


def _predict_upstream(plan: Any, node_id: str) -> tuple[Node | None, Node]:
    """The predict node on ``node_id``'s data path (if any) and the read it starts from."""
    predict = None
    node = plan.node(node_id)
    while node.kind.value != "read_example":
        if node.kind.value == "predict" and predict is None:
            predict = node
        node = plan.node(next(e.source.node for e in plan.inputs_of(node.id) if e.kind == "data"))
    return predict, node


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The records as JSON values, exactly (what a client would send): missing as null."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")  # type: ignore[return-value]


# ---- the check workflow --------------------------------------------------------------------


def _chain_nodes(wf: Workflow) -> list[Node]:
    """The nodes on a data path into an output example, when the path is per-record only."""
    plan = wf.plan
    keep: set[str] = set()
    for out in (n for n in plan.nodes if n.kind.value == "write_example"):
        stack, seen, ok = [out.id], set(), True
        while stack:
            node = plan.node(stack.pop())
            if node.id in seen:
                continue
            seen.add(node.id)
            if node.kind.value not in _CHAIN_KINDS:
                ok = False
                break
            stack.extend(e.source.node for e in plan.inputs_of(node.id) if e.kind == "data")
        if ok:
            keep |= seen
    if not keep:
        raise InvalidPlan(
            f"workflow '{wf.name}' has no output fed only by read_example/transform/predict "
            "nodes: nothing per-record to check"
        )
    return [n for n in plan.nodes if n.id in keep]


def _write_samples(wf: Workflow, directory: Path, rows: int) -> dict[str, Path]:
    """The first ``rows`` records of each source's batch view, in the example's format."""
    from aiflow.translators import io

    samples = {}
    for node in _chain_nodes(wf):
        if node.kind.value != "read_example":
            continue
        example = node.example
        assert example is not None
        if not example.batch_uri or example.batch_uri.startswith("kafka://"):
            raise InvalidPlan(
                f"example '{example.name}' has no batch view in files to sample", node.id
            )
        frame = io.read_example_uri(example.batch_uri, example.format, example.columns)
        path = directory / f"{node.id}{io.EXTENSIONS[example.format]}"
        io.write_frame(frame.head(rows), str(path), example.format)
        samples[node.id] = path
    return samples


def _check_workflow(wf: Workflow, name: str, samples: dict[str, Path], out_dir: Path) -> Workflow:
    from aiflow.dsl.workflow import Workflow
    from aiflow.translators import io

    check = Workflow(name, engine="local", source_file=wf.source_file)
    nodes = _chain_nodes(wf)
    ids = {n.id for n in nodes}
    for node in nodes:
        update: dict[str, object] = {"engine": None}
        example = node.example
        if node.kind.value == "read_example" and example is not None:
            update["example"] = example.model_copy(
                update={
                    "batch_uri": str(samples[node.id]),
                    "stream_uri": f"{out_dir / 'in' / node.id}/",
                }
            )
        elif node.kind.value == "write_example" and example is not None:
            ext = io.EXTENSIONS[example.format]
            update["example"] = example.model_copy(
                update={
                    "batch_uri": str(out_dir / f"{node.id}{ext}"),
                    "stream_uri": f"{out_dir / 'stream' / node.id}/",
                }
            )
        check.nodes.append(node.model_copy(update=update))
        check._ids.add(node.id)
    # data edges only: predict serves the model's serving version on every path
    check.edges = [
        e for e in wf.edges if e.kind == "data" and e.target in ids and e.source.node in ids
    ]
    return check


# ---- running one path and reading what it wrote ---------------------------------------------


def _run_path(
    check: Workflow,
    engine: str,
    mode: str,
    samples: dict[str, Path],
    out_dir: Path,
    timeout: float,
    store: MetaStore,
) -> dict[str, pd.DataFrame]:
    from aiflow.scheduler.submit import run_workflow
    from aiflow.translators import io

    writers = [n for n in check.nodes if n.kind.value == "write_example"]
    if mode == "batch":
        run_workflow(check, mode="batch", engine=engine, store=store)
        return {
            n.id: _read(n.example.batch_uri, n.example.format)  # type: ignore[union-attr]
            for n in writers
        }
    expected = sum(
        len(io.read_example_file(str(path), _fmt(check, node), None))
        for node, path in samples.items()
    )
    for node_id in samples:  # stream sources watch their directory from the start
        (out_dir / "in" / node_id).mkdir(parents=True, exist_ok=True)
    execution = run_workflow(
        check, mode="stream", engine=engine, detach=True, progress=None, store=store
    )
    try:
        for node_id, sample in samples.items():
            target = out_dir / "in" / node_id
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f".{sample.name}.tmp"
            shutil.copy(sample, tmp)
            tmp.rename(target / sample.name)  # whole files only, as stream producers must
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = store.get_execution(execution.id)
            if current.status.finished:
                raise RuntimeError(
                    f"execution {execution.id} ended {current.status.value}: {current.error}"
                )
            outputs = {
                n.id: _read(n.example.stream_uri, n.example.format)  # type: ignore[union-attr]
                for n in writers
            }
            if all(len(f) >= expected for f in outputs.values()):
                return outputs
            time.sleep(0.5)
        raise TimeoutError(f"stream outputs incomplete after {timeout:g} s")
    finally:
        from aiflow.deployers import get_deployer
        from aiflow.scheduler.reconcile import request_stop

        request_stop(store, execution.id, get_deployer, wait=60.0)


def _fmt(check: Workflow, node_id: str) -> str:
    node = next(n for n in check.nodes if n.id == node_id)
    assert node.example is not None
    return node.example.format


def _read(uri: str | None, fmt: str) -> pd.DataFrame:
    import os

    import pandas as pd

    from aiflow.translators import io

    assert uri is not None
    if not os.path.exists(uri.rstrip("/")):
        return pd.DataFrame()
    files = io.list_data_files(uri)
    # pandas' own type inference (exact floats), so numbers compare as numbers
    readers: dict[str, Callable[[str], pd.DataFrame]] = {
        "csv": lambda f: pd.read_csv(f, float_precision="round_trip"),
        "json": lambda f: pd.read_json(f, lines=True, precise_float=True),
        "parquet": pd.read_parquet,
    }
    frames = [readers[fmt](f) for f in files]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ---- comparing ------------------------------------------------------------------------------


def _compare(
    reference: dict[str, pd.DataFrame],
    produced: dict[str, pd.DataFrame],
    result: PathResult,
    tolerance: float,
) -> None:
    import pandas as pd

    for name, ref in reference.items():
        got = produced.get(name)
        if got is None:
            result.problems.append(f"{name}: no output")
            continue
        if set(got.columns) != set(ref.columns):
            result.problems.append(
                f"{name}: columns {sorted(got.columns)} instead of {sorted(ref.columns)}"
            )
            continue
        if len(got) != len(ref):
            result.problems.append(f"{name}: {len(got)} rows instead of {len(ref)}")
            continue
        columns = list(ref.columns)
        # stream parts arrive in any order: compare as sorted sets of records
        a = ref.sort_values(columns, kind="stable").reset_index(drop=True)
        b = got[columns].sort_values(columns, kind="stable").reset_index(drop=True)
        diffs = []
        for column in columns:
            x, y = a[column], b[column]
            if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
                delta = (pd.to_numeric(x) - pd.to_numeric(y)).abs()
                bad = int((delta > tolerance).sum()) + int((x.isna() != y.isna()).sum())
                diffs.append(ColumnDiff(column, bad, float(delta.max()) if len(delta) else 0.0))
            else:
                diffs.append(ColumnDiff(column, int((x.astype(str) != y.astype(str)).sum())))
        result.diffs[name] = diffs
