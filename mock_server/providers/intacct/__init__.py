"""Sage Intacct REST API: general-ledger journal entries, workflows, the query service and OAuth2."""

from .provider import IntacctProvider as PROVIDER

__all__ = ["PROVIDER"]
