"""ledger-mock: offline, stateful stand-ins for accounting providers' journal-entry APIs."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Where `openapi/` or `fixtures/` live: bundled in a wheel, or beside the package in a checkout."""
    bundled = _PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name
