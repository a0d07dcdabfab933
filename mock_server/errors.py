"""The one exception the HTTP layer speaks. Each provider renders it in its own error envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

EXCERPT = 80  # characters of a request value an error message may echo


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request, as a provider's detail list shows it."""

    location: str  # body | query | path | header
    field: str | None  # the parameter's name, or a body field's path as `lines/0/amount`; None: the whole body
    message: str  # short, and never more than an excerpt of what was sent
    kind: str = "invalid"  # unknown (a field or parameter not declared) | missing (required, absent) | invalid


class ApiError(Exception):
    """`code` is a provider-neutral snake_case name (validation_error, not_found, ...); providers may map it."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
                 details: Any = None, problems: tuple[Problem, ...] = ()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details
        self.problems = problems  # every problem found, when the request broke its schema in more than one way


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """What an error message may echo of a request value: its first `limit` characters, then an ellipsis."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def validation_error(message: str, details: Any = None, problems: tuple[Problem, ...] = ()) -> ApiError:
    return ApiError(400, "validation_error", message, details=details, problems=problems)
