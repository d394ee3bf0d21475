"""The HTTP side of ``aiflow serve``: a small ASGI app speaking the V1 prediction protocol of
KServe and TF Serving.

=====================================  =======================================================
``POST /v1/models/{name}:predict``     ``{"instances": [...]}`` -> ``{"predictions": [...],
                                       "model_version": N}`` (token needed)
``GET /v1/models/{name}``              ready state, served version, fields an instance needs;
                                       503 until a version is loaded
``GET /v1/models``                     the model served here
``GET /``                              liveness
``GET /metrics``                       Prometheus (``metrics``)
=====================================  =======================================================

Why plain ASGI and not FastAPI or Starlette's router: the service has five fixed routes, and a
prediction is a millisecond of work, so the framework's per-request cost (dependency
resolution, request objects, validation models) would be a large share of it. Here a predict
request is: match the path, check the token (a cache hit needs no I/O), read the body up to
its limit, parse it (orjson), check it and build the frame (``protocol``), run the chain
(``chain``), write the JSON. For a version whose probe allowed it (``fast_path``), the checked
values become one float array handed to the model instead of a frame. Everything but a token
not seen recently (checked on a worker thread) runs on the event loop: a hand-off to a thread
per request would cost about as much as a small model's prediction.

Status codes: 400 a body that is not JSON, 401/403 tokens, 404 another model's name or an
unknown path, 405 a wrong method, 413 a body over ``max_body_bytes``, 422 instances that do
not fit (naming the instance and field) or user code (a transform, the predictor) that
failed on them (naming the node), 503 no version loaded yet. A 500 is a bug in aiflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import anyio.to_thread

from aiflow.errors import UserCodeError
from aiflow.schemas.entities import SERVING_ALIAS
from aiflow.serving.auth import Auth
from aiflow.serving.chain import Chain, default_chain
from aiflow.serving.metrics import ServingMetrics
from aiflow.serving.model_holder import ModelHolder
from aiflow.serving.protocol import Rejected, dumps, parse_instances
from aiflow.serving.schema import to_block, to_frame
from aiflow.store.sql_store import MetaStore

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES: Final = 10 * 1024 * 1024
MODELS_PATH: Final = "/v1/models"
_PREFIX: Final = MODELS_PATH + "/"
_PREDICT: Final = ":predict"
_JSON: Final = b"application/json"

# ASGI's types, as Starlette spells them (not imported: this module stays free of frameworks)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Response = tuple[int, Any, list[tuple[bytes, bytes]]]  # status, JSON value, extra headers


class _Disconnected(Exception):
    """The client went away while sending its body: nothing to answer."""


class ServingApp:
    """The ASGI app serving ``holder``'s model through ``chain``.

    Its lifespan starts and stops the holder's watcher thread; an app used without a lifespan
    (some test clients) must ``holder.start()`` itself.
    """

    def __init__(
        self,
        holder: ModelHolder,
        *,
        auth: Auth,
        chain: Chain | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.holder = holder
        self.auth = auth
        self.chain = chain or default_chain()
        self.metrics = holder.metrics
        self.max_body_bytes = max_body_bytes
        self.name = holder.model_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await anyio.to_thread.run_sync(self.holder.start)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await anyio.to_thread.run_sync(self.holder.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(_PREFIX):
            rest = path[len(_PREFIX) :]
            if rest.endswith(_PREDICT):
                if method != "POST":
                    return await _respond(send, _not_allowed(method, path, "POST"))
                return await self._predict(rest[: -len(_PREDICT)], scope, receive, send)
            if "/" not in rest:
                if method != "GET":
                    return await _respond(send, _not_allowed(method, path, "GET"))
                return await _respond(send, self._status(rest))
        elif method == "GET" and path == "/metrics":
            body, content_type = self.metrics.exposition()
            return await _send(send, 200, body, content_type.encode())
        elif method == "GET" and path == MODELS_PATH:
            return await _respond(send, (200, {"models": [self.name]}, []))
        elif method == "GET" and path == "/":
            return await _respond(send, (200, {"status": "alive"}, []))
        routes = f"predict: POST {_PREFIX}{self.name}{_PREDICT}; status: GET {_PREFIX}{self.name}"
        await _respond(send, (404, {"error": f"no route {method} {path} ({routes})"}, []))

    # -- predict ------------------------------------------------------------------------------

    async def _predict(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        try:
            response = await self._prediction(name, scope, receive)
        except _Disconnected:
            return
        except Exception:  # a bug in aiflow: answer (and count) it rather than drop it
            log.exception("model '%s': predict request failed", self.name)
            response = (500, {"error": "internal error in aiflow serve (see its log)"}, [])
        await _respond(send, response)
        self.metrics.observe(response[0], time.perf_counter() - start)

    async def _prediction(self, name: str, scope: Scope, receive: Receive) -> Response:
        if name != self.name:
            return _unknown_model(name, self.name)
        authorization = length = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
            elif key == b"content-length":
                length = value
        refused = await self.auth.refusal(authorization)
        if refused is not None:
            status, message = refused
            challenge = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            return status, {"error": message}, challenge
        served = self.holder.current  # read once: this request finishes on this version
        if served is None:
            return 503, {"error": self._not_ready()}, [(b"retry-after", b"1")]
        try:
            instances = parse_instances(await self._body(receive, length))
            fast = served.fast
            if fast is not None and served.schema is not None:  # probed at load (fast_path)
                predictions = fast.predict(to_block(instances, served.schema))
            else:
                predictions = self.chain.predict(to_frame(instances, served.schema), served.model)
        except Rejected as exc:
            return exc.status, exc.body(), []
        except UserCodeError as exc:
            return exc.status, {"error": exc.message, "node": exc.node}, []
        return 200, {"predictions": predictions, "model_version": served.version}, []

    async def _body(self, receive: Receive, length: bytes | None) -> bytes:
        """The request body, refused (413) as soon as it is known to exceed the limit."""
        limit = self.max_body_bytes
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise Rejected(400, f"Content-Length {length!r} is not a number") from None
            if declared > limit:
                raise Rejected(413, _too_large(declared, limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Rejected(413, _too_large(size, limit, at_least=True))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- status -------------------------------------------------------------------------------

    def _status(self, name: str) -> Response:
        if name != self.name:
            return _unknown_model(name, self.name)
        served = self.holder.current
        body: dict[str, Any] = {
            "name": self.name,
            "ready": served is not None,
            "model_version": served.version if served is not None else None,
            "alias": self.holder.alias,
            # TF Serving's shape, for its clients
            "model_version_status": []
            if served is None
            else [{"version": str(served.version), "state": "AVAILABLE"}],
        }
        if served is not None and served.schema is not None:
            body["fields"] = served.schema.describe()
            if served.schema.optional:
                body["optional_fields"] = sorted(served.schema.optional)
        if self.chain.workflow is not None:
            body["workflow"] = self.chain.workflow
            body["predict_node"] = self.chain.predict_node
            body["transforms"] = [step.node for step in self.chain.steps]
        if served is None:
            body["error"] = self._not_ready()
            return 503, body, [(b"retry-after", b"1")]
        return 200, body, []

    def _not_ready(self) -> str:
        what = (
            "no version (none registered, or all rejected or failed)"
            if self.holder.alias == SERVING_ALIAS
            else f"no version holding alias '{self.holder.alias}'"
        )
        return f"model '{self.name}' has {what} loaded yet; see the service's log"


def create_app(
    store: MetaStore,
    model_name: str,
    *,
    alias: str = SERVING_ALIAS,
    chain: Chain | None = None,
    dev: bool = False,
    host: str = "127.0.0.1",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = 1.0,
    resync_interval: float = 10.0,
    token_cache_seconds: float = 2.0,
) -> ServingApp:
    """The prediction service of ``model_name``; ``InvalidInput`` for ``dev`` off loopback.
    Nothing is loaded until the app's lifespan starts (or ``app.holder.start()``)."""
    chain = chain or default_chain()
    auth = Auth(store, dev=dev, host=host, cache_seconds=token_cache_seconds)
    holder = ModelHolder(
        store,
        model_name,
        alias=alias,
        schema_for=chain.schema_for,
        metrics=ServingMetrics(),
        fast_path_for=chain.fast_path_for,
        poll_interval=poll_interval,
        resync_interval=resync_interval,
    )
    return ServingApp(holder, auth=auth, chain=chain, max_body_bytes=max_body_bytes)


# -- responses ----------------------------------------------------------------------------------


def _unknown_model(name: str, served: str) -> Response:
    return 404, {"error": f"model '{name}' is not served here (this service serves '{served}')"}, []


def _not_allowed(method: str, path: str, allowed: str) -> Response:
    message = f"{method} is not allowed on {path}; use {allowed}"
    return 405, {"error": message}, [(b"allow", allowed.encode())]


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return (
        f"the request body is {more}{size} bytes; the limit is {limit} "
        "(send fewer instances per request, or start the service with a larger --max-body-bytes)"
    )


async def _respond(send: Send, response: Response) -> None:
    status, value, headers = response
    await _send(send, status, dumps(value), _JSON, headers)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
