"""Who may ask for predictions: the REST server's API tokens, checked the same way.

A predict request carries ``Authorization: Bearer aif_...``; any active token (a viewer or
more) may predict. Tokens are checked against the meta store's hashes (``verify_token``) and
remembered for ``server.token_cache_seconds`` in this process, as the server does, so a busy
client costs no query per request; only a token not seen within that time is checked against
the store, on a worker thread so the event loop never blocks on it.

``dev`` (``aiflow serve --dev``) skips the check, on a loopback address only: anyone who can
reach the port could predict otherwise. Readiness (``GET /v1/models/{name}``), liveness and
``/metrics`` are open, as probes and scrapers carry no token; they tell nothing a prediction
would not.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import anyio.to_thread

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import ApiToken, Role
from aiflow.store.sql_store import MetaStore

PREDICT_ROLE: Final = Role.VIEWER
_BEARER: Final = "bearer "


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine. Host names other than
    ``localhost`` are not trusted: they may resolve to anything. (The server's rule, kept here
    because the serving layer sits below the server's.)"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_dev(dev: bool, host: str) -> None:
    """``InvalidInput`` for dev mode off a loopback address."""
    if dev and not is_loopback(host):
        raise InvalidInput(
            f"--dev turns authentication off and is only allowed on a loopback address "
            f"(127.0.0.1, ::1, localhost), not {host!r}; create a token with "
            "`aiflow token create --name NAME --role viewer` and send it as "
            "'Authorization: Bearer <token>'"
        )


class Auth:
    """Checks the ``Authorization`` header of a predict request."""

    def __init__(
        self, store: MetaStore, *, dev: bool, host: str, cache_seconds: float = 2.0
    ) -> None:
        check_dev(dev, host)
        self.store = store
        self.dev = dev
        self.cache_seconds = cache_seconds

    async def refusal(self, authorization: bytes | None) -> tuple[int, str] | None:
        """Why the request may not predict (401 or 403, and a message), or ``None``."""
        if self.dev:
            return None
        if authorization is None:
            return 401, (
                "this needs an API token: send 'Authorization: Bearer <token>' "
                "(an admin creates one with `aiflow token create`)"
            )
        text = authorization.decode("latin-1")
        if text[: len(_BEARER)].lower() != _BEARER:
            return 401, "the Authorization header must be 'Bearer <token>'"
        plaintext = text[len(_BEARER) :].strip()
        token = self.store.cached_token(plaintext, self.cache_seconds)  # no I/O
        if token is None:
            token = await anyio.to_thread.run_sync(self._verify, plaintext)
        if token is None:
            return 401, "the API token is invalid or revoked"
        if not token.role.at_least(PREDICT_ROLE):  # every role is, today: kept for new ones
            return 403, f"token '{token.name}' has role {token.role.value}; predicting needs viewer"
        return None

    def _verify(self, plaintext: str) -> ApiToken | None:
        return self.store.verify_token(plaintext, cache_seconds=self.cache_seconds)
