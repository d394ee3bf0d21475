"""A seeded click-through stream whose decision boundary drifts, so models trained online
really beat the one trained offline (no downloads, no randomness between runs).

A record is two features and a click: ``label = 1`` when the point lies on the positive side
of a line through the origin whose angle turns from 0 (the history) towards ``FINAL_ANGLE``
(where the stream ends up), with a little label noise. ``holdout.csv`` is labelled at the final
angle: the recent, trusted data every new version is validated on.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

FINAL_ANGLE = math.pi / 2  # 90 degrees: the offline model is no better than a coin at the end
NOISE = 0.05  # share of labels flipped


def clicks(n: int, angle: float, first_rid: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f0, f1 = rng.normal(size=n), rng.normal(size=n)
    label = (f0 * math.cos(angle) + f1 * math.sin(angle) > 0).astype(int)
    flip = rng.random(n) < NOISE
    label = np.where(flip, 1 - label, label)
    return pd.DataFrame(
        {
            "f0": f0.round(6),
            "f1": f1.round(6),
            "label": label,
            "rid": range(first_rid, first_rid + n),
        }
    )


def write_history(data: Path, n: int = 2000) -> None:
    data.mkdir(parents=True, exist_ok=True)
    clicks(n, 0.0, 0, seed=1).to_csv(data / "history.csv", index=False)
    clicks(1000, FINAL_ANGLE, 1_000_000, seed=2).to_csv(data / "holdout.csv", index=False)


def stream_part(i: int, parts: int, rows: int) -> pd.DataFrame:
    """Part ``i`` of ``parts``: the angle moves from 0 to FINAL_ANGLE over the first half of
    the stream, then stays."""
    angle = FINAL_ANGLE * min(1.0, (i + 1) / max(1, parts // 2))
    return clicks(rows, angle, 10_000 + i * rows, seed=100 + i)


def drop(directory: Path, name: str, frame: pd.DataFrame) -> None:
    """Write a stream file atomically: the watcher ignores dot-files until the rename."""
    staging = directory / f".{name}.tmp"
    frame.to_csv(staging, index=False)
    staging.rename(directory / name)
