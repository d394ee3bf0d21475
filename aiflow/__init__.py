"""aiflow: one workflow file for offline and online ML.

The public DSL is re-exported here; everything heavy (SQLAlchemy, pandas) is imported only when
a run starts, so ``import aiflow`` and ``aiflow --help`` stay fast.
"""

from aiflow.dsl.components import Evaluator, Predictor, Trainer, Transformer
from aiflow.dsl.example import Example, Model
from aiflow.dsl.run import run
from aiflow.dsl.sql import sql_transform
from aiflow.dsl.workflow import (
    DataRef,
    ModelRef,
    NodeRef,
    Workflow,
    evaluate,
    predict,
    read_example,
    run_after,
    train,
    transform,
    user_operation,
    workflow,
    write_example,
)
from aiflow.errors import AiflowError

__version__ = "0.1.0"

__all__ = [
    "AiflowError",
    "DataRef",
    "Evaluator",
    "Example",
    "Model",
    "ModelRef",
    "NodeRef",
    "Predictor",
    "Trainer",
    "Transformer",
    "Workflow",
    "evaluate",
    "predict",
    "read_example",
    "run",
    "run_after",
    "sql_transform",
    "train",
    "transform",
    "user_operation",
    "workflow",
    "write_example",
]
