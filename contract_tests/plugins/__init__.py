"""Provider auth plugins. A plugin is a module here named after the provider, exposing

    def install(schema, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> requests.Session

which registers a schemathesis auth provider on `schema` (so schemathesis knows which headers are credentials
and can probe without them) and returns the session to send every generated request through.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def plugin(provider: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{provider}")
    except ModuleNotFoundError:
        raise LookupError(f"no contract plugin for provider {provider!r}") from None
