"""Workflows shared by the DSL and translator tests, defined at module level as users do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import aiflow as af

COLUMNS = {"x": "double", "y": "double", "label": "int"}


class Scale(af.Transformer):
    output_schema = {"x": "double", "y": "double", "label": "int"}

    def __init__(self, factor: float = 2.0, columns: tuple[str, ...] = ("x", "y")) -> None:
        self.factor, self.columns = factor, list(columns)

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = batch.copy()
        out[self.columns] = out[self.columns] * self.factor
        return out


class DropY(af.Transformer):
    output_schema = {"x": "double", "label": "int"}

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.drop(columns=["y"])


class NeedsY(af.Trainer):
    input_schema = {"x": "double", "y": "double"}

    def fit(self, batch: pd.DataFrame, base_model=None):  # type: ignore[no-untyped-def]
        return None


class NeedsStringX(af.Trainer):
    input_schema = {"x": "string"}


class Majority(af.Trainer):
    def fit(self, batch: pd.DataFrame, base_model=None):  # type: ignore[no-untyped-def]
        return int(batch["label"].mode()[0])


class Acc(af.Evaluator):
    def evaluate(self, batch: pd.DataFrame, model) -> dict[str, float]:  # type: ignore[no-untyped-def]
        return {"accuracy": float((batch["label"] == model).mean())}


def example(tmp: Path, name: str = "points") -> af.Example:
    (tmp / "stream").mkdir(parents=True, exist_ok=True)
    csv = tmp / f"{name}.csv"
    if not csv.exists():
        pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0], "label": [0, 1]}).to_csv(csv, index=False)
    return af.Example(name, schema=COLUMNS, batch_uri=csv, stream_uri=tmp / "stream", format="csv")


def build_ml(tmp: Path, factor: float = 2.0, name: str = "ml") -> af.Workflow:
    src = example(tmp)
    with af.workflow(name) as wf:
        raw = af.read_example(src, batch={"limit": 10}, stream={"poll_interval": 0.1})
        feats = af.transform(raw, Scale(factor=factor))
        model = af.train(feats, Majority(), model=af.Model("majority"))
        af.evaluate(feats, model, Acc())
        preds = af.predict(feats, model)
        af.write_example(preds, af.Example("preds", batch_uri=tmp / "out.csv"))
    return wf
