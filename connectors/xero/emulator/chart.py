"""The emulated organisation's chart of accounts: a slice of Xero's standard (UK demo) chart.

Bank transactions and payments are checked against it the way Xero does: a payment or bank transaction
must name a BANK account, and a line item must name an active account that is neither a bank account nor
a system account (Accounts Receivable/Payable are only ever posted to by Xero itself).
"""

from __future__ import annotations

from dataclasses import dataclass

AR_CODE = "610"  # where Xero codes the single line of a RECEIVE-OVERPAYMENT


@dataclass(frozen=True)
class AccountRecord:
    code: str
    name: str
    type: str  # Xero AccountType: BANK, REVENUE, EXPENSE, CURRENT, CURRLIAB, ...
    system_account: str | None = None  # DEBTORS, CREDITORS, ...: not for line items
    status: str = "ACTIVE"
    tax_type: str = "NONE"

    @property
    def is_bank(self) -> bool:
        return self.type == "BANK"

    @property
    def takes_line_items(self) -> bool:
        """Whether a bank transaction or invoice line may be coded to this account."""
        return self.status == "ACTIVE" and not self.is_bank and self.system_account is None


DEFAULT_CHART = (
    AccountRecord("090", "Business Bank Account", "BANK"),
    AccountRecord("091", "Business Savings Account", "BANK"),
    AccountRecord("200", "Sales", "REVENUE"),
    AccountRecord("260", "Other Revenue", "REVENUE"),
    AccountRecord("404", "Bank Fees", "EXPENSE"),
    # Xero's own Realised Currency Gains account (499) is a system account; organisations book the FX
    # differences of customer payments to an account of their own, as here.
    AccountRecord("475", "Foreign Exchange Gains and Losses", "EXPENSE"),
    AccountRecord(AR_CODE, "Accounts Receivable", "CURRENT", system_account="DEBTORS"),
    AccountRecord("800", "Accounts Payable", "CURRLIAB", system_account="CREDITORS"),
)


def default_chart() -> dict[str, AccountRecord]:
    """Code -> account, a fresh dict per organisation."""
    return {account.code: account for account in DEFAULT_CHART}
