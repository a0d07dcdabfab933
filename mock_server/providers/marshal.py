"""Request bodies through marshmallow: the one place that turns a field marshmallow refuses into a 400 that
names the field (each provider renders it in its own envelope)."""

from __future__ import annotations

from typing import Any, Iterator

from marshmallow import Schema, ValidationError

from ..errors import ApiError


def load(schema: Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    try:
        return schema.load(data or {}, partial=partial)
    except ValidationError as exc:
        field, problems = next(_flatten(exc.messages))
        raise ApiError(400, "validation_error", f"`{field}`: {problems[0].rstrip('.').lower()}.",
                       details={"field": field}) from None


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, messages if isinstance(messages, list) else [str(messages)]
