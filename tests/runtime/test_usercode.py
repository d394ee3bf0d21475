"""Loading a workflow file: its sibling modules import, none shadows the standard library."""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

import pytest

from aiflow.translators.usercode import WORKFLOW_MODULE, add_import_root, load_workflow_file


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.path`` and the modules a test loads are undone afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("helpers", WORKFLOW_MODULE):
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.usefixtures("isolated_imports")
def test_siblings_import_but_do_not_shadow_the_standard_library(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("ANSWER = 42\n")
    for name in ("pickle", "queue", "json"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the user\\'s {name}.py')\n")
    (tmp_path / "workflow.py").write_text("import helpers\nANSWER = helpers.ANSWER\n")

    assert load_workflow_file(tmp_path / "workflow.py").ANSWER == 42
    for name in ("pickle", "queue", "json"):  # where a fresh import would find them
        spec = importlib.machinery.PathFinder.find_spec(name)
        assert spec is not None and spec.origin is not None
        assert not spec.origin.startswith(str(tmp_path)), spec.origin
    # after the standard library, before installed packages (as a script's directory)
    position = sys.path.index(str(tmp_path))
    site = next(i for i, p in enumerate(sys.path) if p.endswith("site-packages"))
    assert 0 < position < site


@pytest.mark.usefixtures("isolated_imports")
def test_a_directory_already_on_the_path_stays_where_it_is(tmp_path: Path) -> None:
    sys.path.insert(0, str(tmp_path))  # `python workflow.py` put it first: Python's choice
    add_import_root(tmp_path)
    assert sys.path.count(str(tmp_path)) == 1 and sys.path[0] == str(tmp_path)
