"""Codat's accounting API: companies, connections, journal entries and push operations."""

from .provider import CodatProvider as PROVIDER

__all__ = ["PROVIDER"]
