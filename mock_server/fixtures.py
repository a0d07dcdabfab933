"""Fixture documents: YAML mappings of provider name -> that provider's seed data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import data_dir, read_yaml


def load_fixtures(source: Path | None = None) -> dict[str, Any]:
    """Read one YAML file, or every *.yaml in a folder (the embedded defaults when `source` is None)."""
    source = Path(source) if source else data_dir("fixtures")
    files = sorted(source.glob("*.yaml")) if source.is_dir() else [source]
    merged: dict[str, Any] = {}
    for path in files:
        document = read_yaml(path) or {}
        if not isinstance(document, dict):
            raise ValueError(f"{path}: a fixtures file maps provider names to their seed data")
        for provider, section in document.items():
            if provider in merged:
                raise ValueError(f"{path}: fixtures for {provider!r} are defined twice")
            merged[provider] = section
    return merged
