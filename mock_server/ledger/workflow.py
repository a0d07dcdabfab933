"""Status workflows as data: a provider declares its transition table, the ledger enforces it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Mapping

from .errors import InvalidTransition

# Where Book.transition notes each transition it makes as (status, action, next status): a list while a client's
# request runs (coverage.py counts them), None otherwise.
TAKEN: ContextVar[list[tuple[str, str, str]] | None] = ContextVar("transitions_taken", default=None)


@dataclass(frozen=True)
class Workflow:
    transitions: Mapping[tuple[str, str], str]  # (status, action) -> next status
    posted: frozenset[str]  # statuses whose entries count in balances
    # Statuses of work in progress: an entry in one may be unbalanced, one-sided or use inactive accounts, and the
    # double-entry rules are enforced when it moves out (Book.transition). Empty: every entry is complete.
    drafts: frozenset[str] = frozenset()

    def next(self, status: str, action: str) -> str:
        try:
            return self.transitions[(status, action)]
        except KeyError:
            allowed = self.actions(status)
            hint = f"; from {status} you can {', '.join(allowed)}" if allowed else ""
            raise InvalidTransition(f"Cannot {action} an entry that is {status}{hint}.", current_status=status) \
                from None

    def actions(self, status: str) -> list[str]:
        """What can be done from `status`, by name."""
        return sorted(a for (s, a) in self.transitions if s == status)

    def allows(self, status: str, action: str) -> bool:
        return (status, action) in self.transitions
