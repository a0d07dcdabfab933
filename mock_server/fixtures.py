"""Fixture documents: YAML mappings of provider name -> that provider's seed data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from . import providers as known, read_yaml
from .bodies import too_large
from .errors import ApiError


def load_fixtures(source: Path | None = None, providers: Iterable[str] | None = None) -> dict[str, Any]:
    """Read one YAML file, or a folder of `<provider>.yaml` files; from a folder, only the files of the providers
    asked for, when that is known. Without a source, each provider's embedded defaults (a plug-in's own)."""
    if source is None:  # the operator's own section (`_mock`) has no embedded defaults
        files = [path for name in (providers if providers is not None else known.names())
                 if not name.startswith("_") and (path := _defaults_of(name)).exists()]
        return _merged(files)
    source = Path(source)
    if not source.is_dir():
        files = [source]
    elif providers is None:
        files = sorted(source.glob("*.yaml"))
    else:
        files = [source / f"{name}.yaml" for name in providers if (source / f"{name}.yaml").exists()]
    return _merged(files)


def _defaults_of(name: str) -> Path:
    return known.load(name).files("fixtures") / f"{name}.yaml"


def _merged(files: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in files:
        try:
            document = read_yaml(path) or {}
        except Exception as exc:  # PyYAML's errors (imported only when parsing: start-up) or the file's
            raise ValueError(f"{path}: cannot be read as YAML: {exc}") from None
        if not isinstance(document, dict):
            raise ValueError(f"{path}: a fixtures file maps provider names to their seed data")
        try:
            too_large(document)
        except ApiError as exc:
            raise ValueError(f"{path}: {exc.message}") from None
        for provider, section in document.items():
            if provider in merged:
                raise ValueError(f"{path}: fixtures for {provider!r} are defined twice")
            merged[provider] = section
    return merged
