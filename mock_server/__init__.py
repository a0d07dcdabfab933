"""ledger-mock: offline, stateful stand-ins for accounting providers' journal-entry APIs."""

from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Where `openapi/` or `fixtures/` live: bundled in a wheel, or beside the package in a checkout."""
    bundled = _PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name


def read_yaml(path: Path) -> Any:
    """YAML through libyaml when available: pure-Python parsing of the specs alone costs most of a second."""
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
