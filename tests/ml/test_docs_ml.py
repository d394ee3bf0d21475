"""Every Python example of docs/ml.md runs (each section in a namespace of its own), so the page
cannot drift from the API. The iteration section is also checked for what it prints by
``test_iteration.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ml.md"


def _sections() -> list[tuple[str, str]]:
    text = DOCS.read_text()
    parts = re.split(r"\n(?=## )", text)
    return [(part.splitlines()[0].lstrip("# "), part) for part in parts]


@pytest.mark.parametrize("title,section", _sections(), ids=lambda v: str(v)[:30])
def test_the_examples_of_each_section_run(
    title: str, section: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        exec(compile(block, f"{DOCS}: {title}", "exec"), namespace)
