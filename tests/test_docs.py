"""The README's workflow example runs as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_example_runs(tmp_path: Path, aiflow_home: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    code = next(b for b in blocks if "af.workflow" in b)
    (tmp_path / "data").mkdir()
    pd.DataFrame({"alcohol": [11.0, 12.0, 13.0, 14.0] * 5, "label": [0, 0, 1, 1] * 5}).to_csv(
        tmp_path / "data" / "wine.csv", index=False
    )
    (tmp_path / "wf.py").write_text(code)
    env = {**os.environ, "AIFLOW_HOME": str(aiflow_home)}
    done = subprocess.run(
        [sys.executable, "wf.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    preds = pd.read_csv(tmp_path / "out" / "preds.csv")
    assert len(preds) == 20 and {"prediction", "model_version"} <= set(preds.columns)


def doc_block(doc: str, language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", (REPO / "docs" / doc).read_text(), re.S)
    return next(b for b in blocks if containing in b)


@pytest.mark.slow
def test_scheduling_cli_examples_run(aiflow_home: Path) -> None:
    from aiflow.store.sql_store import MetaStore
    from tests.server import seed

    store = MetaStore()
    seed.execution(store, seed.workflow(store, "wine_sgd")[0])  # what `aiflow run` records
    env = {**os.environ, "AIFLOW_HOME": str(aiflow_home)}
    for line in doc_block("scheduling.md", "bash", "aiflow trigger create").splitlines():
        program, *args = shlex.split(line)
        assert program == "aiflow", line
        done = subprocess.run(
            [sys.executable, "-m", "aiflow", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (line, done.stderr)
    names = {t.name: t.enabled for t in store.list_triggers()}
    assert names == {"nightly": True, "validate-new": True, "on-deploy": True}


@pytest.mark.slow
def test_scheduling_python_example_runs(tmp_path: Path) -> None:
    from aiflow.store.sql_store import MetaStore
    from tests.server import seed
    from tests.server.conftest import running_server, server_env

    store_uri = f"sqlite:///{tmp_path / 'aiflow.db'}"
    store = MetaStore(store_uri)
    seed.execution(store, seed.workflow(store, "wine_sgd")[0])
    token = store.create_token("docs", "editor")[1]
    code = doc_block("scheduling.md", "python", "create_trigger")
    with running_server(server_env(tmp_path, store_uri), log=tmp_path / "server.log") as url:
        done = subprocess.run(
            [sys.executable, "-c", code.replace("http://127.0.0.1:8080", url)],
            env={**server_env(tmp_path, store_uri), "AIFLOW__CLIENT__TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    assert store.get_trigger("validate-new").max_active == 1
