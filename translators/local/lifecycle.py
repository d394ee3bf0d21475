"""Local-engine validate and push: the model lifecycle nodes (``af.validate``, ``af.push``).

Validate decides on one version at a time. In a batch run that is the version its train node
just registered (or the newest ``generated`` one, for a validate of a stored ``af.Model``). In
a stream run the validate node *drives* its job: each new version training registers is a
micro-batch, taken in version order, and committed in the stream ledger only after the push
that follows it in the same pass, so a crash between the decision and the push replays the
version, and the replay finds the decision already recorded (its stage) instead of making
another one.

A decision evaluates the candidate and the version deployed at that moment on the same
hold-out records (the hold-out is read once per job and reused), records the candidate's
metrics, and sets its stage with the reason and the metrics of both: ``validated`` (and alias
``validated``) or ``rejected``. Push then runs the user's ``Pusher`` and moves the alias; a
pusher that raises marks the version ``failed`` and leaves the alias where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from aiflow.dsl.events import current_event
from aiflow.errors import InvalidPlan, NotFound, UserCodeError
from aiflow.plan.model import Node, NodeKind
from aiflow.plan.properties import PushSettings, ValidateSettings
from aiflow.translators.engine import register_operator
from aiflow.translators.local.engine import ENGINE, BatchInfo, MicroBatch
from aiflow.translators.local.ml import UserComponentNode, load_version, metrics_of

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.schemas.entities import ModelVersion

log = logging.getLogger("aiflow.runtime")

VALIDATED: Final = "validated"
REJECTED: Final = "rejected"
FAILED: Final = "failed"
# stages of a version that was decided on already (a replay reuses the decision)
_PASSED = ("validated", "deployed", "retired")
_PENDING = ("generated", "validated")  # what a stream validate may still have to act on
_PAGE: Final = 100
DECISION_COLUMNS: Final = (
    "model",
    "version",
    "outcome",
    "metric",
    "value",
    "baseline_version",
    "baseline_value",
    "reason",
)


@register_operator(NodeKind.VALIDATE, ENGINE)
class Validate(UserComponentNode):
    properties = frozenset(ValidateSettings.model_fields)

    @classmethod
    def check(cls, node: Node, mode: str) -> None:
        if not node.props(mode).get("metric"):
            raise InvalidPlan("a validate node needs a metric (af.validate(metric=...))", node.id)

    def open(self) -> None:
        super().open()
        self.settings = ValidateSettings.model_validate(self.node.props(self.ctx.mode))
        assert self.node.model is not None
        self.model_name: str = self.node.model
        self.source = self.ctx.spec.model_sources.get(self.node.id)
        self.candidate: ModelVersion | None = None
        self._baselines: dict[int, float | None] = {}  # version id -> its metric on the hold-out

    # -- stream: new versions drive the job ---------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.ctx.mode == "stream"

    def micro_batches(self) -> Iterator[MicroBatch]:
        import pandas as pd

        consumer = self.ctx.stream_consumer(self.node)
        done = self.ctx.store.consumed_files(consumer)
        handed_out: set[str] = set()
        poll = self.ctx.settings.stream.poll_interval
        while not self.ctx.stop.is_set():
            fresh = [
                v
                for v in self._recent_versions()
                if v.stage in _PENDING
                and (self.source is None or v.node_id == self.source)
                and _key(v) not in done
                and _key(v) not in handed_out
            ]
            for version in sorted(fresh, key=lambda v: v.version):
                if self.ctx.stop.is_set():
                    return
                key = _key(version)
                handed_out.add(key)
                self.candidate = version

                def commit(key: str = key) -> None:
                    self.ctx.store.mark_consumed(consumer, key)
                    done.add(key)

                yield MicroBatch(id=key, frame=pd.DataFrame(), commit=commit)
            if not fresh:
                self.ctx.stop.wait(poll)

    def _recent_versions(self) -> list[ModelVersion]:
        try:
            return self.ctx.store.page_model_versions(self.model_name, limit=_PAGE)
        except NotFound:  # the model appears with training's first version
            return []

    # -- a decision ---------------------------------------------------------------------------

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        import pandas as pd

        candidate = self.candidate if self.streaming else self._batch_candidate()
        assert candidate is not None
        decision = self.decide(candidate, inputs[0])
        self.ctx.result.decisions.append(decision)
        return pd.DataFrame([decision], columns=list(DECISION_COLUMNS))

    def _batch_candidate(self) -> ModelVersion:
        store, name = self.ctx.store, self.model_name
        event = current_event()
        if event is not None and event.key == name and event.value.isdigit():
            # started by a rule on a model version event: that version is the candidate
            return store.get_model_version(name, int(event.value))
        if self.source is not None:
            found = store.latest_model_version(
                name, execution_id=self.ctx.execution.id, node_id=self.source
            )
            where = f"train node '{self.source}' registered no version in this execution"
        else:
            generated = [v for v in self._recent_versions() if v.stage == "generated"]
            found = generated[0] if generated else None
            where = "it has no version waiting for validation (stage generated)"
        if found is None:
            raise NotFound(f"node '{self.node.id}': model '{name}': {where}")
        return found

    def decide(self, candidate: ModelVersion, holdout: pd.DataFrame) -> dict[str, Any]:
        """Score ``candidate`` (and the deployed version) on ``holdout``; record the outcome."""
        metric = self.settings.metric
        assert metric is not None
        decision: dict[str, Any] = {
            "model": self.model_name,
            "version": candidate.version,
            "metric": metric,
            "value": candidate.metrics.get(metric),
            "baseline_version": None,
            "baseline_value": None,
        }
        if candidate.stage in (*_PASSED, REJECTED, FAILED):  # decided before a crash: reuse
            outcome = VALIDATED if candidate.stage in _PASSED else candidate.stage
            return {**decision, "outcome": outcome, "reason": "decided before (replayed)"}
        model = load_version(self.ctx, candidate, self.node.id)
        if model is None:
            return {**decision, "outcome": FAILED, "reason": "its artifact did not load"}
        metrics = self._score(model, holdout)
        self.ctx.store.log_metrics(
            metrics,
            model_version_id=candidate.id,
            execution_id=self.ctx.execution.id,
            job_id=self.ctx.job.id,
        )
        value = metrics[metric]
        baseline = self._baseline(candidate, holdout)
        passed, reason = self._judge(value, baseline)
        evidence = dict(metrics)
        if baseline is not None:
            evidence[f"deployed.{metric}"] = baseline[1]
        outcome = VALIDATED if passed else REJECTED
        actor = f"job:{self.ctx.job.id}"
        store = self.ctx.store
        store.set_model_version_stage(
            self.model_name,
            candidate.version,
            outcome,
            reason=reason,
            metrics=evidence,
            actor=actor,
        )
        if passed:
            store.promote_model_version(
                self.model_name,
                candidate.version,
                alias=VALIDATED,
                reason=reason,
                metrics=evidence,
                actor=actor,
            )
        self.ctx.result.metrics[self.node.id] = {**metrics, "model_version": candidate.version}
        return {
            **decision,
            "value": value,
            "baseline_version": baseline[0] if baseline else None,
            "baseline_value": baseline[1] if baseline else None,
            "outcome": outcome,
            "reason": reason,
        }

    def _score(self, model: Any, holdout: pd.DataFrame) -> dict[str, float]:
        if holdout.empty:
            raise UserCodeError("the hold-out has no records to validate on", self.node.id)
        try:
            metrics = metrics_of(self.user.evaluate(holdout, model), self.node.id)
        except UserCodeError:
            raise
        except Exception as exc:
            raise UserCodeError(f"{type(exc).__name__}: {exc}", self.node.id) from exc
        metric = self.settings.metric
        if metric not in metrics:
            raise UserCodeError(
                f"evaluate() returned no metric '{metric}' (it returned {sorted(metrics)}); "
                f"af.validate(metric='{metric}') decides on it",
                self.node.id,
            )
        return metrics

    def _baseline(self, candidate: ModelVersion, holdout: pd.DataFrame) -> tuple[int, float] | None:
        """(version, metric) of the version deployed now, scored on the same hold-out."""
        if self.settings.better_than != "deployed":
            return None
        deployed = self.ctx.store.get_model_version_by_alias(self.model_name, "deployed")
        if deployed is None or deployed.id == candidate.id:
            return None
        if deployed.id not in self._baselines:
            model = load_version(self.ctx, deployed, self.node.id)
            value = None
            if model is not None:
                value = self._score(model, holdout)[str(self.settings.metric)]
            self._baselines[deployed.id] = value
        value = self._baselines[deployed.id]
        return None if value is None else (deployed.version, value)

    def _judge(self, value: float, baseline: tuple[int, float] | None) -> tuple[bool, str]:
        s = self.settings
        higher = s.mode == "max"
        parts = []
        passed = True
        if s.threshold is not None:
            ok = value >= s.threshold if higher else value <= s.threshold
            sign = (">=" if higher else "<=") if ok else ("<" if higher else ">")
            parts.append(f"{s.metric} {value:.6g} {sign} threshold {s.threshold:.6g}")
            passed = passed and ok
        if baseline is not None:
            version, base = baseline
            bound = base + s.min_delta if higher else base - s.min_delta
            ok = value > bound if higher else value < bound
            sign = (">" if higher else "<") if ok else ("<=" if higher else ">=")
            delta = f" + {s.min_delta:.6g}" if higher else f" - {s.min_delta:.6g}"
            parts.append(
                f"{s.metric} {value:.6g} {sign} {base:.6g}{delta if s.min_delta else ''} "
                f"of deployed version {version}"
            )
            passed = passed and ok
        elif s.better_than == "deployed":
            parts.append(f"{s.metric} {value:.6g}; no version deployed yet")
        return passed, "; ".join(parts)


@register_operator(NodeKind.PUSH, ENGINE)
class Push(UserComponentNode):
    properties = frozenset(PushSettings.model_fields)

    def open(self) -> None:
        if self.node.component is not None:
            super().open()
        self.alias = PushSettings.model_validate(self.node.props(self.ctx.mode)).alias
        assert self.node.model is not None
        self.model_name: str = self.node.model

    def process(self, inputs: list[pd.DataFrame], batch: BatchInfo) -> pd.DataFrame | None:
        for decision in inputs[0].to_dict("records"):
            if decision["outcome"] == VALIDATED:
                self.push(int(decision["version"]), str(decision["reason"]))
        return None

    def push(self, number: int, reason: str) -> None:
        store, actor = self.ctx.store, f"job:{self.ctx.job.id}"
        version = store.get_model_version(self.model_name, number)
        if self.alias in version.aliases or version.stage == FAILED:
            return  # pushed before a crash, or failed since: nothing to do
        if self.user is not None:
            try:
                self.user.push(version)
            except Exception as exc:
                why = f"push failed: {type(exc).__name__}: {exc}"
                log.error(
                    "node '%s': %s version %s: %s", self.node.id, version.model_name, number, why
                )
                store.mark_model_version_failed(self.model_name, number, reason=why, actor=actor)
                self.ctx.result.pushes.append({"version": number, "pushed": False, "error": why})
                return
        store.promote_model_version(
            self.model_name, number, alias=self.alias, reason=reason, actor=actor
        )
        self.ctx.result.pushes.append({"version": number, "pushed": True, "alias": self.alias})


def _key(version: ModelVersion) -> str:
    return f"v{version.version}"
