"""The online-learning example (examples/online_learning/workflow.py) adapted for the chaos
soak (benchmarks/chaos_soak.py), which copies this file into a private project directory with
``data/`` and ``out/`` beside it.

What differs from the example, and why:

* every node has ``retries`` (and a short ``retry_delay``): the soak kills job processes with
  SIGKILL, and a stream job that is not retried ends the execution;
* a smaller training window (``every_records``, from ``CHAOS_WINDOW``): more versions to
  validate, push and switch to while processes die;
* an event-driven job, ``on_deployed`` (``af.action_on_model_version(..., "deployed")``):
  each MODEL_DEPLOYED event of ``ctr`` starts it once, and it appends the event's seq and
  version to ``$CHAOS_EVENTS``, so the soak can check each event fired its rule exactly once.
"""

from __future__ import annotations

import copy
import os

from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

import aiflow as af

SCHEMA = {"f0": "double", "f1": "double", "label": "int", "rid": "bigint"}
FEATURES = ["f0", "f1"]
WINDOW = int(os.environ.get("CHAOS_WINDOW", "200"))
RETRIES, DELAY = 1000, 0.5  # every node: a killed attempt is retried after half a second


class TrainSGD(af.Trainer):
    """Logistic regression by SGD; continues from ``base_model`` (online learning)."""

    def __init__(self, epochs: int = 5) -> None:
        self.epochs = epochs

    def fit(self, batch, base_model=None):  # type: ignore[no-untyped-def]
        if base_model is not None:
            model = copy.deepcopy(base_model)
        else:
            model = SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0)
        for _ in range(self.epochs):
            model.partial_fit(batch[FEATURES], batch["label"], classes=[0, 1])
        return model


class AUC(af.Evaluator):
    def evaluate(self, batch, model):  # type: ignore[no-untyped-def]
        scores = model.predict_proba(batch[FEATURES])[:, 1]
        return {
            "auc": float(roc_auc_score(batch["label"], scores)),
            "accuracy": float(accuracy_score(batch["label"], scores > 0.5)),
        }


def record_deployed() -> None:
    """The rule's job: one line ``<event seq> <version>`` per run, appended atomically (one
    ``write`` of a short line on a file opened for appending)."""
    event = af.current_event()
    line = f"{event.seq} {event.value}\n" if event is not None else "- -\n"
    with open(os.environ["CHAOS_EVENTS"], "a") as out:
        out.write(line)


clicks = af.Example(
    "clicks", schema=SCHEMA, batch_uri="data/history.csv", stream_uri="data/stream/", format="csv"
)
holdout = af.Example("clicks_holdout", schema=SCHEMA, batch_uri="data/holdout.csv", format="csv")

with af.workflow("ctr") as wf:
    raw = af.read_example(clicks, stream={"poll_interval": 0.2}, retries=RETRIES, retry_delay=DELAY)
    model = af.train(
        raw,
        TrainSGD(),
        model=af.Model("ctr"),
        stream={"every_records": WINDOW},
        retries=RETRIES,
        retry_delay=DELAY,
    )
    checked = af.validate(
        model,
        af.read_example(holdout, retries=RETRIES, retry_delay=DELAY),
        AUC(),
        metric="auc",
        better_than="deployed",
        min_delta=0.0,
        retries=RETRIES,
        retry_delay=DELAY,
    )
    af.push(checked, retries=RETRIES, retry_delay=DELAY)
    preds = af.predict(raw, model, retries=RETRIES, retry_delay=DELAY)
    af.write_example(
        preds,
        af.Example(
            "ctr_scores", batch_uri="out/scores.csv", stream_uri="out/scores/", format="csv"
        ),
        retries=RETRIES,
        retry_delay=DELAY,
    )
    on_deployed = af.user_operation(
        record_deployed, name="on_deployed", retries=RETRIES, retry_delay=DELAY
    )
    af.action_on_model_version(on_deployed, model, "deployed")
