"""Loading user code inside a job: from the source snapshot, never from the author's checkout.

The workflow file is imported under one fixed module name (``aiflow_workflow``) both by
``aiflow run`` and by the job runtime, so classes defined in it — and models pickled with
references to them — resolve the same way in every process.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from aiflow.errors import InvalidPlan, UserCodeError
from aiflow.plan.model import ComponentRef

WORKFLOW_MODULE = "aiflow_workflow"


def load_workflow_file(path: Path) -> ModuleType:
    """Import a workflow file as ``aiflow_workflow`` with ``af.run`` calls inert, so loading
    a file never starts a run by itself."""
    from aiflow.dsl.run import runs_suppressed

    path = path.resolve()
    spec = importlib.util.spec_from_file_location(WORKFLOW_MODULE, path)
    if spec is None or spec.loader is None:
        raise InvalidPlan(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[WORKFLOW_MODULE] = module
    parent = str(path.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    with runs_suppressed():
        spec.loader.exec_module(module)
    return module


class UserCode:
    """Resolves ``ComponentRef``s against one snapshot root."""

    def __init__(self, root: Path | None, entrypoint: str | None) -> None:
        self.root = root
        self.entrypoint = entrypoint
        if root is not None and str(root) not in sys.path:
            sys.path.insert(0, str(root))
        if root is not None and entrypoint is not None:
            load_workflow_file(root / entrypoint)

    def resolve(self, ref: ComponentRef, node: str) -> Any:
        if ref.module.startswith("file:"):
            if WORKFLOW_MODULE not in sys.modules:
                raise UserCodeError(f"{ref.module} is not loaded (job has no snapshot)", node)
            obj: Any = sys.modules[WORKFLOW_MODULE]
        else:
            try:
                obj = importlib.import_module(ref.module)
            except ImportError as exc:
                raise UserCodeError(f"cannot import module {ref.module!r}: {exc}", node) from exc
        for part in ref.qualname.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise UserCodeError(
                    f"{ref.module} has no {ref.qualname!r} (was it renamed after the run started?)",
                    node,
                ) from None
        return obj

    def instantiate(self, ref: ComponentRef, node: str) -> Any:
        """The user object a node runs: an instance rebuilt from its recorded parameters, or
        the function itself for a user operation."""
        target = self.resolve(ref, node)
        if inspect.isfunction(target):
            return target
        try:
            return target(**ref.params)
        except Exception as exc:
            raise UserCodeError(
                f"{ref.qualname}(**{ref.params}) raised {type(exc).__name__}: {exc}", node
            ) from exc
