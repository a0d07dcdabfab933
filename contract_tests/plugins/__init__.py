"""Provider auth plugins. A plugin is a module here named after the provider, exposing

    CREDENTIALS: tuple of the credential keys it needs (from --credential or LEDGER_MOCK_<PROVIDER>_<KEY>)
    ERROR_SCHEMA: the spec component of its usual error body
    MONEY_FIELDS: field names that carry money
    RULE_REFUSALS: statuses with which it refuses well-formed requests that break a business rule
    def unwrap(body) -> the record inside a response envelope
    def install(schema, credentials, session, base_url) -> None
        registers a schemathesis auth provider on `schema` (so schemathesis knows which headers are
        credentials and can probe without them), and may add last-moment hooks to the session
    def probes(session, base_url, credentials, *, read_only) -> Iterator[Probe]
        direct questions about rules random data rarely reaches

Adding a provider means adding its module here; the harness itself does not change.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def plugin(provider: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{provider}")
    except ModuleNotFoundError:
        raise LookupError(f"no contract plugin for provider {provider!r}") from None
