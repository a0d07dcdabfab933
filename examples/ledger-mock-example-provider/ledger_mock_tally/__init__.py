"""Tally, an example ledger-mock provider plug-in (see docs/plugins.md in ledger-mock)."""

from .provider import TallyProvider as PROVIDER

__all__ = ["PROVIDER"]
