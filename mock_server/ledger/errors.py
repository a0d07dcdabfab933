"""Rule violations the ledger raises. Providers map each `code` to their own status and wording."""


class LedgerError(Exception):
    """`details`: what the rule was about (ids, names, amounts), keyed by snake_case names a provider may show."""
    code = "ledger_error"

    def __init__(self, message: str, **details: object):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidAmount(LedgerError):
    code = "invalid_amount"


class InvalidEntry(LedgerError):
    code = "invalid_entry"


class Unbalanced(LedgerError):
    code = "unbalanced_entry"


class UnknownReference(LedgerError):
    code = "reference_not_found"


class NotFound(LedgerError):
    code = "not_found"


class NotEditable(LedgerError):
    code = "not_editable"


class PeriodClosed(LedgerError):
    code = "period_closed"


class DeleteBlocked(LedgerError):
    code = "delete_blocked"


class Duplicate(LedgerError):
    code = "duplicate"


class InvalidTransition(LedgerError):
    code = "invalid_transition"
