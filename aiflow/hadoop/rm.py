"""The ResourceManager's REST API (``/ws/v1/cluster``): new application, submit, state, kill.

Why REST and not Hadoop's Java client: the driver is a Python process, and the REST API is the
ResourceManager's public, versioned interface for exactly these calls (Airflow's and Spark's
YARN tooling use it too); it needs no JVM per call, so a submit costs two HTTP requests.

Errors name the address: an unreachable ResourceManager is reported within the request timeout
(10 s by default, connecting at most 5 s), a refusal carries the ResourceManager's own message.
Writes authenticate as ``user`` through Hadoop's simple HTTP authentication (``user.name``);
a Kerberos cluster needs SPNEGO in front (docs/yarn.md).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from aiflow.errors import DeploymentError

_BASE = "/ws/v1/cluster"
LIVE_STATES = frozenset({"NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"})
"""Application states before an end (FINISHED, FAILED, KILLED)."""


class ResourceManager:
    """One ResourceManager's REST API, as ``user``."""

    def __init__(self, url: str, user: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    # -- calls ----------------------------------------------------------------------------------

    def new_application(self) -> str:
        """A fresh application id (the ResourceManager reserves it until submitted)."""
        body = self._call("POST", "/apps/new-application", what="ask for a new application id")
        app_id = body.get("application-id") or body.get("applicationId")
        if not app_id:
            raise DeploymentError(f"ResourceManager at {self.url} gave no application id: {body}")
        return str(app_id)

    def submit(self, context: dict[str, Any]) -> None:
        """Submit an application (``context``: the documented submission JSON)."""
        self._call("POST", "/apps", json=context, what=f"submit {context['application-id']}")

    def app(self, app_id: str) -> dict[str, Any] | None:
        """The application's report, or None if the ResourceManager does not know it."""
        body = self._call("GET", f"/apps/{app_id}", what=f"read {app_id}", missing_ok=True)
        return None if body is None else dict(body.get("app") or {})

    def kill(self, app_id: str) -> None:
        """Ask the ResourceManager to kill the application (it SIGTERMs, then SIGKILLs, the
        container's process group). Killing a finished application is a no-op."""
        self._call(
            "PUT",
            f"/apps/{app_id}/state",
            json={"state": "KILLED"},
            what=f"kill {app_id}",
            missing_ok=True,
        )

    def kill_and_wait(self, app_id: str, timeout: float) -> dict[str, Any] | None:
        """``kill``, then wait until the report shows the application ended; returns that
        report (None if the ResourceManager forgot it). Raises ``DeploymentError`` naming the
        application and this ResourceManager when it still runs after ``timeout`` seconds."""
        self.kill(app_id)  # the NodeManager SIGTERMs the container, SIGKILLs after its delay
        deadline = time.monotonic() + timeout
        while True:
            report = self.app(app_id)
            if report is None or report.get("state") not in LIVE_STATES:
                return report
            if time.monotonic() > deadline:
                raise DeploymentError(
                    f"YARN application {app_id} was asked to stop but still runs after "
                    f"{timeout:.0f} s (ResourceManager {self.url})"
                )
            time.sleep(0.2)

    def apps_tagged(self, tag: str, application_type: str) -> list[dict[str, Any]]:
        """Reports of every application of ``application_type`` that carries ``tag``."""
        body = self._call(
            "GET",
            "/apps",
            params={"applicationTags": tag, "applicationTypes": application_type},
            what=f"list the applications tagged {tag}",
        )
        apps = ((body or {}).get("apps") or {}).get("app") or []
        # The tag filter matches case-insensitively and any of several tags: check exactly.
        return [app for app in apps if tag in tags_of(app)]

    def node_http_address(self, node_id: str) -> str | None:
        """The NodeManager's web address (host:port) for a node id (host:port of its RPC)."""
        body = self._call("GET", f"/nodes/{node_id}", what=f"read node {node_id}", missing_ok=True)
        node = (body or {}).get("node") or {}
        return node.get("nodeHTTPAddress") or None

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        query = {"user.name": self.user, **(params or {})}
        try:
            reply = self._http.request(method, _BASE + path, json=json, params=query)
        except httpx.TimeoutException:
            raise DeploymentError(
                f"cannot {what}: the ResourceManager at {self.url} did not answer in time"
            ) from None
        except httpx.HTTPError as exc:
            raise DeploymentError(
                f"cannot {what}: the ResourceManager at {self.url} is unreachable ({exc})"
            ) from None
        if reply.status_code == 404 and missing_ok:
            return None
        if reply.status_code >= 400:
            raise DeploymentError(
                f"cannot {what}: the ResourceManager at {self.url} answered "
                f"{reply.status_code}: {_message(reply)}"
            )
        if not reply.content:
            return {}
        try:
            return reply.json()
        except ValueError:
            raise DeploymentError(
                f"cannot {what}: {self.url} did not answer with JSON; is it a ResourceManager?"
            ) from None


def tags_of(app: dict[str, Any]) -> set[str]:
    """An application report's tags (a comma-separated string in the report)."""
    return {tag.strip() for tag in str(app.get("applicationTags") or "").split(",") if tag}


def _message(reply: httpx.Response) -> str:
    """The RemoteException's message, else the start of the body."""
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:300].strip() or reply.reason_phrase
    error = body.get("RemoteException", body) if isinstance(body, dict) else {}
    message = str(error.get("message") or error.get("exception") or body)
    return re.sub(r"^(java\.lang\.|org\.apache\.[\w.]+\.)\w*Exception: ", "", message)[:500]
