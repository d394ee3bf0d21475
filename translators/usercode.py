"""Loading user code inside a job: from the source snapshot, never from the author's checkout.

The workflow file is imported under one fixed module name (``aiflow_workflow``) both by
``aiflow run`` and by the job runtime, so classes defined in it — and models pickled with
references to them — resolve the same way in every process.

The workflow's directory is put on ``sys.path`` so its sibling modules (``import helpers``)
import as they would for a script, but *after* the standard library: a user's ``pickle.py``
or ``queue.py`` must not replace the standard module for aiflow and the libraries it loads
(which import them later, lazily), where it would fail far from its cause.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
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
    add_import_root(path.parent)
    with runs_suppressed():
        spec.loader.exec_module(module)
    return module


def add_import_root(directory: Path) -> None:
    """Make the modules in ``directory`` importable, right after the standard library's
    ``sys.path`` entries (before site-packages, as a script's own directory would be).

    A directory already on the path stays where it is: ``python workflow.py`` puts the
    script's directory first, which is Python's choice for that process, not ours."""
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(_after_stdlib(), entry)


def _after_stdlib() -> int:
    """The index just after the last standard-library entry of ``sys.path``: the zipped
    library, its directory and ``lib-dynload`` (the end of the path if none is recognised,
    so nothing is ever shadowed)."""
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib")}
    zipped = f"python{sys.version_info.major}{sys.version_info.minor}.zip"
    last = -1
    for i, entry in enumerate(sys.path):
        real = os.path.realpath(entry) if entry else ""
        dynload = os.path.basename(real) == "lib-dynload" and os.path.dirname(real) in roots
        if real in roots or dynload or os.path.basename(real) == zipped:
            last = i
    return last + 1 if last >= 0 else len(sys.path)


class UserCode:
    """Resolves ``ComponentRef``s against one snapshot root."""

    def __init__(self, root: Path | None, entrypoint: str | None) -> None:
        self.root = root
        self.entrypoint = entrypoint
        if root is not None:
            add_import_root(root)
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


def blas_beside_pipeline() -> Any:
    """Limit BLAS (numpy's matmuls in the user's code) to the cores a record pipeline leaves:
    the local engine's chunk reader and writer, the Flink JVM's reading and Arrow threads.
    OpenBLAS's threads spin while they wait for a core: on two cores they cost ~0.7 s of a
    1M-row job scored by a linear model, where one thread does the same work in less
    (``benchmarks/flink_throughput.py``). Applies at once; the returned ``threadpool_limits``
    restores the former limits when used as a context manager."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, (os.cpu_count() or 1) - 2), user_api="blas")
