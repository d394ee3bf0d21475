"""Wine classifier: one file, trained offline (batch) and online (stream).

aiflow run examples/wine/workflow.py                  # batch: train, evaluate, predict
aiflow run examples/wine/workflow.py --mode stream    # online: learn from and predict on
                                                      # every file dropped in data/wine_stream/

A fifth of the records is held out: never trained on, and the only ones evaluated, so the
accuracy reported is that of records the model has not seen.
"""

from __future__ import annotations

import copy

import pandas as pd

import aiflow as af

FEATURES = {
    "alcohol": "double",
    "malic_acid": "double",
    "ash": "double",
    "alcalinity_of_ash": "double",
    "magnesium": "double",
    "total_phenols": "double",
    "flavanoids": "double",
    "nonflavanoid_phenols": "double",
    "proanthocyanins": "double",
    "color_intensity": "double",
    "hue": "double",
    "od280_od315": "double",
    "proline": "double",
}

wine = af.Example(
    "wine",
    schema={**FEATURES, "label": "int"},
    batch_uri="data/wine.csv",
    stream_uri="data/wine_stream/",
    format="csv",
)


def held_out(batch: pd.DataFrame) -> pd.Series:
    """Whether each record is kept for evaluation: one hash bucket of five, by the record's
    features rather than its position, so that every engine, every run and every micro-batch
    splits a record the same way (rounded: another engine may parse a value a bit apart)."""
    buckets = pd.util.hash_pandas_object(batch[list(FEATURES)].round(6), index=False) % 5
    return buckets == 2


class AddRatios(af.Transformer):
    """Feature engineering that is a pure function of each record, so batch and stream agree."""

    output_schema = {**FEATURES, "label": "int", "phenol_ratio": "double"}

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = eps

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = batch.copy()
        out["phenol_ratio"] = out["flavanoids"] / (out["total_phenols"] + self.eps)
        return out


class TrainSGD(af.Trainer):
    """Scaler + logistic SGD on the records not held out. Offline it fits from scratch; online
    it continues the base model with ``partial_fit`` on each micro-batch (the scaler stays as
    learned offline)."""

    def __init__(self, alpha: float = 1e-3, seed: int = 0) -> None:
        self.alpha, self.seed = alpha, seed

    def fit(self, batch: pd.DataFrame, base_model=None):
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        batch = batch[~held_out(batch)]
        x, y = batch.drop(columns=["label"]), batch["label"]
        if base_model is None:
            clf = SGDClassifier(loss="log_loss", alpha=self.alpha, random_state=self.seed)
            return make_pipeline(StandardScaler(), clf).fit(x, y)
        if batch.empty:  # a micro-batch of held-out records only: nothing to learn
            return base_model
        model = copy.deepcopy(base_model)
        scaler, clf = model[0], model[-1]
        clf.partial_fit(scaler.transform(x), y)
        return model


class Accuracy(af.Evaluator):
    """Accuracy on the held-out records of the batch (a micro-batch may have none)."""

    def evaluate(self, batch: pd.DataFrame, model) -> dict[str, float]:
        batch = batch[held_out(batch)]
        if batch.empty:
            return {"rows": 0}
        predicted = model.predict(batch.drop(columns=["label"]))
        return {"accuracy": float((predicted == batch["label"]).mean()), "rows": len(batch)}


with af.workflow("wine_sgd") as wf:
    raw = af.read_example(wine, stream={"poll_interval": 0.5})
    feats = af.transform(raw, AddRatios())
    model = af.train(feats, TrainSGD(alpha=1e-3), model=af.Model("wine_sgd"))
    af.evaluate(feats, model, Accuracy())
    preds = af.predict(feats, model)
    af.write_example(
        preds,
        af.Example(
            "wine_preds",
            batch_uri="out/preds.csv",
            stream_uri="out/preds_stream/",
            format="csv",
        ),
    )

if __name__ == "__main__":
    af.run(wf, mode="batch")
