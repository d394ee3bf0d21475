"""aiflow: one workflow file for offline and online ML.

The public DSL is re-exported here; everything heavy (SQLAlchemy, pandas) is imported only when
a run starts, so ``import aiflow`` and ``aiflow --help`` stay fast.
"""

from aiflow.dsl.components import Evaluator, Predictor, Pusher, Trainer, Transformer
from aiflow.dsl.events import (
    action_on_event,
    action_on_job_status,
    action_on_model_version,
    current_event,
    send_event,
)
from aiflow.dsl.example import Example, Model
from aiflow.dsl.lifecycle import ValidatedRef, push, validate
from aiflow.dsl.nodes import (
    evaluate,
    predict,
    read_example,
    run_after,
    train,
    transform,
    user_operation,
    write_example,
)
from aiflow.dsl.run import run
from aiflow.dsl.sql import sql_transform
from aiflow.dsl.workflow import DataRef, ModelRef, NodeRef, Workflow, workflow
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
    "Pusher",
    "Trainer",
    "Transformer",
    "ValidatedRef",
    "Workflow",
    "action_on_event",
    "action_on_job_status",
    "action_on_model_version",
    "current_event",
    "evaluate",
    "predict",
    "push",
    "read_example",
    "run",
    "run_after",
    "send_event",
    "sql_transform",
    "train",
    "transform",
    "user_operation",
    "validate",
    "workflow",
    "write_example",
]
