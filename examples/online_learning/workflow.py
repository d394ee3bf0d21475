"""Online learning: a base model trained offline, trained further on the stream, each new
version validated on the hold-out against the deployed one and pushed only if it is better;
the predictor switches to each pushed version without restarting.

    aiflow run examples/online_learning/workflow.py --mode batch    # version 1, deployed
    aiflow run examples/online_learning/workflow.py --mode stream   # the loop (Ctrl-C stops)
"""

from __future__ import annotations

import copy

from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

import aiflow as af

SCHEMA = {"f0": "double", "f1": "double", "label": "int", "rid": "bigint"}
FEATURES = ["f0", "f1"]


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


clicks = af.Example(
    "clicks", schema=SCHEMA, batch_uri="data/history.csv", stream_uri="data/stream/", format="csv"
)
holdout = af.Example("clicks_holdout", schema=SCHEMA, batch_uri="data/holdout.csv", format="csv")

with af.workflow("ctr") as wf:
    raw = af.read_example(clicks, stream={"poll_interval": 0.2})
    model = af.train(raw, TrainSGD(), model=af.Model("ctr"), stream={"every_records": 200})
    checked = af.validate(
        model, af.read_example(holdout), AUC(), metric="auc", better_than="deployed", min_delta=0.0
    )
    af.push(checked)
    preds = af.predict(raw, model)
    af.write_example(
        preds,
        af.Example(
            "ctr_scores", batch_uri="out/scores.csv", stream_uri="out/scores/", format="csv"
        ),
    )
