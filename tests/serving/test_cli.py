"""``aiflow serve``: its refusals, and docs/serving.md's quick start run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aiflow.cli.main import app
from aiflow.errors import InvalidInput
from tests.services import free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]


def test_dev_mode_is_refused_off_loopback() -> None:
    result = CliRunner().invoke(app, ["serve", "clicks", "--dev", "--host", "0.0.0.0"])
    assert isinstance(result.exception, InvalidInput)
    assert "loopback" in str(result.exception)


def test_serve_reads_the_local_store_only() -> None:
    result = CliRunner().invoke(app, ["--server", "http://127.0.0.1:9", "serve", "clicks"])
    assert isinstance(result.exception, InvalidInput) and "local meta store" in str(
        result.exception
    )


def test_a_missing_workflow_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    result = CliRunner().invoke(app, ["serve", "clicks", "--workflow", str(missing)])
    assert isinstance(result.exception, InvalidInput) and str(missing) in str(result.exception)


def doc_block(language: str, containing: str) -> str:
    text = (REPO / "docs" / "serving.md").read_text()
    blocks = re.findall(rf"```{language}\n(.*?)```", text, re.S)
    return next(b for b in blocks if containing in b)


@pytest.mark.slow
def test_the_quick_start_runs_as_written(tmp_path: Path, aiflow_home: Path) -> None:
    wine = tmp_path / "examples" / "wine"
    wine.mkdir(parents=True)
    for name in ("workflow.py", "prepare_data.py"):
        shutil.copy(REPO / "examples" / "wine" / name, wine / name)
    env = {**os.environ, "AIFLOW_HOME": str(aiflow_home)}
    token, serve = "", []
    for line in doc_block("bash", "aiflow serve").strip().splitlines():
        program, *args = shlex.split(line)
        assert program in ("python", "aiflow"), line
        command = [sys.executable, *(["-m", "aiflow"] if program == "aiflow" else []), *args]
        if args[0] == "serve":
            serve = command
            continue
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        if args[:2] == ["token", "create"]:
            token = done.stdout.strip()
    port = str(free_port())
    serve[serve.index("8501")] = port
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(serve, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        wait_ready(
            lambda: httpx.get(f"{url}/v1/models/wine_sgd", timeout=2).raise_for_status(),
            timeout=120,
            process=process,
        )
        client_env = {**env, "TOKEN": token}
        if shutil.which("curl"):
            curl = doc_block("bash", "curl").replace("8501", port)
            done = subprocess.run(
                ["bash", "-c", curl], env=client_env, capture_output=True, text=True, timeout=30
            )
            assert json.loads(done.stdout) == {"predictions": [2], "model_version": 1}, done
        code = doc_block("python", "httpx.post").replace("8501", port)
        done = subprocess.run(
            [sys.executable, "-c", code], env=client_env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "{'predictions': [0], 'model_version': 1}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # uvicorn ends a graceful shutdown by re-raising the signal: the log tells it was graceful
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
