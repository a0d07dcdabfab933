"""Provider-neutral double-entry ledger: no HTTP, no provider field names."""

from .book import Book
from .errors import (DeleteBlocked, Duplicate, InvalidAmount, InvalidEntry, InvalidTransition, LedgerError,
                     NotEditable, NotFound, PeriodClosed, Unbalanced, UnknownReference)
from .model import Account, AccountKind, Flow, JournalEntry, Line, NewLine, Side, Transaction
from .money import format_amount, parse_amount
from .workflow import Workflow

__all__ = [
    "Account", "AccountKind", "Book", "DeleteBlocked", "Duplicate", "Flow", "InvalidAmount", "InvalidEntry",
    "InvalidTransition", "JournalEntry", "LedgerError", "Line", "NewLine", "NotEditable", "NotFound",
    "PeriodClosed", "Side", "Transaction", "Unbalanced", "UnknownReference", "Workflow", "format_amount", "parse_amount",
]
