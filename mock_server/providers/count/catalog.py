"""COUNT's account sub-types: a fixed global catalog with stable integer ids (dossier D20)."""

from __future__ import annotations

from dataclasses import dataclass

from ...ledger import AccountKind

PHYSICAL = "PHYSICAL_ACCOUNT"  # bank, card and cash accounts: the ones transactions belong to
CATEGORY = "CATEGORY"

KIND_OF_TYPE = {"Assets": AccountKind.ASSET, "Liabilities": AccountKind.LIABILITY, "Equity": AccountKind.EQUITY,
                "Income": AccountKind.INCOME, "Expenses": AccountKind.EXPENSE}


@dataclass(frozen=True, slots=True)
class SubType:
    id: int
    type: str
    name: str
    description: str
    anchor_tier: str

    @property
    def kind(self) -> AccountKind:
        return KIND_OF_TYPE[self.type]


SUB_TYPES = {s.id: s for s in (
    SubType(1, "Assets", "Bank", "Checking and savings accounts.", PHYSICAL),
    SubType(2, "Liabilities", "Credit Card", "Business credit cards.", PHYSICAL),
    SubType(3, "Assets", "Cash", "Petty cash and cash on hand.", PHYSICAL),
    SubType(4, "Assets", "Accounts Receivable", "Amounts customers owe.", CATEGORY),
    SubType(5, "Assets", "Other Current Assets", "Prepaid expenses, deposits, inventory.", CATEGORY),
    SubType(6, "Assets", "Fixed Assets", "Equipment, vehicles, buildings.", CATEGORY),
    SubType(7, "Liabilities", "Accounts Payable", "Amounts owed to vendors.", CATEGORY),
    SubType(8, "Liabilities", "Other Current Liabilities", "Accruals, payroll and sales tax payable.", CATEGORY),
    SubType(9, "Liabilities", "Long Term Liabilities", "Loans due after more than a year.", CATEGORY),
    SubType(10, "Equity", "Owner's Equity", "Contributions and draws.", CATEGORY),
    SubType(11, "Equity", "Retained Earnings", "Accumulated profit.", CATEGORY),
    SubType(12, "Income", "Revenue", "Sales of goods and services.", CATEGORY),
    SubType(13, "Income", "Other Income", "Interest and other non-operating income.", CATEGORY),
    SubType(14, "Expenses", "Cost of Goods Sold", "Direct costs of what was sold.", CATEGORY),
    SubType(15, "Expenses", "Operating Expenses", "Rent, software, marketing and other overhead.", CATEGORY),
    SubType(16, "Expenses", "Payroll Expenses", "Wages, salaries and payroll taxes.", CATEGORY),
    SubType(17, "Expenses", "Other Expenses", "Interest, depreciation and other costs.", CATEGORY),
)}
