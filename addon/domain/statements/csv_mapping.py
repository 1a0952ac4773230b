"""Column mappings that turn a bank's CSV export into bank lines, plus the built-in ones.

A mapping is plain data so an admin can save one per bank account as JSON; columns are named by
header text (``"Bedrag (EUR)"``) or by 0-based index for exports without a header row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

Column = str | int

_COLUMN_FIELDS = (
    "date", "amount", "debit", "credit", "direction", "currency", "counterparty",
    "counterparty_account", "reference", "bank_reference", "value_date", "account",
    "original_amount", "original_currency",
)
_TUPLE_FIELDS = ("text", "extra_columns", "debit_markers")


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """Where each bank-line field lives in one bank's CSV export, and how values are written."""

    name: str = "custom"
    date: Column = 0
    date_format: str = "%Y-%m-%d"
    amount: Column | None = None  # signed, or unsigned with a ``direction`` column
    debit: Column | None = None  # money out, written as a positive number
    credit: Column | None = None  # money in
    direction: Column | None = None  # a column that says D/C, Af/Bij, Debit/Credit
    debit_markers: tuple[str, ...] = ("D", "DR", "DEBIT", "AF", "-")
    currency: Column | None = None
    default_currency: str | None = None  # when no column carries the currency
    counterparty: Column | None = None
    counterparty_account: Column | None = None
    reference: Column | None = None  # structured payment reference
    text: tuple[Column, ...] = ()  # free remittance text, joined in this order
    bank_reference: Column | None = None
    value_date: Column | None = None
    account: Column | None = None  # our own account number, when the export repeats it
    original_amount: Column | None = None  # instructed amount in a foreign currency (FX lines)
    original_currency: Column | None = None
    extra_columns: tuple[Column, ...] = ()  # copied into BankLine.extra under their header name
    decimal_separator: str = "."
    delimiter: str | None = None  # None: sniff from the file
    quotechar: str = '"'
    skip_rows: int = 0  # lines before the header row (or before the data without a header)
    has_header: bool = True
    strip_chars: str = ""  # characters trimmed from every cell, e.g. "'" around ASN texts
    encoding: str | None = None  # a hint; undecodable files fall back to detection

    def __post_init__(self) -> None:
        if self.amount is None and self.debit is None and self.credit is None:
            raise ValueError("a CSV mapping needs an amount column or debit/credit columns")
        if self.decimal_separator not in (".", ","):
            raise ValueError("decimal_separator must be '.' or ','")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        if not self.has_header and any(isinstance(c, str) for c in self.columns()):
            raise ValueError("a mapping without a header row must name columns by index")

    def columns(self) -> list[Column]:
        """Every column the mapping reads."""
        single = [getattr(self, f) for f in _COLUMN_FIELDS]
        return [c for c in (*single, *self.text, *self.extra_columns) if c is not None]

    def to_json(self) -> str:
        """Serialise for saving per bank account."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> CsvMapping:
        """Load a saved mapping; unknown keys or wrong types raise ValueError."""
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"mapping is not valid JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise ValueError("mapping JSON must be an object")  # noqa: TRY004 - one error type for bad mappings
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CsvMapping:
        """Build a mapping from plain data (the JSON form)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown mapping keys: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in _TUPLE_FIELDS:
                if not isinstance(value, list | tuple):
                    raise ValueError(f"{key} must be a list")
                values[key] = tuple(_check_column(key, v) for v in value)
            elif key in _COLUMN_FIELDS:
                values[key] = None if value is None else _check_column(key, value)
            elif key in ("has_header",):
                values[key] = _check_type(key, value, bool)
            elif key == "skip_rows":
                values[key] = _check_type(key, value, int)
            else:
                values[key] = None if value is None else _check_type(key, value, str)
        return cls(**values)


def _check_column(key: str, value: object) -> Column:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must name a column (header text or 0-based index)")  # noqa: TRY004
    return value


def _check_type(key: str, value: object, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be {kind.__name__}")
    return value


BUILTIN_MAPPINGS: dict[str, CsvMapping] = {
    # Odoo's generic sheet: Amount is in the account currency (USD in the sample journal),
    # "Amount Currency" is the foreign amount in "Currency".
    "odoo_sheet": CsvMapping(
        name="odoo_sheet", date="Date", date_format="%m/%d/%Y", amount="Amount",
        default_currency="USD", original_amount="Amount Currency", original_currency="Currency",
        counterparty="Partner Name", counterparty_account="Bank Account", text=("Label",),
    ),
    "adyen_settlement": CsvMapping(
        name="adyen_settlement", date="Creation Date", date_format="%Y-%m-%d %H:%M:%S",
        debit="Net Debit (NC)", credit="Net Credit (NC)", currency="Net Currency",
        reference="Merchant Reference", bank_reference="Psp Reference",
        text=("Type", "Modification Reference", "Modification Merchant Reference"),
        extra_columns=("Batch Number", "Merchant Account", "Payment Method"),
    ),
    "ing_nl": CsvMapping(
        name="ing_nl", date="Datum", date_format="%Y%m%d", amount="Bedrag (EUR)",
        direction="Af Bij", default_currency="EUR", counterparty="Naam / Omschrijving",
        counterparty_account="Tegenrekening", text=("Mededelingen",), account="Rekening",
        decimal_separator=",", extra_columns=("Code", "MutatieSoort"),
    ),
    "knab_nl": CsvMapping(
        name="knab_nl", date="Transactiedatum", date_format="%d-%m-%Y", amount="Bedrag",
        direction="CreditDebet", currency="Valutacode", counterparty="Tegenrekeninghouder",
        counterparty_account="Tegenrekeningnummer", value_date="Valutadatum",
        text=("Omschrijving",), bank_reference="Referentie", account="Rekeningnummer",
        decimal_separator=",", delimiter=";", skip_rows=1, extra_columns=("Betaalwijze",),
    ),
    # ASN Bank exports have no header; the column order is fixed by the bank's documentation.
    "asn_nl": CsvMapping(
        name="asn_nl", date=0, date_format="%d-%m-%Y", account=1, counterparty_account=2,
        counterparty=3, currency=9, amount=10, value_date=12, bank_reference=15, reference=16,
        text=(17,), has_header=False, delimiter=",", strip_chars="'", extra_columns=(14,),
    ),
}
