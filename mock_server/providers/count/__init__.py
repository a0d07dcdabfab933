"""COUNT (getcount.com) partner API."""

from .provider import CountProvider as PROVIDER

__all__ = ["PROVIDER"]
