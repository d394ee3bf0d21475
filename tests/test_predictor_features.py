"""The default predictor hands the model its feature columns as one 2-D block when they share
a number type (a view for scikit-learn, not a gathered copy): the same frame as before —
columns, values, dtypes, index — and the same predictions; other frames go as they did."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import aiflow as af
from aiflow.dsl.components import _one_block


class Recorder:
    """A model that keeps what it was given and predicts the row sums."""

    def __init__(self, names: list[str] | None = None) -> None:
        if names is not None:
            self.feature_names_in_ = np.array(names, dtype=object)
        self.seen: Any = None

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        self.seen = features
        return features.sum(axis=1).to_numpy()


def _batch() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"], index=range(10, 60))
    frame.insert(1, "label", np.arange(50))
    frame["d"] = frame["a"] * 2  # a block of its own
    return frame


def test_fitted_names_come_as_one_block_equal_to_the_selection() -> None:
    batch = _batch()
    model = Recorder(["d", "a", "c"])
    out = af.Predictor().predict(batch, model)
    pd.testing.assert_frame_equal(model.seen, batch[["d", "a", "c"]], check_exact=True)
    assert len(model.seen._mgr.blocks) == 1
    assert np.shares_memory(model.seen.to_numpy(), model.seen._mgr.blocks[0].values)
    assert (out["prediction"] == batch[["d", "a", "c"]].sum(axis=1)).all()
    assert list(out.columns) == [*batch.columns, "prediction"]


def test_mixed_types_go_as_before() -> None:
    batch = _batch()
    model = Recorder()  # no fitted names: every column but the label
    af.Predictor().predict(batch, model)
    pd.testing.assert_frame_equal(model.seen, batch.drop(columns=["label"]), check_exact=True)
    with_label = Recorder()
    af.Predictor(exclude=[]).predict(batch, with_label)  # int and floats: not one type
    pd.testing.assert_frame_equal(with_label.seen, batch, check_exact=True)
    assert _one_block(batch, ["a", "label"]) is None
    assert _one_block(batch, ["a", "missing"]) is None
    assert _one_block(batch.assign(s="x"), ["s"]) is None


def test_a_model_writing_into_its_features_leaves_the_batch_alone() -> None:
    batch = _batch()
    before = batch.copy()

    class Scaler(Recorder):
        def predict(self, features: pd.DataFrame) -> np.ndarray:
            features.loc[:, :] = 0.0
            return np.zeros(len(features))

    af.Predictor().predict(batch, Scaler(["a", "b"]))
    pd.testing.assert_frame_equal(batch, before, check_exact=True)
