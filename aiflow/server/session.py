"""The web dashboard's session: the user's API token in an http-only cookie, plus a CSRF token.

Why a cookie: a browser page must not hold the token where scripts can read it (localStorage,
a URL), and ``EventSource`` (live status, the event tail) cannot send an ``Authorization``
header. The cookie holds the same token the user signed in with, so revoking the token ends
every session made with it at once, and roles stay those of the API.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends
it) and ``Secure`` behind HTTPS. A request that changes something and authenticates by the
cookie must also send ``X-CSRF-Token``: an HMAC of the token under ``server.secret_key`` that
only same-origin scripts can learn (``GET /api/v1/session``). That is the double-submit
pattern without server-side state, a second line behind ``SameSite``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from aiflow.config import ServerSettings
from aiflow.server.problems import Forbidden

COOKIE: Final = "aiflow_session"
CSRF_HEADER: Final = "X-CSRF-Token"
MAX_AGE: Final = 12 * 3600  # s: a signed-in browser asks again after a working day
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(request: Request, server: ServerSettings) -> str | None:
    """The token of the request's session cookie, if any.

    Raises ``Forbidden`` when the request changes something without the session's CSRF token.
    """
    plaintext = request.cookies.get(COOKIE)
    if not plaintext:
        return None
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf_token(plaintext, server).encode()):
            raise Forbidden(
                f"a request signed in by the dashboard's session cookie must send the "
                f"{CSRF_HEADER} header of its session (GET /api/v1/session)"
            )
    return plaintext


def refuse_cross_site(request: Request) -> None:
    """In dev mode (no authentication) a page of any other site could still make the browser
    send changes to the loopback server; browsers say where a request comes from, so refuse
    changes that another origin's page sent. Programs (the CLI, clients) send neither header."""
    if request.method in _SAFE_METHODS:
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site in ("cross-site", "same-site") or (origin is not None and origin != own):
        raise Forbidden(f"dev mode accepts changes from pages of {own} only, not {origin or site}")


def csrf_token(plaintext: str, server: ServerSettings) -> str:
    """The CSRF token of a session made with ``plaintext``: stable for the token's life."""
    key = server.secret_key.get_secret_value() if server.secret_key else ""
    return hmac.new(key.encode(), b"csrf\0" + plaintext.encode(), hashlib.sha256).hexdigest()


def set_session(response: Response, request: Request, plaintext: str) -> None:
    response.set_cookie(
        COOKIE,
        plaintext,
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
