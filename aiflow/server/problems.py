"""Every error the API returns is an RFC 9457 (ex-7807) problem, ``application/problem+json``.

One shape for every failure -- aiflow's own errors, request validation, routing (404/405),
authentication and bugs -- so a client needs one error path: switch on ``code`` (aiflow's stable
error code, the same the CLI and the library use), show ``detail`` (says what failed and how to
fix it), read ``errors`` for the fields a request got wrong.

An aiflow error's status, code and title are attributes of its class
(``aiflow.errors.problem_fields``), the same ones the client rebuilds the class from. Request
validation is 422 (the request is well-formed but its values are wrong), except a body that is
not JSON at all: 400.
A bug is a 500 whose body says nothing about the code; the traceback goes to the server log.

``document_problems`` makes the OpenAPI document say the same, so generated clients and
schemathesis know every error's schema.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from aiflow.errors import AiflowError, InvalidInput, family, problem_fields
from aiflow.errors import Forbidden as Forbidden  # re-exported: their old home
from aiflow.errors import Unauthorized as Unauthorized

log = logging.getLogger("aiflow.server")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:aiflow:problem:"  # + code; stable, needs no web site

# Starlette raises HTTPException itself (routing, methods, upload limits, ...) with only a
# status; these give such problems a code in aiflow's vocabulary. aiflow's own errors never pass
# through here: their status and code are attributes of their class (aiflow.errors).
_CODE_BY_STATUS: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="where: 'query.limit', 'body.name', 'path.id', ...")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description=f"'{PROBLEM_TYPE_PREFIX}' + code")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong here, and how to fix it")
    instance: str = Field(description="the request path")
    code: str = Field(description="aiflow's stable error code: not_found, invalid_input, ...")
    errors: list[FieldError] | None = Field(
        default=None, description="the request fields that failed validation"
    )


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """A problem response; ``title`` defaults to the status's reason phrase."""
    body = Problem(
        type=PROBLEM_TYPE_PREFIX + code,
        title=title or _phrase(status),
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=errors,
    )
    return ProblemResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Route every exception through ``problem``."""
    app.add_exception_handler(AiflowError, _aiflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _aiflow_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, AiflowError)
    fields = problem_fields(exc)
    headers = None
    if fields["status"] == 401:
        # RFC 6750: tell the client which scheme, and whether its token was the problem.
        given = request.headers.get("authorization", "").lower().startswith("bearer ")
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"' if given else "Bearer"}
    return problem(
        request,
        fields["status"],
        fields["code"],
        fields["detail"],
        title=fields["title"],
        headers=headers,
    )


def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    details = exc.errors()
    if any(error.get("type") == "json_invalid" for error in details):
        return problem(
            request, 400, "bad_request", "the request body is not valid JSON", title="Bad request"
        )
    errors = [
        FieldError(field=".".join(str(part) for part in error["loc"]), message=error["msg"])
        for error in details
    ]
    # The submitted values are not echoed: a rejected field may hold a secret.
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(
        request,
        InvalidInput.status,
        InvalidInput.code,
        f"invalid request: {summary}{more}",
        title=InvalidInput.title,
        errors=errors,
    )


def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    # the title aiflow's error of that code has (a 404 reads as NotFound's), if any
    title = next((cls.title for cls in family() if cls.code == code), None)
    return problem(request, exc.status_code, code, detail, title=title, headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # Starlette re-raises after sending this response, so the ASGI server logs the traceback
    # too; this line ties it to the request.
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        500,
        "internal_error",
        "internal server error; the server log has the details",
        title="Internal server error",
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


# -- OpenAPI ------------------------------------------------------------------------------------

_PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
_AUTH_RESPONSES: Final[dict[str, str]] = {
    "401": "missing, invalid or revoked token",
    "403": "the token's role does not allow this",
    "503": "the meta store is unreachable or not at the code's schema revision",
}
_FASTAPI_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make ``openapi`` (in place) say what the handlers above do.

    Every 4xx/5xx response gets the ``Problem`` schema under ``application/problem+json``
    (replacing FastAPI's own validation error schema, which this API never sends), and every
    operation behind a token documents 401, 403 and 503. Routes declare only the errors
    specific to them, as ``responses={404: {"description": ...}}``.
    """
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                for status, description in _AUTH_RESPONSES.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
            if "401" in responses:
                responses["401"]["headers"] = {
                    "WWW-Authenticate": {
                        "description": "Bearer (RFC 6750)",
                        "schema": {"type": "string"},
                    }
                }
    return openapi
