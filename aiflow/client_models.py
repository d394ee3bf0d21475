"""The model center through the REST API: ``Client``'s methods that change a model version
(aliases, promotion, rollback, stages, tags) and read its record (history, lineage, two
versions compared).

A mixin of ``aiflow.client.Client``, apart only to keep that module readable; the methods have
``MetaStore``'s names and arguments, except ``actor``: the server records the calling token
(``token:<name>``), whatever the caller would claim. Like the client, this module imports only
``aiflow.errors``, ``aiflow.config``, ``aiflow.plan`` and ``aiflow.schemas``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter

from aiflow.errors import InvalidInput
from aiflow.schemas.api import TAG_KEY_LENGTH
from aiflow.schemas.entities import (
    SERVING_ALIAS,
    ModelChange,
    ModelComparison,
    ModelLineage,
    ModelVersion,
)
from aiflow.schemas.limits import NAME_PATTERN, NAME_RULE, check_name


class ModelCenterMixin:
    """Model version changes and records; ``Client`` provides the transport (``_send``)."""

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (``None`` for an empty one); errors raised as aiflow's."""
        raise NotImplementedError  # Client's

    # -- changes ------------------------------------------------------------------------------

    def set_model_alias(
        self, name: str, alias: str, version: int, *, reason: str | None = None
    ) -> ModelVersion:
        """Point ``alias`` at ``version``; for ``deployed`` that is a promotion (below)."""
        body = _without_none(version=version, reason=reason)
        return _version(self._send("PUT", _alias_path(name, alias), body=body))

    def delete_model_alias(self, name: str, alias: str) -> None:
        self._send("DELETE", _alias_path(name, alias))

    def promote_model_version(
        self, name: str, version: int, *, alias: str = SERVING_ALIAS, reason: str | None = None
    ) -> ModelVersion:
        """Move ``alias`` (default ``deployed``, what is served) onto ``version``: the version
        becomes ``deployed`` and the one it replaces ``retired``. A no-op for the holder."""
        body = _without_none(alias=check_name("alias", alias), reason=reason)
        return _version(self._send("POST", f"{_version_path(name, version)}/promote", body=body))

    def set_model_version_stage(
        self, name: str, version: int, stage: str, *, reason: str | None = None
    ) -> ModelVersion:
        """Set the version's lifecycle stage (``STAGES``); serving follows the alias."""
        body = _without_none(stage=stage, reason=reason)
        return _version(self._send("PUT", f"{_version_path(name, version)}/stage", body=body))

    def roll_back_alias(
        self, name: str, alias: str = SERVING_ALIAS, *, reason: str | None = None
    ) -> ModelVersion:
        """Point ``alias`` (default ``deployed``) back at the version it pointed at before."""
        params = {"alias": check_name("alias", alias)}
        body = _without_none(reason=reason) or None
        path = f"/models/{check_name('model', name)}/rollback"
        return _version(self._send("POST", path, body=body, params=params))

    def tag_model_version(
        self, name: str, version: int, key: str, value: str | None
    ) -> ModelVersion:
        """Set tag ``key`` of the version to ``value``; ``None`` removes the tag (the version
        is then read again: the removal answers nothing)."""
        path = f"{_version_path(name, version)}/tags/{_tag_key(key)}"
        if value is not None:
            return _version(self._send("PUT", path, body={"value": value}))
        self._send("DELETE", path)
        return _version(self._send("GET", _version_path(name, version)))

    # -- the record ---------------------------------------------------------------------------

    def model_history(self, name: str, *, version: int | None = None) -> list[ModelChange]:
        """Recorded changes of the model's versions (of one ``version``), oldest first."""
        params = _without_none(version=version)
        page = self._send("GET", f"/models/{check_name('model', name)}/history", params=params)
        return TypeAdapter(list[ModelChange]).validate_python(page["data"])

    def model_lineage(self, name: str, version: int) -> ModelLineage:
        return ModelLineage.model_validate(
            self._send("GET", f"{_version_path(name, version)}/lineage")
        )

    def compare_model_versions(self, name: str, v1: int, v2: int) -> ModelComparison:
        path = f"/models/{check_name('model', name)}/compare"
        return ModelComparison.model_validate(self._send("GET", path, params={"a": v1, "b": v2}))


def _version(answer: Any) -> ModelVersion:
    return ModelVersion.model_validate(answer)


def _alias_path(name: str, alias: str) -> str:
    # Names pass the name rule first (``check_name``): a valid one is a safe path segment.
    return f"/models/{check_name('model', name)}/aliases/{check_name('alias', alias)}"


def _version_path(name: str, version: int) -> str:
    return f"/models/{check_name('model', name)}/versions/{version}"


def _tag_key(key: str) -> str:
    """``key`` once it passed the store's rule for tag keys (the name rule, at most
    ``TAG_KEY_LENGTH``): the same ``InvalidInput`` before any request, and a safe path segment."""
    if len(key) > TAG_KEY_LENGTH or not re.fullmatch(NAME_PATTERN, key):
        raise InvalidInput(f"tag key {key!r} is invalid: use 1 to {TAG_KEY_LENGTH} {NAME_RULE}")
    return key


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
