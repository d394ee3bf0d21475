"""Dashboard page load: API requests and render time of the executions list and of one
execution's page, in headless Chromium against ``aiflow server``.

    .venv/bin/python benchmarks/web_pageload.py [--backends sqlite,postgres] [--loads 5]
        [--executions 1000] [--jobs 20]

Per backend (PostgreSQL: ``AIFLOW_TEST_POSTGRES_URL``'s server, else a private throwaway
cluster, skipped with the reason when neither works), a fresh meta store filled with
``--executions`` executions of one workflow with ``--jobs`` jobs each (1,000 x 20 = 20,000
jobs, a tree of dependencies): written with ``MetaStore.create_execution``, then finished in
one bulk ORM update (start and end times, statuses; one execution in 50 failed). Then ``aiflow
server`` (not dev mode, its scheduler off) on 127.0.0.1, and Debian's Chromium (Playwright,
headless) signed in through ``POST /api/v1/session`` as the dashboard's form does.

Per page (the executions list; the newest execution's page), one cold load (not counted), then
``--loads`` warm loads (a fresh document in the same browser context: HTTP cache and session
cookie warm), each measuring:

* API requests: the ``/api/`` requests the page made from navigation until it rendered plus a
  settle of ``SETTLE`` s (late requests count): all of them, and the page's own, i.e. without
  the session check (``GET /api/v1/session``) and the live event stream
  (``/api/v1/events/stream``). The dashboard's budget is 3 for the page's own;
* render: navigation start (``performance.timeOrigin``) -> the first execution row visible, or
  -> every job's graph node visible, recorded inside the page by a MutationObserver (so no
  round trip to the test process is in the figure).

The table has the median (min..max) of the warm loads. Needs the dashboard built
(``scripts/build_web.sh``) and ``/usr/bin/chromium`` (``scripts/ensure_chromium.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _events_stack import Stack, postgres_database
from chaos.postgres import PostgresUnavailable

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
WORKFLOW = "pageload_bench"
SETTLE = 0.5  # s after the render: requests the page makes late still count
RENDER_TIMEOUT_MS = 60_000
NOT_PAGE_OWN = ("/api/v1/session", "/api/v1/events/stream")

# Runs in every document before the app (CONDITIONS filled in per run): records
# performance.now() (ms since navigation start) the first time each condition holds.
# checkVisibility: the graph lays its nodes out hidden before it shows them.
OBSERVER = """
(() => {
  const conditions = CONDITIONS;
  const marks = {};
  window.__bench = marks;
  const visible = (el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
  const check = () => {
    for (const [name, selector, count] of conditions) {
      if (name in marks) continue;
      const shown = [...document.querySelectorAll(selector)].filter(visible).length;
      if (shown >= count) marks[name] = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
})();
"""


@dataclass
class Measure:
    backend: str
    page: str
    api_all: list[int] = field(default_factory=list)
    api_own: list[int] = field(default_factory=list)
    render_ms: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the requests of the last load


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--loads", type=int, default=5, help="warm loads per page")
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=20, help="jobs per execution")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: install it with scripts/ensure_chromium.sh")
    results: list[Measure] = []
    notes: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="aiflow-pageload-"))
    try:
        for backend in args.backends.split(","):
            home = root / backend
            home.mkdir()
            if backend == "sqlite":
                results += run_backend(backend, home, f"sqlite:///{home / 'aiflow.db'}", args)
                continue
            try:
                with postgres_database() as uri:
                    results += run_backend(backend, home, uri, args)
            except PostgresUnavailable as exc:
                notes.append(f"{backend} skipped: {exc}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, notes, args)


def run_backend(backend: str, home: Path, uri: str, args: argparse.Namespace) -> list[Measure]:
    stack = Stack.create(home, uri)  # migrated store, an editor token, this process's settings
    try:
        began = time.perf_counter()
        newest = fill(uri, args.executions, args.jobs)
        took = time.perf_counter() - began
        rows = args.executions * args.jobs
        print(f"{backend}: {args.executions} executions, {rows} jobs written in {took:.1f} s")
        stack.start_server(scheduler=False)
        return measure(backend, stack, newest, args)
    finally:
        stack.close()


# -- the data ----------------------------------------------------------------------------------


def fill(uri: str, executions: int, jobs: int) -> int:
    """``executions`` finished executions of one workflow, ``jobs`` jobs each; the newest id."""
    from sqlalchemy import update

    from aiflow.plan.model import ComponentRef, ControlEdge, LogicalPlan, Node, NodeKind
    from aiflow.schemas.entities import ExecutionStatus, JobStatus
    from aiflow.store import db
    from aiflow.store.orm import SqlExecution, SqlJob
    from aiflow.store.sql_store import JobCreate, MetaStore

    names = [f"step_{i:02d}" for i in range(jobs)]
    parents = {i: [names[(i - 1) // 2]] if i else [] for i in range(jobs)}  # a binary tree
    plan = LogicalPlan(
        workflow=WORKFLOW,
        engine="local",
        nodes=[
            Node(
                id=name,
                kind=NodeKind.USER_OPERATION,
                component=ComponentRef(module="file:workflow.py", qualname=name),
            )
            for name in names
        ],
        control_edges=[
            ControlEdge(upstream=parent, downstream=names[i])
            for i, ups in parents.items()
            for parent in ups
        ],
    )
    store = MetaStore(uri)
    version = store.register_workflow_version(
        WORKFLOW, plan.model_dump(mode="json"), "plan", "source", "/nowhere", []
    )
    specs = [
        JobCreate(name=name, engine="local", spec={"name": name}, depends_on=parents[i])
        for i, name in enumerate(names)
    ]
    made = [store.create_execution(version.id, "batch", "local", "local", specs).id
            for _ in range(executions)]  # fmt: skip

    start = datetime.now(UTC) - timedelta(days=30)
    execution_rows: list[dict[str, Any]] = []
    job_rows: list[dict[str, Any]] = []
    for n, execution in enumerate(made):
        began = start + timedelta(minutes=40 * n)
        failed = n % 50 == 49
        for job in store.list_jobs(execution):
            depth = (int(job.name.rsplit("_", 1)[1]) + 1).bit_length() - 1  # level in the tree
            job_failed = failed and job.name == names[-1]
            job_rows.append({
                "id": job.id,
                "status": JobStatus.FAILED if job_failed else JobStatus.SUCCEEDED,
                "attempt": 1,
                "started_at": began + timedelta(seconds=30 * depth),
                "ended_at": began + timedelta(seconds=30 * depth + 25),
            })  # fmt: skip
        execution_rows.append({
            "id": execution,
            "status": ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCEEDED,
            "started_at": began,
            "ended_at": began + timedelta(minutes=5),
        })  # fmt: skip
    with db.session_scope(db.get_engine(uri)) as session:
        session.execute(update(SqlExecution), execution_rows)
        session.execute(update(SqlJob), job_rows)
    store.dispose()
    return made[-1]


# -- the browser -------------------------------------------------------------------------------


def measure(backend: str, stack: Stack, newest: int, args: argparse.Namespace) -> list[Measure]:
    from playwright.sync_api import sync_playwright

    pages = [
        ("executions", "/executions", "tr[data-testid=execution-row]", 1),
        (f"execution ({args.jobs} jobs)", f"/executions/{newest}",
         "[data-testid=graph-node]", args.jobs),
    ]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(base_url=stack.base)
            conditions = [[name, selector, count] for name, _, selector, count in pages]
            context.add_init_script(OBSERVER.replace("CONDITIONS", json.dumps(conditions)))
            signed = context.request.post(f"{stack.base}/api/v1/session",
                                          data={"token": stack.token})  # fmt: skip
            if not signed.ok:
                raise RuntimeError(f"sign-in failed: {signed.status} {signed.text()}")
            results = []
            for name, path, _, _ in pages:
                result = Measure(backend, name)
                for load in range(args.loads + 1):  # the first one is the cold load
                    all_paths, millis = load_once(context, path, name)
                    if load == 0:
                        continue
                    own = [p for p in all_paths if p not in NOT_PAGE_OWN]
                    result.api_all.append(len(all_paths))
                    result.api_own.append(len(own))
                    result.render_ms.append(millis)
                    result.paths = all_paths
                results.append(result)
            return results
        finally:
            browser.close()


def load_once(context: BrowserContext, path: str, mark: str) -> tuple[list[str], float]:
    """Open ``path`` as a fresh document; the API paths it requested and when ``mark`` held."""
    page = context.new_page()
    paths: list[str] = []
    page.on("request", lambda request: _record(paths, request.url))
    try:
        page.goto(path, wait_until="commit")
        seen = f"window.__bench[{json.dumps(mark)}]"
        page.wait_for_function(f"() => {seen} !== undefined", timeout=RENDER_TIMEOUT_MS)
        millis = float(page.evaluate(f"() => {seen}"))
        page.wait_for_timeout(SETTLE * 1000)
        return list(paths), millis
    finally:
        page.close()


def _record(paths: list[str], url: str) -> None:
    path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    if path.startswith("/api/"):
        paths.append(path)


# -- the report --------------------------------------------------------------------------------


def report(results: list[Measure], notes: list[str], args: argparse.Namespace) -> None:
    if not results:
        sys.exit("no backend could be measured: " + "; ".join(notes))
    print(
        f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}; {args.executions} executions x {args.jobs} jobs; "
        f"median (min..max) of {args.loads} warm loads"
    )
    header = ("backend", "page", "API requests: all", "page's own", "render ms")
    rows = [
        (
            r.backend,
            r.page,
            _spread(r.api_all, "{:.0f}"),
            _spread(r.api_own, "{:.0f}"),
            _spread(r.render_ms, "{:.0f}"),
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    for r in results:
        print(f"{r.backend} {r.page}: {', '.join(r.paths)}")
    for note in notes:
        print(note)


def _spread(values: list[float] | list[int], fmt: str) -> str:
    median = fmt.format(statistics.median(values))
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return median if low == high else f"{median} ({low}..{high})"


if __name__ == "__main__":
    main()
