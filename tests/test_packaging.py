"""The built wheel carries every package, including the ones mapped from top-level dirs
(translators/, deployers/, metastore_migrations/), the migration scripts and the built web
dashboard."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAPPED = {
    "translators": "aiflow/translators",
    "deployers": "aiflow/deployers",
    "metastore_migrations": "aiflow/metastore_migrations",
    "aiflow": "aiflow",
}


@pytest.mark.slow
def test_wheel_contains_every_package_and_migration(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("aiflow-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for top, installed in MAPPED.items():
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top).as_posix()
            expected.add(f"{installed}/{rel}/__init__.py".replace("/./", "/"))
    missing = sorted(e for e in expected if e not in names)
    assert not missing, (
        f"packages missing from the wheel (add them to pyproject's packages): {missing}"
    )
    assert any(n.startswith("aiflow/metastore_migrations/versions/0001") for n in names)
    assert "aiflow/metastore_migrations/env.py" in names
    assert "aiflow/translators/local/engine.py" in names
    # the YARN ApplicationMaster ships as source, compiled where the deployer first runs
    assert "aiflow/deployers/yarn/am/JobMaster.java" in names
    assert "aiflow/translators/flink/closures/hadoop-cluster.sha256" in names  # jar pins
    assert not any(n.startswith(("translators/", "deployers/", "tests/")) for n in names)
    # the web dashboard as built (make test builds it first): `pip install aiflow` serves it
    built = REPO / "aiflow" / "server" / "dashboard_dist"
    assert (built / "index.html").is_file(), "the dashboard is not built: scripts/build_web.sh"
    assert "aiflow/server/dashboard_dist/index.html" in names
    assets = {f"aiflow/server/dashboard_dist/assets/{p.name}" for p in built.glob("assets/*")}
    assert assets and assets <= names, sorted(assets - names)
