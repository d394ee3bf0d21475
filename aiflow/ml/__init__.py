"""``aiflow.ml``: ML pipelines native in Python -- stages over tables, saved in an open format.

Start here::

    from aiflow.ml import Table, Pipeline, PipelineModel, GraphBuilder, load

* ``table``: ``Table``, the immutable columnar data every stage takes and returns;
* ``param`` / ``common_params``: typed, validated params and the ones stages share;
* ``api``: ``Stage``, ``AlgoOperator``, ``Transformer``, ``Model``, ``Estimator`` -- its
  docstring says how to write a new stage;
* ``persist``: the folder format of ``save`` / ``load`` (JSON + Parquet, no pickle);
* ``pipeline`` and ``graph``: stages composed in a line or a DAG, as one stage.

The package imports only numpy at load time (pandas and pyarrow when a call needs them), and
nothing from the rest of aiflow but its errors: it is a library engines use, not a user of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiflow.ml.api import Stage
from aiflow.ml.graph import GraphBuilder
from aiflow.ml.persist import load_stage
from aiflow.ml.pipeline import Pipeline, PipelineModel
from aiflow.ml.table import Table

__all__ = ["GraphBuilder", "Pipeline", "PipelineModel", "Table", "load"]


def load(path: str | Path, *, allowed_modules: Sequence[str] = ()) -> Stage:
    """The stage saved at ``path`` (any kind: model, pipeline, graph). Only classes of
    ``aiflow.ml`` load, plus those of ``allowed_modules`` (see ``aiflow.ml.persist``)."""
    return load_stage(path, allowed_modules=allowed_modules)
