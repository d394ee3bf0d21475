"""The REST server's app: ``create_app`` builds it; ``aiflow server`` serves it with uvicorn.

Besides the API under ``/api/v1`` (``aiflow.server.routes``) it serves:

* ``/health``: liveness -- the process answers. No authentication and no database, so an
  orchestrator never restarts a healthy server because the database is down;
* ``/ready``: the meta store is reachable and at the code's schema revision (200), else a 503
  problem -- take the server out of rotation, do not restart it. No token needed, because a
  kubelet's probe cannot hold one (a header in the pod spec would put a secret there); only
  with a viewer token does it also say the revision and aiflow's version, and a token that is
  presented must be valid;
* ``/metrics``: Prometheus text format (see ``aiflow.server.metrics``);
* ``/``: the web dashboard (``aiflow.server.dashboard``), which signs in with a token like the
  API and reads everything through it.

``/metrics`` needs a viewer token like everything else except ``/health`` and ``/ready``
(Prometheus can send an ``Authorization`` header). ``/openapi.json`` and ``/docs``
are public: the document is committed to the repository (``docs/openapi.json``) anyway.

``create_app`` refuses a configuration that would be unsafe to serve (no secret key outside
dev mode; dev mode off loopback), so any ASGI host that uses it gets the same checks.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.responses import Response

import aiflow
from aiflow.config import ServerSettings, Settings, get_settings
from aiflow.errors import InvalidInput
from aiflow.server import dashboard, problems
from aiflow.server.deps import Store, Viewer, ViewerIfAny
from aiflow.server.metrics import Metrics, ObserveRequests
from aiflow.server.params import reject_unknown_query
from aiflow.server.routes import api_router
from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.server")

MIN_SECRET_KEY_LENGTH: Final = 32
_SECRET_HINT: Final = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_DESCRIPTION: Final = (
    "aiflow's meta store and executions over HTTP. Every endpoint but `/health` needs "
    "`Authorization: Bearer <token>` (`aiflow token create`); errors are "
    "`application/problem+json`."
)


def create_app(*, store: MetaStore | None = None, settings: Settings | None = None) -> FastAPI:
    """The app over ``store`` (default: the configured meta store); nothing is opened yet.

    Raises ``InvalidInput`` for a configuration that must not be served (see ``check_server``).
    """
    settings = settings or get_settings()
    check_server(settings.server)
    owns_store = store is None
    store = store or MetaStore(settings.metastore_uri)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.server.dev:  # here, not in create_app: `aiflow openapi` builds a dev app
            log.warning(
                "DEV MODE: authentication is OFF -- every request acts as admin 'dev'. "
                "Never use --dev where anyone else can reach %s.",
                settings.server.host,
            )
        yield
        if owns_store:
            await run_in_threadpool(store.dispose)

    app = FastAPI(
        title="aiflow",
        version=aiflow.__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.metrics = metrics = Metrics(store)
    problems.install(app)
    app.add_middleware(ObserveRequests, histogram=metrics.request_duration, dev=settings.server.dev)
    app.include_router(_ops)
    app.include_router(api_router)
    app.router.default = dashboard.serve_unmatched(app.router.default)  # shadows no route

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)  # caches it in openapi_schema
            _document_unknown_query(_event_streams_as_31(document))
            problems.document_problems(document)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def check_server(server: ServerSettings) -> None:
    """Refuse to serve without a strong secret key, or in dev mode off a loopback address."""
    if server.dev:
        if not is_loopback(server.host):
            raise InvalidInput(
                "--dev turns authentication off and is only allowed on a loopback address "
                f"(127.0.0.1, ::1, localhost), not {server.host}"
            )
        return
    if server.secret_key is None:
        raise InvalidInput(
            "server.secret_key is not set: set AIFLOW__SERVER__SECRET_KEY to a random string "
            f"(`{_SECRET_HINT}`), or use `aiflow server --dev` on a loopback address"
        )
    if len(server.secret_key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
        raise InvalidInput(
            f"AIFLOW__SERVER__SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
            f"(`{_SECRET_HINT}`)"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine. Host names other than
    ``localhost`` are not trusted: they may resolve to anything."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, without a meta store or configuration (``aiflow openapi``)."""
    settings = Settings(server=ServerSettings(dev=True, host="127.0.0.1"))
    return create_app(store=MetaStore("sqlite://"), settings=settings).openapi()


def _document_unknown_query(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation answers 422 to a query parameter it does not declare
    (``reject_unknown_query``); FastAPI documents 422 only for operations with parameters."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            operation.setdefault("responses", {}).setdefault(
                "422", {"description": "a query parameter this operation does not take"}
            )
    return document


def _event_streams_as_31(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI describes a Server-Sent Events response with ``itemSchema``, a keyword of
    OpenAPI 3.2; the document declares 3.1, whose validators reject it. Under 3.1 an event
    stream is a string; the event's shape moves to the description (and the route's docs)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                media = response.get("content", {}).get("text/event-stream")
                if media is not None and "itemSchema" in media:
                    del media["itemSchema"]
                    media["schema"] = {
                        "type": "string",
                        "description": "`id:`, `event:` and `data:` lines; data is JSON",
                    }
    return document


def _operation_id(route: APIRoute) -> str:
    # The function name: generated clients get `list_executions`, not
    # `list_executions_api_v1_executions_get`. Uniqueness is checked by tests/server.
    return route.name


# -- operations endpoints ---------------------------------------------------------------------

_ops = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    revision: str | None = None  # the meta store's schema revision (viewers only)
    version: str | None = None  # aiflow's (viewers only)


async def _known_query_only(request: Request) -> None:
    reject_unknown_query(request)  # a coroutine: no thread hand-off for a liveness probe


# The one route without a token: the unknown-query check that authentication runs on every
# other route (aiflow.server.params) is declared here.
@_ops.get("/health", dependencies=[Depends(_known_query_only)])
async def health() -> Health:
    """Liveness: the process answers. No token, no database."""
    return Health()


@_ops.get(
    "/ready",
    responses={503: {"description": "the meta store is not usable"}},
    response_model_exclude_none=True,
)
def ready(store: Store, viewer: ViewerIfAny) -> Readiness:
    """Readiness: the meta store is reachable and at the code's schema revision; without a
    token (a kubelet's probe) it says only that."""
    revision = store.check_ready()
    if viewer is None:
        return Readiness()
    return Readiness(revision=revision, version=aiflow.__version__)


@_ops.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, _: Viewer) -> Response:
    """Prometheus metrics: request latency by route, executions and jobs by status, event lag,
    and scheduler loop and trigger fire delays when the scheduler runs inside the server."""
    exposition = request.app.state.metrics.exposition()
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
