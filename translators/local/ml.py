"""Local-engine operators that run user ML code: transform, train, evaluate, predict and
user operations.

Model choice is the one place batch and stream differ. A batch run evaluates and predicts with
the version its own train node just registered (reproducible: rerunning gives the same answer
whatever was deployed meanwhile). A stream run serves the model's *serving* version (alias
``deployed``, else the newest) and re-checks it every micro-batch, so a newly deployed version
takes over without restarting the job; every output row records the version that made it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from aiflow.errors import UserCodeError
from aiflow.plan.model import NodeKind
from aiflow.store.artifacts import load_model, save_model
from aiflow.translators.engine import register_operator
from aiflow.translators.local.engine import ENGINE, BatchInfo, Interrupted, LocalOperator

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.schemas.entities import ModelVersion


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
    _latest: tuple[int, Any] | None = None  # (version id, model) this job last produced

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        frame = inputs[0]
        if frame.empty:
            return None  # nothing to learn from; an empty micro-batch must not add a version
        base = self._base_model() if self.ctx.mode == "stream" else None
        model = self.user.fit(frame, base_model=base)
        if model is None:
            raise UserCodeError("fit() returned None; it must return the model", self.node.id)
        assert self.node.model is not None
        root = str(self.ctx.settings.artifacts_dir)
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
        )
        self._latest = (version.id, model)
        self.ctx.result.model_versions.append(
            {"model": version.model_name, "version": version.version, "artifact_uri": uri}
        )
        return None

    def _base_model(self) -> Any:
        """The newest version: the one this job just made (kept in memory) or, after a restart
        or when another writer got there first, loaded from the registry."""
        assert self.node.model is not None
        newest = self.ctx.store.latest_model_version(self.node.model)
        if newest is None:
            return None
        if self._latest is not None and self._latest[0] == newest.id:
            return self._latest[1]
        return load_model(newest.artifact_uri)


class ModelConsumer(UserComponentNode):
    """Shared model resolution and caching for evaluate and predict."""

    _loaded: tuple[int, Any] | None = None

    def model(self) -> tuple[ModelVersion, Any] | None:
        """The version to use now and the loaded model, or None when a stream job must wait
        for the first version to appear."""
        version = self.ctx.model_version_for(self.node)
        if version is None:
            return None
        if self._loaded is None or self._loaded[0] != version.id:
            self._loaded = (version.id, load_model(version.artifact_uri))
        return version, self._loaded[1]

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
        metrics = _metrics(raw, self.node.id)
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
        out = out.copy()
        out["model_version"] = version.version
        return out


def _metrics(raw: object, node: str) -> dict[str, float]:
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
