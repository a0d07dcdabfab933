"""Status workflows as data: a provider declares its transition table, the ledger enforces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import InvalidTransition


@dataclass(frozen=True)
class Workflow:
    transitions: Mapping[tuple[str, str], str]  # (status, action) -> next status
    posted: frozenset[str]  # statuses whose entries count in balances

    def next(self, status: str, action: str) -> str:
        try:
            return self.transitions[(status, action)]
        except KeyError:
            allowed = sorted(a for (s, a) in self.transitions if s == status)
            hint = f"; from {status} you can {', '.join(allowed)}" if allowed else ""
            raise InvalidTransition(f"Cannot {action} an entry that is {status}{hint}.", current_status=status) \
                from None

    def allows(self, status: str, action: str) -> bool:
        return (status, action) in self.transitions
