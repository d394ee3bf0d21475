"""API tokens: list, create (the secret is in the answer, once), revoke. Admins only.

The CLI (``aiflow token ...``) does the same directly on the meta store; that is how the first
admin token comes to exist, and how an admin who lost theirs gets back in.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response

from aiflow.schemas.api import Page, TokenCreate, TokenCreated, TokenPublic
from aiflow.schemas.limits import NAME_LENGTH, NAME_PATTERN, name_rule
from aiflow.server.deps import Admin, Store
from aiflow.server.params import DEFAULT_PAGE, Count, Limit, NameCursor
from aiflow.server.routes._paging import make_page

log = logging.getLogger("aiflow.server")

router = APIRouter(prefix="/tokens", tags=["tokens"])

TokenName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=NAME_LENGTH,
        pattern=NAME_PATTERN,
        description=f"token name: {name_rule('token')}",
    ),
]


@router.get("")
def list_tokens(
    store: Store,
    _: Admin,
    cursor: NameCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[TokenPublic]:
    """Tokens by name, revoked ones included, with when each was last used."""
    rows = store.page_tokens(cursor=cursor, limit=limit + 1)
    total = store.count_tokens() if count else None
    return make_page(rows, limit, TokenPublic, key=lambda t: t.name, total=total)


@router.post(
    "",
    status_code=201,
    responses={409: {"description": "a token with this name exists (or existed)"}},
)
def create_token(
    body: TokenCreate, store: Store, principal: Admin, response: Response
) -> TokenCreated:
    """Create a token. The answer carries its secret, which cannot be shown again."""
    token, secret = store.create_token(body.name, body.role)
    response.headers["Cache-Control"] = "no-store"  # no proxy or browser may keep the secret
    log.info("API token %r (%s) created by %r", token.name, token.role.value, principal.name)
    return TokenCreated(**token.model_dump(), token=secret)


@router.delete("/{name}", responses={404: {"description": "no token has this name"}})
def revoke_token(name: TokenName, store: Store, principal: Admin) -> TokenPublic:
    """Revoke a token: requests with it fail from now on. Revoking twice changes nothing."""
    token = store.revoke_token(name)
    log.info("API token %r revoked by %r", token.name, principal.name)
    return TokenPublic.model_validate(token.model_dump())
