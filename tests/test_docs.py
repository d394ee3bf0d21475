"""The README's workflow example runs as written."""

from __future__ import annotations

import os
import re
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
