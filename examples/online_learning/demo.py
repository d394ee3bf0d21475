"""The online-learning loop live in the terminal (``make demo`` runs it after the wine demo).

1. batch:  train version 1 on the history, validate it on the hold-out, push it (deployed),
           score the history with it.
2. stream: start the same file in stream mode, drop drifting click files into data/stream/,
           and print the model center as it moves: each version as it is generated, validated
           or rejected (with its AUC against the deployed one), deployed; and which version
           scored how many records.
3. stop, then a summary: versions by outcome, records per serving version, and the record
           accounting (every stream record scored exactly once).

The demo runs on its own meta store (a fresh AIFLOW_HOME under build/), so it can be rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from aiflow.schemas.entities import ModelChange
    from aiflow.store.sql_store import MetaStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
AIFLOW = [sys.executable, "-m", "aiflow.cli.main"]
PARTS, ROWS = 16, 100  # 16 files of 100 records: a version every 200 records
PACE = 1.5  # seconds between files: time to validate and push a version between windows


def aiflow(*args: str, capture: bool = False) -> str:
    print(f"\n$ aiflow {' '.join(args)}", flush=True)
    done = subprocess.run([*AIFLOW, *args], check=True, text=True, capture_output=capture)
    return done.stdout


def main() -> None:
    home = ROOT / "build" / "online_learning_home"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["AIFLOW_HOME"] = str(home)
    sys.path.insert(0, str(HERE))
    import clicks

    data, out = HERE / "data", HERE / "out"
    for directory in (data, out):
        shutil.rmtree(directory, ignore_errors=True)
    clicks.write_history(data)
    (data / "stream").mkdir()

    workflow = str(HERE / "workflow.py")
    aiflow("run", workflow, "--mode", "batch")
    started = json.loads(
        aiflow("run", workflow, "--mode", "stream", "--detach", "--json", capture=True)
    )
    execution = str(started["execution"])
    print(
        f"\nstream execution {execution} running; dropping {PARTS} files of {ROWS} drifting clicks"
    )

    from aiflow.store.sql_store import MetaStore

    store = MetaStore()
    watcher = Watcher(store, out / "scores")
    expected: set[int] = set()
    try:  # a demo that dies (Ctrl-C) must not leave the stream jobs running
        _wait_running(store, int(execution))
        for i in range(PARTS):
            frame = clicks.stream_part(i, PARTS, ROWS)
            expected |= set(frame["rid"])
            clicks.drop(data / "stream", f"clicks-{i:03d}.csv", frame)
            watcher.wait(PACE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not watcher.settled(expected, PARTS * ROWS // 200):
            watcher.wait(0.5)
    finally:
        aiflow("execution", "stop", execution)
    watcher.poll()
    aiflow("model", "versions", "ctr")
    ok = watcher.summary(expected)
    if not ok:
        sys.exit(1)


def _wait_running(store: MetaStore, execution: int, timeout: float = 120) -> None:
    """Until every job of the stream execution runs (each starts its own Python process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = store.list_jobs(execution)
        if jobs and all(job.status.value == "running" for job in jobs):
            print(f"jobs running: {', '.join(job.name for job in jobs)}", flush=True)
            return
        time.sleep(0.2)
    raise SystemExit(f"the stream execution's jobs did not all start within {timeout:.0f}s")


class Watcher:
    """Prints the model center's history and the scored records as they appear."""

    def __init__(self, store: MetaStore, scores: Path) -> None:
        self.store = store
        self.scores = scores
        self.seen_changes = 0
        self.seen_parts: set[Path] = set()
        self.rows_by_version: Counter[int] = Counter()

    def wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(0.1)

    def poll(self) -> None:
        history = self.store.model_history("ctr")
        for change in history[self.seen_changes :]:
            if change.kind == "stage":  # alias moves repeat what the stage change says
                print(f"  model ctr v{change.version}: {_describe(change)}", flush=True)
        self.seen_changes = len(history)
        for part in sorted(self.scores.glob("part-*.csv")) if self.scores.is_dir() else []:
            if part in self.seen_parts:
                continue
            self.seen_parts.add(part)
            counts = Counter(pd.read_csv(part)["model_version"])
            self.rows_by_version.update(counts)
            used = ", ".join(f"v{v}: {n}" for v, n in sorted(counts.items()))
            print(f"  scored {part.name}: {used}", flush=True)

    def scored(self) -> pd.DataFrame:
        parts = sorted(self.scores.glob("part-*.csv"))
        return pd.concat(pd.read_csv(p) for p in parts) if parts else pd.DataFrame({"rid": []})

    def settled(self, expected: set[int], windows: int) -> bool:
        versions = self.store.list_model_versions("ctr")
        decided = [v for v in versions if v.version > 1 and v.stage != "generated"]
        return len(decided) >= windows and set(self.scored()["rid"]) >= expected

    def summary(self, expected: set[int]) -> bool:
        versions = self.store.list_model_versions("ctr")
        stages = Counter(v.stage for v in versions if v.version > 1)
        scored = self.scored()
        rids = list(scored["rid"])
        lost = len(expected - set(rids))
        duplicated = len(rids) - len(set(rids))
        deployed = next((v for v in versions if "deployed" in v.aliases), None)
        print("\nsummary")
        print(f"  online versions: {sum(stages.values())} ({dict(stages)})")
        if deployed is not None:
            auc = deployed.metrics.get("auc", float("nan"))
            print(f"  deployed now: v{deployed.version} auc={auc:.4f}")
        per_version = Counter(scored["model_version"]) if len(scored) else Counter()
        print(
            "  stream records scored per version: "
            + ", ".join(f"v{v}: {n}" for v, n in sorted(per_version.items()))
        )
        sent, got = len(expected), len(set(rids))
        print(f"  records: {sent} sent, {got} scored, lost={lost}, duplicated={duplicated}")
        return lost == 0 and duplicated == 0 and len(per_version) > 1


def _describe(change: ModelChange) -> str:
    reason = f" ({change.reason})" if change.reason else ""
    if change.kind == "alias":
        was = f"v{change.from_value}" if change.from_value else "none"
        return f"alias {change.field} -> v{change.to_value} (was {was}){reason}"
    if change.kind == "stage":
        return f"{change.to_value:<9}{reason}"
    return f"tag {change.field}={change.to_value}"


if __name__ == "__main__":
    main()
