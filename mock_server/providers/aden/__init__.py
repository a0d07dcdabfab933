"""Aden (adenhq.com) General Ledger API."""

from .provider import AdenProvider as PROVIDER

__all__ = ["PROVIDER"]
