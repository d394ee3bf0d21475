"""The web dashboard's files, served under ``/`` beside the API (``/api/v1``).

The dashboard is a single-page app built from ``web/`` (``npm run build``) into
``aiflow/server/dashboard_dist/``, which is packaged with the Python distribution: ``pip install
aiflow`` serves it. Any path that is not a file of the build and not the API's answers with
``index.html``, so every page has a stable URL the app routes itself (``/executions/42``).

Caching: the build names its assets by content hash (``/assets/index-3f2a.js``), so they are
cached for a year as immutable; ``index.html`` must be revalidated on every load, or a browser
would keep asking for assets a new version no longer has.

Every answer carries a Content-Security-Policy that allows scripts from this origin only (no
inline scripts, no ``eval``), so text that slips into the page (a hostile workflow name, a log
line) cannot run; styles may be inline because the graph library positions nodes with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from aiflow.errors import NotFound

DIST: Final = Path(__file__).resolve().parent / "dashboard_dist"
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_REVALIDATE: Final = "no-cache"
# Paths the SPA fallback must never answer with index.html: a typo in an API path is a 404.
_NOT_PAGES: Final = ("api", "health", "ready", "metrics", "openapi.json", "docs")
_NOT_BUILT: Final = """<!doctype html><meta charset="utf-8"><title>aiflow</title>
<p>The aiflow dashboard is not built. Build it with <code>scripts/build_web.sh</code> (needs
Node.js 20), or use the API under <a href="/docs">/docs</a>.</p>"""


def serve_unmatched(default: ASGIApp) -> ASGIApp:
    """The router's answer to requests no route matches: the dashboard for GET and HEAD of
    any path outside the API, ``default`` (a 404 problem) for everything else.

    A fallback rather than a catch-all route, so that no route is ever shadowed: routes added
    after the app is built win, and a known path with another method stays a 405."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"].lstrip("/")
            if not _is_api(path):
                await dashboard_file(path)(scope, receive, send)
                return
        await default(scope, receive, send)

    return app


def _is_api(path: str) -> bool:
    first = path.lstrip("/").split("/", 1)[0]
    return first in _NOT_PAGES


def dashboard_file(path: str) -> Response:
    """A file of the build, else the app's page (the app routes the path itself)."""
    found = _file(DIST, path)
    if found is None:
        if path.startswith("assets/"):  # a stale page asking for an old build's asset
            raise NotFound(f"no such file of the dashboard: /{path}")
        return _page(DIST)
    cache = _IMMUTABLE if path.startswith("assets/") else _REVALIDATE
    return FileResponse(found, headers={**SECURITY_HEADERS, "Cache-Control": cache})


def is_built(dist: Path = DIST) -> bool:
    return (dist / "index.html").is_file()


def _page(dist: Path) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": _REVALIDATE}
    if not is_built(dist):
        return HTMLResponse(_NOT_BUILT, status_code=503, headers=headers)
    return FileResponse(dist / "index.html", headers=headers)


def _file(dist: Path, path: str) -> Path | None:
    """``path`` inside ``dist`` if it names a regular file there; never a path out of it."""
    if not path or "\0" in path:
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist) or not candidate.is_file():
        return None
    return candidate
