"""The wire side of ``aiflow serve``: the V1 prediction protocol of KServe and TF Serving (its
"row" format), JSON in and out, and the ``Rejected`` error a bad request becomes.

A request is ``{"instances": [{"f0": 0.1, "f1": 2.0}, ...]}``; ``parse_instances`` returns the
list, refusing a body that is not JSON (400) or not of that shape (422). What each instance
must hold is ``schema``'s question; the HTTP exchange is ``app``'s.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

try:  # several times faster than the standard library on both sides of every request
    import orjson
except ImportError:  # pragma: no cover - not a declared dependency (yet): the stdlib then
    orjson = None  # type: ignore[assignment]

_VALUE_SHOWN: Final = 40  # characters of a bad value quoted in an error


class Rejected(Exception):
    """A request the service refuses: ``status`` (400, 413, 422...) and a message naming the
    instance and field at fault when there is one. Becomes the JSON error response; it never
    leaves the app."""

    def __init__(
        self, status: int, message: str, *, instance: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.instance = instance
        self.field = field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.instance is not None:
            out["instance"] = self.instance
        if self.field is not None:
            out["field"] = self.field
        return out


# -- JSON ---------------------------------------------------------------------------------------


def loads(body: bytes) -> Any:
    """Parse a request body; ``ValueError`` on anything that is not strict JSON (NaN, Infinity,
    trailing data)."""
    if orjson is not None:
        return orjson.loads(body)
    return json.loads(body, parse_constant=_no_constant)


def dumps(value: Any) -> bytes:
    """A response body. NaN predictions become ``null`` (JSON has no NaN); numpy values and
    timestamps are written as numbers and ISO strings."""
    if orjson is not None:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_fallback)
    return json.dumps(_finite(value), default=_fallback, separators=(",", ":")).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _fallback(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars (the stdlib path)
    if callable(item):
        return item()
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def parse_instances(body: bytes) -> list[Any]:
    """The ``instances`` of a request body; ``Rejected`` 400 for a body that is not JSON, 422
    for JSON of the wrong shape."""
    try:
        payload = loads(body)
    except ValueError as exc:
        raise Rejected(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Rejected(
            422,
            f'the request body must be a JSON object {{"instances": [...]}}, '
            f"got {json_type(payload)}",
            field="instances",
        )
    instances = payload.get("instances")
    if instances is None:
        raise Rejected(422, 'the request body has no "instances" list', field="instances")
    if not isinstance(instances, list):
        raise Rejected(
            422, f'"instances" must be a list, got {json_type(instances)}', field="instances"
        )
    if not instances:
        raise Rejected(422, '"instances" is empty: send at least one instance', field="instances")
    return instances


def shown(value: Any) -> str:
    """A value as an error quotes it: its JSON type and (the start of) its text."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    if len(text) > _VALUE_SHOWN:
        text = text[: _VALUE_SHOWN - 3] + "..."
    return f"{json_type(value)} {text}"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
