"""The engine contract's user code and workflows: what a user writes, and nothing else.

This directory is the workflows' source snapshot (jobs import this file from there), so it
holds only this module. The builders take the directory a test's data lives in and return a
workflow built with the DSL; nothing is built at import, since every job imports this file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import aiflow as af

SCHEMA = {"x": "double", "label": "int", "name": "string"}
MODEL = "contract_mean"


class Enrich(af.Transformer):
    """A pure function of each record, with its output declared (Flink needs the types)."""

    output_schema = {**SCHEMA, "x2": "double"}

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.assign(x2=batch["x"] * 2)


class EnrichUndeclared(af.Transformer):
    """The same function without ``output_schema``: engines must find its types themselves."""

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.assign(x2=batch["x"] * 2)


class Mean(af.Trainer):
    def fit(self, batch: pd.DataFrame, base_model: object = None) -> dict[str, float]:
        return {"mean": float(batch["x"].mean())}


class AboveMean(af.Predictor):
    """Output types undeclared: engines that need them infer them (Flink: from a sample)."""

    def predict(self, batch: pd.DataFrame, model: dict[str, float]) -> pd.DataFrame:
        return batch.assign(prediction=(batch["x"] > model["mean"]).astype("int64"))


class AboveMeanDeclared(AboveMean):
    output_schema = {**SCHEMA, "x2": "double", "prediction": "bigint"}


def points(
    root: Path, tag: str, on_error: str = "fail", dead_letter_uri: str | None = None
) -> af.Example:
    """The input example of one test: ``in.csv`` (batch view) and ``in_stream/`` (stream)."""
    return af.Example(
        f"points_{tag}",
        schema=SCHEMA,
        batch_uri=root / "in.csv",
        stream_uri=root / "in_stream",
        on_error=on_error,
        dead_letter_uri=dead_letter_uri,
    )


def scored(root: Path, tag: str) -> af.Example:
    return af.Example(f"scored_{tag}", batch_uri=root / "out.csv", stream_uri=root / "out_stream")


def training(root: Path) -> af.Workflow:
    """Registers a version of ``MODEL`` (the mean of ``x``) for the scoring workflows."""
    with af.workflow("contract_training") as wf:
        af.train(af.read_example(points(root, "train")), Mean(), model=af.Model(MODEL))
    return wf


def scoring(
    root: Path,
    tag: str,
    predictor: af.Predictor | None = None,
    *,
    on_error: str = "fail",
    dead_letter_uri: str | None = None,
) -> af.Workflow:
    """read -> transform -> predict (the registered model's serving version) -> write: the
    per-record chain, one job on every engine that runs all four. Without a ``predictor``:
    read -> transform -> write, with every output type declared."""
    with af.workflow(f"contract_scoring_{tag}") as wf:
        example = points(root, tag, on_error, dead_letter_uri)
        raw = af.read_example(example, stream={"poll_interval": 0.2})
        data = af.transform(raw, Enrich())
        if predictor is not None:
            data = af.predict(data, af.Model(MODEL), predictor)
        af.write_example(data, scored(root, tag))
    return wf


def across_jobs(root: Path, tag: str) -> af.Workflow:
    """An undeclared transformer's output crosses a job boundary: training is its own job (and
    falls back to another engine where the workflow's engine cannot train), prediction reads
    the transformer's materialized output in the next job."""
    with af.workflow(f"contract_boundary_{tag}") as wf:
        feats = af.transform(af.read_example(points(root, tag)), EnrichUndeclared())
        model = af.train(feats, Mean(), model=af.Model(f"{MODEL}_{tag}"))
        af.write_example(af.predict(feats, model, AboveMean()), scored(root, tag))
    return wf
