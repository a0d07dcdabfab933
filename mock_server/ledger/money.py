"""Money is Decimal from the wire to the ledger and back; amounts are never rounded, only refused."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import InvalidAmount

CENT = Decimal("0.01")
LIMIT = Decimal(10) ** 13


def parse_amount(value: object, *, field: str = "amount", positive: bool = True) -> Decimal:
    """A Decimal with at most two decimals, below 10^13 in size, and > 0 unless `positive` is False.

    Accepts Decimal or int (JSON numbers are parsed as Decimal) and numeric strings; floats are refused
    because by the time a float exists the exact amount has already been lost.
    """
    if type(value) is Decimal:  # as parsed from JSON, and every check of an amount after the first: no copy
        amount = value
    elif isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"`{field}` must be a decimal amount.")
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(f"`{field}` must be a decimal amount.") from None
    elif isinstance(value, (Decimal, int)):
        amount = Decimal(value)
    else:
        raise InvalidAmount(f"`{field}` must be a decimal amount.")
    if not amount.is_finite():
        raise InvalidAmount(f"`{field}` must be a decimal amount.")
    if abs(amount) >= LIMIT:  # first: quantizing a huge value overflows the decimal context
        raise InvalidAmount(f"`{field}` must be less than 10^13.")
    in_cents = amount.same_quantum(CENT)
    if not in_cents and amount != amount.quantize(CENT, rounding="ROUND_DOWN"):
        raise InvalidAmount(f"`{field}` must have at most 2 decimal places.")
    if positive and amount <= 0:
        raise InvalidAmount(f"`{field}` must be greater than 0.")
    # The very Decimal given when it is already in cents: a transaction made from an entry's line shares its amount.
    return amount if in_cents else amount.quantize(CENT)


def format_amount(amount: Decimal) -> str:
    """Two-decimal string, the way every provider here puts money on the wire."""
    return str(amount.quantize(CENT))
