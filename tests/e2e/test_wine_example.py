"""The shipped wine example's ML, in-process: what it reports is measured on held-out records."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from aiflow.translators.usercode import WORKFLOW_MODULE, load_workflow_file


def test_accuracy_is_measured_on_records_the_model_did_not_train_on(
    wine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, WORKFLOW_MODULE, raising=False)
    example = load_workflow_file(wine)
    features = example.AddRatios().transform(pd.read_csv(wine.parent / "data" / "wine.csv"))
    held = example.held_out(features)
    assert 0.1 < held.mean() < 0.3  # about a fifth, fixed by content
    assert held.equals(example.held_out(features.iloc[::-1]).iloc[::-1])  # not by position

    model = example.TrainSGD().fit(features)
    assert model[0].n_samples_seen_ == (~held).sum()  # the held-out records were not used
    metrics = example.Accuracy().evaluate(features, model)
    assert metrics["rows"] == held.sum()
    assert 0.9 < metrics["accuracy"] < 1.0  # sensible, and not the 1.0 of the training data
