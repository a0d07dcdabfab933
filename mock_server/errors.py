"""The one exception the HTTP layer speaks. Each provider renders it in its own error envelope."""

from __future__ import annotations

from typing import Any, Mapping


class ApiError(Exception):
    """`code` is a provider-neutral snake_case name (validation_error, not_found, ...); providers may map it."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
                 details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details


def validation_error(message: str, details: Any = None) -> ApiError:
    return ApiError(400, "validation_error", message, details=details)
