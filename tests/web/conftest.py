"""Browser tests of the web dashboard: Python Playwright driving Debian's Chromium against a real
``aiflow server`` that serves the built dashboard (``aiflow/server/dashboard_dist``).

* ``web`` (session): ONE ``aiflow server`` (not dev mode: sign-in and a secret key) on a fresh
  SQLite meta store in a temp ``AIFLOW_HOME``, with a viewer, an editor and an admin token, filled
  with the shipped wine example: a copy of ``examples/wine`` (its data prepared inside the copy,
  in the temp dir) run twice in batch mode through the CLI, so model ``wine_sgd`` has two versions
  with metrics; plus a user event and an event trigger (the server's scheduler is off, as in the
  API tests, so the trigger never fires). Tests share it: they create uniquely named things and
  compare with what the API answers at the time, never with fixed counts.
* ``browser`` (session): headless Chromium. A missing ``/usr/bin/chromium`` fails the tests
  (CI installs it with ``scripts/ensure_chromium.sh``); Playwright never downloads browsers here.
* ``open_page`` (function): ``open_page("viewer")`` is a page in a new browser context (a fresh
  profile: no cookies, no storage), signed in through ``POST /api/v1/session`` (the sign-in form
  has its own test); ``open_page(None)`` is not signed in.
* ``shot`` (function): ``shot(page, "execution")`` saves
  ``web-artifacts/screenshots/<test>-execution.png`` (gitignored), for every page a test visits.

Live pages are checked with ``same_document``: a marker set on ``window`` survives only as long
as the page was not reloaded, so a status that changes while the marker stays came in live.
No assertion here is about time: waits are generous (``LIVE_MS``) and fail only when the page
never gets there.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from aiflow.store import db
from tests.e2e.conftest import Cli
from tests.server.conftest import ApiServer, create_role_tokens, running_server, server_env
from tests.server.seed import wine_copy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "web-artifacts" / "screenshots"
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
API = "/api/v1"
MODEL = WORKFLOW = "wine_sgd"
WAIT_MS = 30_000  # an element of a page that has its data
LIVE_MS = 60_000  # a change pushed to an open page (a job starting, an execution stopping)
RUN_TIMEOUT = 300.0  # s: one wine batch run through the CLI on a busy 2-core machine

# A batch workflow whose two jobs wait for files the test creates ("gates"), so a test decides
# when the second job starts and when it prints more lines, instead of racing a fast job.
GATED_WORKFLOW = """
import time
from pathlib import Path

import aiflow as af


def _wait(gates: str, name: str) -> None:
    deadline = time.monotonic() + 300  # never hang a machine if the test died
    while not (Path(gates) / name).exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def gate_one(gates: str) -> None:
    print("gate_one: waiting for gate one", flush=True)
    _wait(gates, "one")
    print("gate_one: released", flush=True)


def gate_two(gates: str) -> None:
    print("gate_two: waiting for gate two", flush=True)
    _wait(gates, "two")
    for i in range(1, 4):
        print(f"gate_two: line {i} after the gate", flush=True)


with af.workflow("web_gated") as wf:
    first = af.user_operation(gate_one, params={"gates": GATES}, name="gate_one")
    second = af.user_operation(gate_two, params={"gates": GATES}, name="gate_two")
    af.run_after(second, first)
"""


@dataclass(frozen=True)
class Web:
    """The server the browser tests run against, and the CLI on its meta store."""

    server: ApiServer
    cli: Cli
    wine: Path  # the copy's workflow file
    batch_executions: tuple[int, ...]  # the two wine batch runs, oldest first

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, role: str) -> str:
        return self.server.tokens[role]

    def http(self, role: str | None = "viewer") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def get(self, path: str, role: str = "viewer", **params: Any) -> Any:
        """GET ``/api/v1{path}`` as ``role``; the JSON answer (asserting a 200)."""
        with self.http(role) as client:
            response = client.get(f"{API}{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, role: str = "editor", **kw: Any) -> httpx.Response:
        with self.http(role) as client:
            return client.request(method, f"{API}{path}", **kw)

    def execution_ids(self, workflow: str) -> set[int]:
        """The ids of ``workflow``'s newest executions (none while the workflow is unknown)."""
        with self.http("viewer") as client:
            response = client.get(f"{API}/executions", params={"workflow": workflow, "limit": 100})
        if response.status_code == 404:
            return set()
        assert response.status_code == 200, response.text
        return {e["id"] for e in response.json()["data"]}

    def new_execution(self, workflow: str, known: set[int], timeout: float = 120) -> int:
        """The id of an execution of ``workflow`` not in ``known``, once one exists."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = self.execution_ids(workflow) - known
            if fresh:
                return max(fresh)
            time.sleep(0.1)
        raise AssertionError(f"no new execution of {workflow} after {timeout}s")

    def jobs(self, execution: int) -> dict[str, dict[str, Any]]:
        """The execution's jobs by name, as the API has them now."""
        return {job["name"]: job for job in self.get(f"/executions/{execution}")["jobs"]}

    def wait_jobs(self, execution: int, ready: Callable[[dict[str, Any]], bool]) -> None:
        deadline = time.monotonic() + LIVE_MS / 1000
        while not ready(self.jobs(execution)):
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs of execution {execution}: {self.jobs(execution)}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    home = tmp_path_factory.mktemp("web")
    store_uri = f"sqlite:///{home / 'aiflow.db'}"
    try:
        tokens = create_role_tokens(store_uri)
        wine = wine_copy(home / "wine")  # data and outputs stay in the temp dir
        cli = Cli(home, wine.parent, {"AIFLOW__METASTORE__URI": store_uri})
        runs = tuple(cli.json("run", str(wine))["execution"] for _ in range(2))
        with running_server(server_env(home, store_uri), log=home / "server.log") as url:
            web = Web(ApiServer(url, home, store_uri, tokens), cli, wine, runs)
            _seed_event_and_trigger(web)
            yield web
    finally:
        db.dispose_engine(store_uri)


def _seed_event_and_trigger(web: Web) -> None:
    event = web.send("POST", "/events", json={"key": "web-demo", "value": "hello from tests"})
    assert event.status_code == 201, event.text
    rule = {"name": "web-demo-rule", "workflow": WORKFLOW, "event_type": "web_demo"}
    trigger = web.send("POST", "/triggers", json=rule)
    assert trigger.status_code == 201, trigger.text


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session; each test gets contexts (fresh profiles) of its own."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard's browser tests need Debian's chromium; "
            "install it with scripts/ensure_chromium.sh",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def new_context(browser: Browser, web: Web) -> BrowserContext:
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context


def sign_in_request(context: BrowserContext, web: Web, role: str) -> None:
    """Sign the context in as the form does (``POST /api/v1/session``): the cookie lands in the
    context's cookie jar, which its pages share."""
    response = context.request.post(f"{web.url}{API}/session", data={"token": web.token(role)})
    assert response.ok, response.text()


@pytest.fixture
def open_page(browser: Browser, web: Web) -> Iterator[Callable[[str | None], Page]]:
    contexts: list[BrowserContext] = []

    def make(role: str | None) -> Page:
        context = new_context(browser, web)
        contexts.append(context)
        if role is not None:
            sign_in_request(context, web, role)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")

    def take(page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{test}-{name}.png"), full_page=True)

    return take


def goto(page: Page, path: str) -> None:
    """Open ``path`` as a fresh document load (a deep link); the server answers it with 200."""
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response)


def same_document(page: Page) -> Callable[[], None]:
    """Mark the loaded document; the returned check fails if the page was reloaded since."""
    mark = uuid.uuid4().hex
    page.evaluate("mark => { window.__aiflowTestMark = mark }", mark)

    def check() -> None:
        assert page.evaluate("() => window.__aiflowTestMark") == mark, "the page was reloaded"

    return check


def node(name: str, status: str | None = None) -> str:
    """The selector of a graph node (a job, or a plan node), optionally in a status."""
    selector = f'[data-testid=graph-node][data-node-id="{name}"]'
    return f'{selector}[data-status="{status}"]' if status else selector


EXECUTION_STATUS = "[data-testid=execution-status] [data-testid=status]"


def execution_status(status: str) -> str:
    return f'{EXECUTION_STATUS}[data-status="{status}"]'


@dataclass
class Background:
    """``aiflow run ...`` in the foreground of a process of its own (its driver inside)."""

    process: subprocess.Popen[str]

    def stop(self) -> None:
        """Ctrl-C (the CLI stops the execution), then kill if it does not end."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def background(web: Web) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def start(*args: str) -> Background:
        run = Background(web.cli.popen("run", *args, "--json"))  # --json: no live table
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()


@dataclass(frozen=True)
class Gated:
    """A run of the gated workflow: open a gate to let its jobs go on."""

    run: Background
    gates: Path
    execution: int

    def open(self, name: str) -> None:
        (self.gates / name).touch()


@pytest.fixture
def gated(
    web: Web, background: Callable[..., Background], tmp_path: Path
) -> Iterator[Callable[[], Gated]]:
    made: list[Gated] = []

    def start() -> Gated:
        gates = tmp_path / "gates"
        gates.mkdir()
        workflow = tmp_path / "gated.py"
        workflow.write_text(f"GATES = {str(gates)!r}\n{GATED_WORKFLOW}")
        known = web.execution_ids("web_gated")
        run = background(str(workflow))
        made.append(Gated(run, gates, web.new_execution("web_gated", known)))
        return made[-1]

    yield start
    for run in made:  # let a failed test's jobs end instead of waiting out their deadline
        run.open("one")
        run.open("two")
