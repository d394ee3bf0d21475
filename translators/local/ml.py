"""Local-engine operators that run user ML code: transform, train, evaluate, predict and
user operations.

Model choice is the one place batch and stream differ. A batch run evaluates and predicts with
the version its own train node just registered (reproducible: rerunning gives the same answer
whatever was deployed meanwhile), unless the workflow pushes that model: then it serves what
was pushed. A stream run serves the model's *serving* version (alias ``deployed``, else the
newest usable) and re-checks it every micro-batch, so a newly deployed version takes over
without restarting the job; every output row records the version that made it. Every load
verifies the artifact's checksum; a version that does not load is marked ``failed`` and the
previous one keeps serving.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from aiflow.errors import ArtifactCorrupt, UserCodeError
from aiflow.plan.model import NodeKind
from aiflow.store.artifacts import artifact_checksum, load_model, save_model
from aiflow.translators.engine import register_operator
from aiflow.translators.lineage import batch_lineage, window_lineage
from aiflow.translators.local.engine import ENGINE, BatchInfo, Interrupted, LocalOperator

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.schemas.entities import ModelVersion
    from aiflow.translators.context import JobContext

log = logging.getLogger("aiflow.runtime")


class UserComponentNode(LocalOperator):
    user: Any = None

    def open(self) -> None:
        assert self.node.component is not None
        self.user = self.ctx.code.instantiate(self.node.component, self.node.id)

    def expect_frame(self, value: object, method: str, added: tuple[str, ...] = ()) -> pd.DataFrame:
        """``value`` as the node's output; ``added``: declared columns the operator adds
        itself after the user's code (predict's ``model_version``), not expected from it."""
        import pandas as pd

        if not isinstance(value, pd.DataFrame):
            raise UserCodeError(
                f"{method} returned {type(value).__name__}, expected a pandas DataFrame",
                self.node.id,
            )
        declared = self.node.output_columns
        if declared:
            missing = [c for c in declared if c not in value.columns and c not in added]
            if missing:
                raise UserCodeError(
                    f"{method} output lacks declared column(s) {missing} "
                    f"(got {list(value.columns)})",
                    self.node.id,
                )
        return value


@register_operator(NodeKind.TRANSFORM, ENGINE)
class Transform(UserComponentNode):
    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        return self.expect_frame(self.user.transform(inputs[0]), "transform()")


@register_operator(NodeKind.USER_OPERATION, ENGINE)
class UserOperation(UserComponentNode):
    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        assert self.node.component is not None
        out = self.user(*inputs, **self.node.component.params)
        return None if out is None else self.expect_frame(out, f"{self.user.__name__}()")


@register_operator(NodeKind.TRAIN, ENGINE)
class Train(UserComponentNode):
    """Batch: fit once on the whole input, register one version with the data's lineage.

    Stream: collect micro-batches into a *window* and, when it closes (``every_records``
    records or ``every_seconds`` seconds, else after each micro-batch), fit on the window with
    ``base_model`` = the serving version (``deployed``, else the newest usable one) and register
    a version that records its parent and its window. The window's micro-batches stay
    uncommitted until its version is registered (``holds_commit``), so a crash replays them
    into the next attempt's window: no record is learned from zero times.
    """

    properties = frozenset({"every_records", "every_seconds"})
    _latest: tuple[int, Any] | None = None  # (version id, model) this job last produced

    def open(self) -> None:
        super().open()
        props = self.node.props(self.ctx.mode)
        self.every_records: int | None = props.get("every_records")
        self.every_seconds: float | None = props.get("every_seconds")
        self.window: list[pd.DataFrame] = []
        self.window_ids: list[str] = []
        self.window_started: float | None = None

    def holds_commit(self) -> bool:
        return bool(self.window)

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        frame = inputs[0]
        if self.ctx.mode != "stream":
            if not frame.empty:  # nothing to learn from: no version
                self._register(frame, None, batch_lineage(self.ctx))
            return None
        if not frame.empty:
            self.window.append(frame)
            self.window_ids.append(batch.id or str(batch.index))
            if self.window_started is None:
                self.window_started = time.monotonic()
        if self.window and self._window_closed():
            import pandas as pd

            if not self._registered_before():
                data = self.window[0] if len(self.window) == 1 else pd.concat(self.window)
                source = self.ctx.spec.inputs_of(self.node.id)[0].source.node
                lineage = window_lineage(self.ctx, self.window_ids, len(data), source)
                self._register(data.reset_index(drop=True), self._base(), lineage)
            self.window, self.window_ids, self.window_started = [], [], None
        return None

    def _registered_before(self) -> bool:
        """Whether this window's version exists already: the attempt before crashed between
        registering it and committing the window, which is now replayed whole. The version is
        kept (it may be validated or deployed by now), not registered twice."""
        assert self.node.model is not None
        newest = self.ctx.store.latest_model_version(self.node.model, node_id=self.node.id)
        if newest is None:
            return False
        window = newest.lineage.get("window") or {}
        return bool(window.get("micro_batches") == self.window_ids)

    def _window_closed(self) -> bool:
        if self.every_records is None and self.every_seconds is None:
            return True
        records = sum(len(f) for f in self.window)
        if self.every_records is not None and records >= self.every_records:
            return True
        if self.every_seconds is not None and self.window_started is not None:
            return time.monotonic() - self.window_started >= self.every_seconds
        return False

    def _register(
        self, frame: pd.DataFrame, base: tuple[ModelVersion, Any] | None, lineage: dict[str, Any]
    ) -> None:
        from aiflow.dsl.ml_stage import MLTrainer

        options = {"engine": self._ml_engine()} if isinstance(self.user, MLTrainer) else {}
        model = self.user.fit(frame, base_model=base[1] if base else None, **options)
        if model is None:
            raise UserCodeError("fit() returned None; it must return the model", self.node.id)
        assert self.node.model is not None
        root = self.ctx.settings.artifacts_uri
        try:  # saved whole before anything is registered: a failure leaves no version
            uri, flavor = save_model(model, self.node.model, root)
        except UserCodeError as exc:
            raise UserCodeError(exc.message, self.node.id) from exc
        version = self.ctx.store.register_model_version(
            self.node.model,
            uri,
            flavor,
            execution_id=self.ctx.execution.id,
            job_id=self.ctx.job.id,
            node_id=self.node.id,
            parent_version=base[0].version if base else None,
            checksum=artifact_checksum(uri),
            lineage=lineage,
            actor=f"job:{self.ctx.job.id}",
        )
        self._latest = (version.id, model)
        self.ctx.result.model_versions.append(
            {"model": version.model_name, "version": version.version, "artifact_uri": uri}
        )

    def _ml_engine(self) -> str:
        """Where an aiflow.ml estimator fits: on Flink when the workflow runs on Flink (this
        local job is the Flink engine's fallback for training), else here."""
        spec = self.ctx.spec
        return "flink" if "flink" in (spec.engine, spec.fallback_from) else "local"

    def _base(self) -> tuple[ModelVersion, Any] | None:
        """The version to continue from: the serving one (what is deployed, else the newest
        usable), kept in memory when this job made it, else loaded (and verified)."""
        assert self.node.model is not None
        for _ in range(3):  # a corrupt artifact is marked failed; serving then moves on
            serving = self.ctx.store.serving_version(self.node.model)
            if serving is None:
                return None
            if self._latest is not None and self._latest[0] == serving.id:
                return serving, self._latest[1]
            loaded = load_version(self.ctx, serving, self.node.id)
            if loaded is not None:
                return serving, loaded
        return None


def load_version(ctx: JobContext, version: ModelVersion, node: str) -> Any | None:
    """The version's model, its checksum verified; ``None`` when the artifact is corrupt or
    unloadable, after marking the version ``failed`` (which moves ``deployed`` back to the
    version it replaced, so every predictor falls back to it)."""
    try:
        return load_model(version.artifact_uri, checksum=version.checksum)
    except ArtifactCorrupt as exc:
        log.error("node '%s': %s version %s: %s", node, version.model_name, version.version, exc)
        ctx.store.mark_model_version_failed(
            version.model_name,
            version.version,
            reason=f"node '{node}' could not load it: {exc.message}",
            actor=f"job:{ctx.job.id}",
        )
        return None


class ModelConsumer(UserComponentNode):
    """Shared model resolution and caching for evaluate and predict."""

    _loaded: tuple[ModelVersion, Any] | None = None

    def model(self) -> tuple[ModelVersion, Any] | None:
        """The version to use now and the loaded model, or None when a stream job must wait
        for the first version to appear. A version whose artifact does not load is marked
        failed and the previous one stays in use."""
        if self._loaded is not None and self.ctx.mode == "batch":
            return self._loaded  # a batch job's records, in one call or in chunks: one version
        version = self.ctx.model_version_for(self.node)
        if version is None:
            return None
        if self._loaded is not None and self._loaded[0].id == version.id:
            return self._loaded
        model = load_version(self.ctx, version, self.node.id)
        if model is None:
            if self._loaded is not None:
                return self._loaded  # keep serving what worked
            raise ArtifactCorrupt(
                f"node '{self.node.id}': model '{version.model_name}' version "
                f"{version.version} could not be loaded and no earlier version is in use"
            )
        self._loaded = (version, model)
        return self._loaded

    def wait_for_model(self) -> tuple[ModelVersion, Any]:
        """Stream jobs start together; the serving side waits for training's first version
        (the micro-batch stays uncommitted if the job is stopped meanwhile)."""
        poll = self.ctx.settings.stream.poll_interval
        while True:
            found = self.model()
            if found is not None:
                return found
            if self.ctx.stop.is_set():
                raise Interrupted
            self.ctx.stop.wait(poll)


@register_operator(NodeKind.EVALUATE, ENGINE)
class Evaluate(ModelConsumer):
    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        if inputs[0].empty:
            return None
        version, model = self.wait_for_model()
        raw = self.user.evaluate(inputs[0], model)
        metrics = metrics_of(raw, self.node.id)
        self.ctx.store.log_metrics(
            metrics,
            model_version_id=version.id,
            execution_id=self.ctx.execution.id,
            job_id=self.ctx.job.id,
            step=batch.index if batch.id is not None else None,
        )
        self.ctx.result.metrics[self.node.id] = {**metrics, "model_version": version.version}
        return None


@register_operator(NodeKind.PREDICT, ENGINE)
class Predict(ModelConsumer):
    # re-checked every micro-batch: never staler than a model_refresh asks
    properties = frozenset({"model_refresh"})

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        version, model = self.wait_for_model()
        out = self.expect_frame(
            self.user.predict(inputs[0], model), "predict()", added=("model_version",)
        )
        if len(out) != len(inputs[0]):
            raise UserCodeError(
                f"predict() returned {len(out)} rows for {len(inputs[0])} input rows; "
                "a predictor must keep every record",
                self.node.id,
            )
        # a shallow copy: the user's frame keeps its columns, and no record is copied (a deep
        # copy of 1M rows is ~10x the time the default predictor takes)
        out = out.copy(deep=False)
        out["model_version"] = version.version
        return out


def metrics_of(raw: object, node: str) -> dict[str, float]:
    """An evaluator's result as metrics, or ``UserCodeError`` naming the node."""
    if not isinstance(raw, dict):
        raise UserCodeError(
            f"evaluate() returned {type(raw).__name__}, expected dict[str, float]", node
        )
    out: dict[str, float] = {}
    for key, value in raw.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserCodeError(f"metric {key!r} = {value!r} is not a number", node) from None
        if not math.isfinite(number):
            raise UserCodeError(f"metric {key!r} = {number} is not finite", node)
        out[str(key)] = number
    return out
