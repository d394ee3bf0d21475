"""One connection to a Kubernetes API server, and API failures turned into errors users can act on.

Built on the official client (its kubeconfig and in-cluster loading, exec plugins, token
refresh, TLS), but requests go through ``ApiClient.call_api`` with plain dicts in and out rather
than the generated pydantic models: a pod template file may hold fields newer than the client's
models, and the deployer reads a handful of status fields, not whole typed objects.

Every call has a timeout (``request_timeout``; connecting at most 5 s) and no retries: an
unreachable API server is an error naming its URL within seconds, not a hang, and the driver
owns retrying. A missing namespace, an RBAC refusal and a quota refusal each get a message that
names what was refused and what to change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiflow.errors import DeploymentError

if TYPE_CHECKING:
    import urllib3

    from .settings import KubernetesSettings

log = logging.getLogger("aiflow.deployers.kubernetes")

_CONNECT_TIMEOUT = 5.0  # s: an unreachable server is named well within 10 s
_POOL_SIZE = 32  # watches, log streams and parallel stops share the pool


@dataclass
class Reply:
    """The API server's answer: ``status`` and, for a stream, its open ``response``; for an
    error status, the Status object's ``body`` and the message a ``DeploymentError`` carries
    (``error``). Callers that expect some errors (a 404 of something already deleted) branch
    on ``status``; ``json()`` and ``stream()`` raise for the others."""

    status: int
    body: dict[str, Any]
    error: str = ""
    response: urllib3.BaseHTTPResponse | None = None

    @property
    def failed(self) -> bool:
        return self.status >= 400

    def json(self) -> dict[str, Any]:
        if self.failed:
            raise DeploymentError(self.error)
        return self.body

    def stream(self) -> urllib3.BaseHTTPResponse:
        if self.failed or self.response is None:
            raise DeploymentError(self.error)
        return self.response


class Kube:
    """The API server of ``settings`` (kubeconfig, context, or in-cluster) and calls to it."""

    def __init__(self, settings: KubernetesSettings) -> None:
        from kubernetes import client

        configuration = client.Configuration()
        self.source = _load_config(settings, configuration)
        configuration.retries = 0  # one attempt per call: errors surface within the timeout
        configuration.connection_pool_maxsize = _POOL_SIZE
        self.server: str = configuration.host
        self.api = client.ApiClient(configuration)
        self.timeout = (min(settings.request_timeout, _CONNECT_TIMEOUT), settings.request_timeout)

    def close(self) -> None:
        self.api.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """The JSON answer of one request; ``DeploymentError`` for an error status, naming
        ``what`` (e.g. ``create Job af-1-train-2-a1 in namespace ml``), or when the server
        cannot be reached."""
        return self.request(
            method, path, what=what, query=query, body=body, content_type=content_type
        ).json()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Reply:
        """The answer of one request, error statuses included (``Reply.failed``);
        ``DeploymentError`` only when the server cannot be reached."""
        response = self._send(
            method,
            path,
            what=what,
            query=query,
            body=body,
            content_type=content_type,
            timeout=self.timeout,
        )
        try:
            data = response.data
        finally:
            response.release_conn()
        if response.status >= 400:
            return self._error(response.status, data, what)
        return Reply(response.status, json.loads(data) if data else {})

    def open_stream(
        self, path: str, *, what: str, query: dict[str, Any], read_timeout: float | None
    ) -> Reply:
        """A GET whose body is read as it arrives (a watch, a followed log) from
        ``Reply.stream()``, which the caller closes. ``read_timeout`` None: wait for data as
        long as it takes (a quiet log)."""
        timeout = (self.timeout[0], read_timeout)
        response = self._send(
            "GET",
            path,
            what=what,
            query=query,
            body=None,
            content_type="application/json",
            timeout=timeout,
        )
        if response.status >= 400:
            try:
                return self._error(response.status, response.data, what)
            finally:
                response.release_conn()
        return Reply(response.status, {}, response=response)

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str,
        timeout: tuple[float, float | None],
    ) -> urllib3.BaseHTTPResponse:
        import urllib3

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        request = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            # A None read timeout is passed as urllib3's "no timeout", which the client's
            # tuple check would reject: build the Timeout here.
            return self.api.rest_client.pool_manager.request(
                request[0],
                request[1],
                headers=request[2],
                body=json.dumps(request[3]) if request[3] is not None else None,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise unreachable(self.server, what, exc) from exc

    def _error(self, http_status: int, raw: bytes, what: str) -> Reply:
        try:
            status = json.loads(raw) if raw else {}
        except ValueError:
            status = {}
        if not isinstance(status, dict):
            status = {}
        reason = str(status.get("reason") or "")
        message = str(status.get("message") or raw[:500].decode(errors="replace"))
        text = f"Kubernetes refused to {what} ({http_status} {reason or 'error'}): {message}"
        if http_status == 401:
            text += f"; check the credentials in {self.source}"
        elif http_status == 403 and "exceeded quota" not in message and "cannot" in message:
            text += (
                "; the identity above needs a Role in that namespace allowing it (the aiflow "
                "chart's Role for the deployer's ServiceAccount grants exactly what it uses)"
            )
        return Reply(http_status, status, text)


def unreachable(server: str, what: str, exc: BaseException) -> DeploymentError:
    """The error for an API server that cannot be reached, naming it."""
    cause = getattr(exc, "reason", None) or exc
    return DeploymentError(
        f"the Kubernetes API server {server} is unreachable (could not {what}): {cause}; "
        "check [kubernetes] kubeconfig/context (AIFLOW__KUBERNETES__KUBECONFIG) and that the "
        "cluster is up"
    )


def read_lines(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The lines of a streamed body as they arrive, without their line endings; the last one
    even without a final newline."""
    pending = b""
    for chunk in _chunks(response):
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines
    if pending:
        yield pending


def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """Bytes as the server sends them: chunk by chunk (watches and log streams are chunked),
    else whatever one read returns, never waiting to fill a buffer."""
    import urllib3

    if (
        isinstance(response, urllib3.HTTPResponse)
        and response.chunked
        and response.supports_chunked_reads()
    ):
        yield from response.read_chunked(None, decode_content=True)
        return
    while chunk := response.read1(64 * 1024):
        yield chunk


def shut(response: urllib3.BaseHTTPResponse) -> None:
    """End a stream another thread may be blocked reading: shutting the socket down wakes the
    reader (closing it alone would not, under TLS), then release the connection."""
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    try:
        response.close()
    except Exception:  # a stream torn down under a reader: nothing more to release
        log.debug("closing a Kubernetes stream", exc_info=True)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _load_config(settings: KubernetesSettings, configuration: Any) -> str:
    """Fill ``configuration`` from the kubeconfig setting, else the in-cluster service account,
    else ``$KUBECONFIG`` / ``~/.kube/config``; return where it came from, for messages."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    in_cluster = settings.kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    if in_cluster:
        source = "the pod's service account (in-cluster configuration)"
    else:
        path = settings.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        source = f"kubeconfig {str(path)!r}" + (
            f" (context {settings.context!r})" if settings.context else ""
        )
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=os.path.expanduser(str(path)),
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise DeploymentError(
            f"cannot load the Kubernetes configuration from {source}: {exc}; set [kubernetes] "
            "kubeconfig (AIFLOW__KUBERNETES__KUBECONFIG) and context, or run in a pod"
        ) from exc
    return source
