"""End-to-end helpers: the real ``aiflow`` CLI in subprocesses, on a private copy of the
shipped wine example (so its data and outputs live in the test's temp dir)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, home: Path, cwd: Path, settings: dict[str, str] | None = None) -> None:
        self.home, self.cwd = home, cwd
        self.settings = settings or {}  # AIFLOW__* variables for the commands

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW__")}
        env["AIFLOW_HOME"] = str(self.home)
        env["COLUMNS"] = "200"
        return {**env, **self.settings}

    def run(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "aiflow", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"aiflow {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "aiflow", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def cli(aiflow_home: Path, tmp_path: Path) -> Cli:
    return Cli(aiflow_home, tmp_path)


@pytest.fixture
def wine(tmp_path: Path) -> Path:
    """A copy of examples/wine with its data prepared; returns the workflow file."""
    target = tmp_path / "wine"
    shutil.copytree(
        REPO / "examples" / "wine",
        target,
        ignore=shutil.ignore_patterns("data", "out", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, str(target / "prepare_data.py")], check=True, capture_output=True
    )
    return target / "workflow.py"


def drop(src: Path, directory: Path, name: str | None = None) -> Path:
    """Put a file into a watched directory atomically, as producers must."""
    tmp = directory / f".{src.name}.tmp"
    shutil.copy(src, tmp)
    return tmp.rename(directory / (name or src.name))
