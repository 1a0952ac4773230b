"""Reading request values the way QBO validates them: amounts, dates, references, line detail types and
sales lines (each fault carries QBO's code and element)."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from connectors.quickbooks.emulator import faults
from connectors.quickbooks.emulator.store import Entity

# xs:date's lexical form: the day, then an optional zone; no time, no trailing text.
_XS_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$")

# Finance.xsd LineDetailTypeEnum: any other DetailType fails to deserialise at QBO.
LINE_DETAIL_TYPES = ("PaymentLineDetail", "DiscountLineDetail", "TaxLineDetail", "SalesItemLineDetail",
                     "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail", "DepositLineDetail",
                     "PurchaseOrderItemLineDetail", "ItemReceiptLineDetail", "JournalEntryLineDetail",
                     "GroupLineDetail", "DescriptionOnly", "SubTotalLineDetail", "SalesOrderItemLineDetail",
                     "TDSLineDetail", "ReimburseLineDetail", "ItemAdjustmentLineDetail")
# The sales-form lines whose effect on TotalAmt the emulator models (discount and group lines it does not).
SALES_DETAIL_TYPES = ("SalesItemLineDetail", "DescriptionOnly", "SubTotalLineDetail")


def money(value: Any, element: str = "Amount") -> Decimal:
    """Parse an amount the way QBO does: JSON numbers or numeric strings, two decimal places."""
    number = money_exact(value, element)
    try:
        return number.quantize(Decimal("0.01"))
    except InvalidOperation:
        # A well-formed number too large to hold to the cent. Intuit documents no limit, so no observed
        # answer either; 2140 Invalid Amount ("the amount value isn't supported by the API") is the closest.
        raise faults.validation("Invalid Amount", f"{element}: {value!r} is not a supported amount", "2140",
                                element) from None


def money_exact(value: Any, element: str) -> Decimal:
    """A number as sent (Qty and UnitPrice may carry more than two decimal places); anything else, NaN and
    Infinity included (a BigDecimal has neither), is QBO's 2010 fault for the element."""
    if value is None:  # left out: Intuit's 2020, as for any other required element
        raise faults.required(element)
    if isinstance(value, bool):  # Decimal(str(True)) fails anyway; say so rather than rely on it
        raise faults.not_a_number(element, value)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise faults.not_a_number(element, value) from None
    if not number.is_finite():
        raise faults.not_a_number(element, value)
    return number


def parse_date(value: Any, element: str) -> str | None:
    """An xs:date (YYYY-MM-DD, optionally with a zone), or None for absent/empty (the SDK sends "" for unset
    dates). QBO answers 2060 for text that is not a date at all and 2070 for a date that does not exist."""
    if value in (None, ""):
        return None
    match = _XS_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise faults.validation("Invalid Date Format", f"{element}: {value!r} is not in the format "
                                "YYYY-MM-DD", "2060", element)
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        raise faults.validation("Invalid Date", f"The date value must be a valid value. Supplied value:{value}",
                                "2070", element) from None


def detail_type(line: Any, supported: tuple[str, ...]) -> str:
    """A Line's DetailType: required (QBO has no default), from LineDetailTypeEnum, and one the emulator
    models for this entity (a line it cannot total is refused rather than miscounted)."""
    if not isinstance(line, dict):
        raise faults.validation("Request has invalid or unsupported property", "Line items must be objects",
                                "2010", "Line")
    name = line.get("DetailType")
    if name in (None, ""):
        raise faults.required("Line.DetailType")
    if name not in LINE_DETAIL_TYPES:
        raise faults.validation("Request has invalid or unsupported property",
                                f"Property Name:Can not deserialize value of type LineDetailTypeEnum from String "
                                f"{name!r}: value not one of declared Enum instance names", "2010",
                                "Line.DetailType")
    if name not in supported:
        raise faults.validation("Business Validation Error", f"{name} lines are not supported by this "
                                f"emulator here (only {', '.join(supported)})", "6000", "Line.DetailType")
    return str(name)


def ref_id(body: Entity, element: str) -> str:
    """The ``value`` of a ReferenceType element, required."""
    ref = body.get(element)
    if not isinstance(ref, dict) or not ref.get("value"):
        raise faults.required(element)
    return str(ref["value"])


def sales_lines(raw: Any) -> list[Entity]:
    if not isinstance(raw, list) or not raw:
        raise faults.required("Line")
    lines = []
    # The SubTotal line is QBO's to compute: one sent back from a read is dropped and rebuilt.
    items = [x for x in raw if detail_type(x, SALES_DETAIL_TYPES) != "SubTotalLineDetail"]
    for n, line in enumerate(items, start=1):
        kind = line["DetailType"]
        detail = clean(line.get(kind) or {"ItemRef": {"value": "1", "name": "Services"}})
        amount = money(line.get("Amount"), "Line.Amount")
        check_priced(detail, amount)
        lines.append({"Id": str(n), "LineNum": n, "Description": line.get("Description") or "",
                      "Amount": amount, "DetailType": kind, kind: detail})
    return lines


def check_priced(detail: Entity, amount: Decimal) -> None:
    # QBO does not recompute a line from Qty and UnitPrice; it refuses one whose Amount disagrees. Zero
    # means unset: python-quickbooks sends Qty 0 and UnitPrice 0 on every line that only has an Amount.
    qty = money_exact(detail.get("Qty") or 0, "Qty")
    price = money_exact(detail.get("UnitPrice") or 0, "UnitPrice")
    if qty and price and (qty * price).quantize(Decimal("0.01"), ROUND_HALF_UP) != amount:
        raise faults.validation("A business validation error has occurred while processing your request",
                                f"Business Validation Error: Amount is not equal to UnitPrice * Qty. "
                                f"Supplied value:{amount}", "6070", "Line.Amount")


def priced(lines: list[Entity]) -> list[tuple[str, Decimal]]:
    return [(line["DetailType"], money(line["Amount"])) for line in lines
            if line["DetailType"] != "SubTotalLineDetail"]


def clean(value: Any) -> Any:
    # SDK objects serialise every unset attribute as "" (ServiceDate: ""); QBO treats those as absent.
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v not in ("", None)}
    return value
