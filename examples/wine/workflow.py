"""Wine classifier: one file, trained offline (batch) and online (stream).

aiflow run examples/wine/workflow.py                  # batch: train, evaluate, predict
aiflow run examples/wine/workflow.py --mode stream    # online: learn from and predict on
                                                      # every file dropped in data/wine_stream/
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
    """Scaler + logistic SGD. Offline it fits from scratch; online it continues the base model
    with ``partial_fit`` on each micro-batch (the scaler stays as learned offline)."""

    def __init__(self, alpha: float = 1e-3, seed: int = 0) -> None:
        self.alpha, self.seed = alpha, seed

    def fit(self, batch: pd.DataFrame, base_model=None):
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = batch.drop(columns=["label"]), batch["label"]
        if base_model is None:
            clf = SGDClassifier(loss="log_loss", alpha=self.alpha, random_state=self.seed)
            return make_pipeline(StandardScaler(), clf).fit(x, y)
        model = copy.deepcopy(base_model)
        scaler, clf = model[0], model[-1]
        clf.partial_fit(scaler.transform(x), y)
        return model


class Accuracy(af.Evaluator):
    def evaluate(self, batch: pd.DataFrame, model) -> dict[str, float]:
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
