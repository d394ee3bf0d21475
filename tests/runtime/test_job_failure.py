"""What a failing job records as its failure (``JobResult.fail``) and how it reads as an error."""

from __future__ import annotations

import pytest

from aiflow.errors import InvalidPlan, NotFound, UserCodeError
from aiflow.translators.context import JobResult, describe_failure


def failed_with(raise_it: type[BaseException] | BaseException) -> dict[str, object]:
    result = JobResult()
    try:
        raise raise_it
    except Exception as exc:
        result.fail(exc, attempt=2)
    assert result.failure is not None
    assert result.to_dict()["failure"] == result.failure
    return result.failure


def wrapped_user_error() -> UserCodeError:
    """What an engine raises for a transformer's ValueError."""
    try:
        raise ValueError("bad row")
    except ValueError as exc:
        error = UserCodeError(f"{type(exc).__name__}: {exc}", "clean")
        error.__cause__ = exc
        return error


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (
            wrapped_user_error(),
            {"type": "ValueError", "message": "bad row", "node": "clean"},
            "node 'clean': ValueError: bad row",
        ),
        (  # the Flink engine brings back only the text of a worker's error
            UserCodeError("KeyError: 'x'", "score"),
            {"type": "KeyError", "message": "'x'", "node": "score"},
            "node 'score': KeyError: 'x'",
        ),
        (
            InvalidPlan("no operator for kind 'train' on engine 'flink'", "fit"),
            {"type": "InvalidPlan", "node": "fit"},
            "node 'fit': InvalidPlan: no operator for kind 'train' on engine 'flink'",
        ),
        (NotFound("model 'm' has no versions yet"), {"node": None}, "NotFound: model 'm' has"),
        (
            RuntimeError("engine bug"),
            {"type": "RuntimeError", "code": None},
            "RuntimeError: engine",
        ),
    ],
)
def test_failure_names_type_message_and_node(
    error: Exception, expected: dict[str, object], text: str
) -> None:
    failure = failed_with(error)
    assert failure["attempt"] == 2
    for key, value in expected.items():
        assert failure.get(key) == value, (key, failure)
    assert describe_failure(failure).startswith(text)


def test_a_successful_result_has_no_failure_key() -> None:
    assert "failure" not in JobResult().to_dict()
