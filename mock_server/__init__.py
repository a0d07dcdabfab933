"""ledger-mock: offline, stateful stand-ins for accounting providers' journal-entry APIs."""

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Where `openapi/` or `fixtures/` live: bundled in a wheel, or beside the package in a checkout."""
    bundled = _PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name


def read_yaml(path: Path) -> Any:
    """A YAML document, parsed once per content.

    Parsing the specs was most of startup (COUNT's 150 KiB spec takes 90 ms through libyaml, plus 45 ms to
    import PyYAML), so each parse is kept as a pickle in the user's cache folder, named by the content's hash;
    loading that takes 3 ms. A cache that cannot be read or written is only a slower start.
    """
    raw = path.read_bytes()
    cached = cache_dir() / f"{hashlib.sha256(raw).hexdigest()}.v1.pickle"
    try:
        return pickle.loads(cached.read_bytes())
    except Exception:  # absent, unreadable or from an incompatible Python: parse again
        pass
    import yaml

    document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}")
        partial.write_bytes(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, cached)  # readers never see half a file
    except OSError:
        pass
    return document


def cache_dir() -> Path:
    """ledger-mock's folder in the user's cache: LEDGER_MOCK_CACHE_DIR, else XDG_CACHE_HOME or ~/.cache."""
    configured = os.environ.get("LEDGER_MOCK_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ledger-mock"
