"""What routes depend on: the store, the settings, and who is calling with which role.

Routes declare the least role they need by taking a principal argument::

    @router.post("/executions/{id}/stop")
    def stop_execution(id: Id, store: Store, _: Editor) -> ...

``Viewer`` reads, ``Editor`` also changes and runs things, ``Admin`` also manages tokens. The
principal comes from ``Authorization: Bearer <token>`` (``aiflow token create``) or, for the web
dashboard, from its session cookie (``aiflow.server.session``: the same token, http-only; a
request that changes something must then also carry the session's CSRF token), checked
against the meta store -- or, within ``server.token_cache_seconds`` (default 2 s) of the last
check in this process, against this process's cache of verified tokens (``TokenStore``). A token
revoked through this process's API fails at once; one revoked elsewhere (another worker or
server, ``aiflow token revoke``) within ``token_cache_seconds``.

The dependency is a coroutine: a cached token costs no thread hand-off (profiling showed the
hand-offs, not the work, were much of a small request's cost); only a check against the store
goes to the thread pool, where its blocking query does not stall the event loop.

Dev mode (``aiflow server --dev``, loopback only) skips the check: every request is the admin
``dev``. ``create_app`` refuses dev mode on any other address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiflow.config import ServerSettings, Settings
from aiflow.schemas.entities import Role
from aiflow.server.params import reject_unknown_query
from aiflow.server.problems import Forbidden, Unauthorized
from aiflow.server.session import refuse_cross_site, session_token
from aiflow.store.sql_store import MetaStore

__all__ = [
    "DEV_PRINCIPAL",
    "Admin",
    "Editor",
    "Principal",
    "Store",
    "Viewer",
    "ViewerIfAny",
    "get_app_settings",
    "get_store",
    "require",
]


# Coroutines although they only read app state: FastAPI runs a plain-function dependency in the
# thread pool, and that hand-off (per request, per dependency) cost more than the work itself.


async def get_store(request: Request) -> MetaStore:
    return _store(request)


async def get_app_settings(request: Request) -> Settings:
    return _settings(request)


def _store(request: Request) -> MetaStore:
    store: MetaStore = request.app.state.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the token's name and role."""

    name: str
    role: Role


DEV_PRINCIPAL = Principal(name="dev", role=Role.ADMIN)

# auto_error=False: a missing token must become our 401 problem (with WWW-Authenticate), not
# FastAPI's plain error. Declaring the scheme puts it in the OpenAPI document for clients.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="aif_...",
    description="An aiflow API token (`aiflow token create --name NAME --role ROLE`).",
)


@cache  # one dependency per role, so FastAPI runs it once per request however often it appears
def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits requests whose token has ``role`` or a higher one."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        server = _settings(request).server
        if server.dev:
            refuse_cross_site(request)
            principal = DEV_PRINCIPAL
        else:
            ttl = server.token_cache_seconds
            plaintext = _plaintext(request, credentials, server)
            principal = await _authenticate(_store(request), plaintext, ttl)
        if not principal.role.at_least(role):
            raise Forbidden(
                f"token '{principal.name}' has role {principal.role.value}; this needs "
                f"{role.value} or higher"
            )
        request.state.principal = principal
        reject_unknown_query(request)  # once the caller is known: see its docstring
        return principal

    dependency.__name__ = dependency.__qualname__ = f"require_{role.value}"
    return dependency


def _plaintext(
    request: Request, credentials: HTTPAuthorizationCredentials | None, server: ServerSettings
) -> str:
    """The caller's token: the bearer header's, else the dashboard session's."""
    if credentials is not None:
        return credentials.credentials
    plaintext = session_token(request, server)  # checks CSRF on requests that change things
    if plaintext is None:
        raise Unauthorized(
            "this needs an API token: send 'Authorization: Bearer <token>' "
            "(an admin creates one with `aiflow token create`)"
        )
    return plaintext


async def _viewer_if_any(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """``None`` for a request that presents no credentials at all (an orchestrator's probe);
    otherwise exactly ``Viewer``: a bad or revoked token is still a 401, never ignored."""
    server = _settings(request).server
    presented = "authorization" in request.headers or session_token(request, server) is not None
    if not server.dev and not presented:
        reject_unknown_query(request)
        return None
    return await require(Role.VIEWER)(request, credentials)


async def _authenticate(store: MetaStore, plaintext: str, cache_seconds: float) -> Principal:
    token = store.cached_token(plaintext, cache_seconds)  # no I/O: fine on the event loop
    if token is None:
        token = await run_in_threadpool(store.verify_token, plaintext, cache_seconds=cache_seconds)
    if token is None:
        raise Unauthorized("the API token is invalid or revoked")
    return Principal(name=token.name, role=token.role)


Store = Annotated[MetaStore, Depends(get_store)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Editor = Annotated[Principal, Depends(require(Role.EDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# routes a kubelet probes without a token (``/ready``): they say more to a known viewer
ViewerIfAny = Annotated[Principal | None, Depends(_viewer_if_any)]
