"""The web dashboard's sign-in: a token in, an http-only session cookie out (see
``aiflow.server.session`` for why a cookie and how CSRF is prevented)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from aiflow.schemas.entities import Role
from aiflow.server.deps import Store, Viewer, get_app_settings
from aiflow.server.params import reject_unknown_query
from aiflow.server.problems import Unauthorized
from aiflow.server.session import COOKIE, clear_session, csrf_token, set_session

router = APIRouter(prefix="/session", tags=["session"])


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=512, description="an API token (`aif_...`)")


class SessionPublic(BaseModel):
    name: str = Field(description="the token's name")
    role: Role
    csrf_token: str | None = Field(
        description="send it as `X-CSRF-Token` with requests that change something; null when "
        "the request was not authenticated by the session cookie"
    )
    dev: bool = Field(description="the server runs in dev mode: no sign-in needed")


async def _known_query_only(request: Request) -> None:
    reject_unknown_query(request)  # as a dependency: before the body is validated


@router.post(
    "",
    responses={401: {"description": "the token is invalid or revoked"}},
    dependencies=[Depends(_known_query_only)],
)
async def create_session(body: SignIn, request: Request, response: Response) -> SessionPublic:
    """Sign in: check the token and keep it in an http-only, same-site cookie."""
    settings = await get_app_settings(request)
    store = request.app.state.store
    token = await run_in_threadpool(store.verify_token, body.token)
    if token is None:
        raise Unauthorized("the API token is invalid or revoked")
    set_session(response, request, body.token)
    response.headers["Cache-Control"] = "no-store"
    return SessionPublic(
        name=token.name,
        role=token.role,
        csrf_token=csrf_token(body.token, settings.server),
        dev=settings.server.dev,
    )


@router.get("")
async def get_session(request: Request, store: Store, principal: Viewer) -> SessionPublic:
    """Who the caller is, and the CSRF token of its session cookie."""
    del store  # authentication used it
    settings = await get_app_settings(request)
    plaintext = request.cookies.get(COOKIE)
    bearer = request.headers.get("authorization") is not None
    csrf = csrf_token(plaintext, settings.server) if plaintext and not bearer else None
    return SessionPublic(
        name=principal.name, role=principal.role, csrf_token=csrf, dev=settings.server.dev
    )


@router.delete("", status_code=204, dependencies=[Depends(_known_query_only)])
async def delete_session(request: Request) -> Response:
    """Sign out: the browser forgets the cookie (the token itself stays valid)."""
    response = Response(status_code=204)
    clear_session(response, request)
    return response
