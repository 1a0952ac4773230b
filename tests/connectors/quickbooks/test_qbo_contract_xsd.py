"""Contract check: the emulator's JSON follows the structure Intuit's XSD gives each entity.

The checker is derived from Finance.xsd at test time: JSON keys must be the type's element or attribute
names, values must have the element's type (decimal, boolean, date, dateTime, enumerations, reference
types, nested complex types, repeated elements as arrays), and required elements must be present.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from addon.domain.types import Allocation, NewCreditNote, NewPayment
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator import query
from connectors.quickbooks.emulator.testing import QboSandbox

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = (int, float, Decimal)


def _required(element: Any) -> bool:
    if element.min_occurs < 1:
        return False
    group = element.parent
    while group is not None and hasattr(group, "model"):
        if group.model == "choice" or group.min_occurs < 1:
            return False
        group = group.parent
    return True


def check_type(xsd_type: Any, value: Any, path: str) -> list[str]:
    """Problems found in ``value`` against ``xsd_type`` (empty when it conforms)."""
    if xsd_type.is_simple():
        return _check_simple(xsd_type, value, path)
    if not isinstance(value, dict):
        return [f"{path}: expected an object for {xsd_type.local_name}, got {type(value).__name__}"]
    attributes = set(xsd_type.attributes.keys())
    if xsd_type.has_simple_content():  # ReferenceType & co: {"value": ..., "name": ...}
        problems = [f"{path}.{k}: not an attribute of {xsd_type.local_name}" for k in value
                    if k != "value" and k not in attributes]
        return problems + _check_simple(xsd_type.content, value.get("value"), f"{path}.value")
    elements = {e.local_name: e for e in xsd_type.content.iter_elements()}
    problems = [f"{path}.{name}: required by the XSD but missing" for name, e in elements.items()
                if _required(e) and name not in value]
    for key, item in value.items():
        if key in attributes:
            continue
        element = elements.get(key)
        if element is None:
            problems.append(f"{path}.{key}: not an element of {xsd_type.local_name}")
        elif element.max_occurs is None or element.max_occurs > 1:
            if not isinstance(item, list):
                problems.append(f"{path}.{key}: repeated element must be an array")
            else:
                for n, entry in enumerate(item):
                    problems += check_type(element.type, entry, f"{path}.{key}[{n}]")
        else:
            problems += check_type(element.type, item, f"{path}.{key}")
    return problems


def _check_simple(xsd_type: Any, value: Any, path: str) -> list[str]:
    primitive = xsd_type.primitive_type.local_name if xsd_type.primitive_type is not None else "string"
    enumeration = getattr(xsd_type, "enumeration", None)
    ok = True
    if enumeration:
        ok = value in enumeration
    elif primitive in ("decimal", "double", "float"):
        ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
    elif primitive == "boolean":
        ok = isinstance(value, bool)
    elif primitive == "date":
        ok = isinstance(value, str) and bool(_DATE.match(value))
    elif primitive == "dateTime":
        ok = isinstance(value, str) and _is_datetime(value)
    elif primitive in ("integer", "int", "long", "positiveInteger", "nonNegativeInteger"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    return [] if ok else [f"{path}: {value!r} is not a valid {xsd_type.local_name or primitive}"]


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def test_checker_rejects_wrong_shapes(finance_schema: Any) -> None:
    invoice = finance_schema.types["Invoice"]
    assert check_type(invoice, {"TotalAmt": 12.5, "DueDate": "2026-01-31", "EmailStatus": "EmailSent"}, "I") == []
    problems = check_type(invoice, {"TotalAmt": "12.50", "DueDate": "31/01/2026", "EmailStatus": "Sent",
                                    "Bogus": 1, "LinkedTxn": {"TxnId": "1"}, "CustomField": [{"Name": "x"}],
                                    "CustomerRef": {"value": "1", "colour": "red"}}, "I")
    text = "\n".join(problems)
    for fragment in ("I.TotalAmt", "I.DueDate", "I.EmailStatus", "I.Bogus", "I.LinkedTxn: repeated",
                     "I.CustomField[0].Type: required", "I.CustomerRef.colour"):
        assert fragment in text


def _exercise(connector: QuickBooksConnector, sandbox: QboSandbox) -> None:
    invoice = next(i for i in connector.list_invoices() if i.is_open)
    connector.create_payment(NewPayment(invoice.contact_id, date(2026, 11, 2), invoice.currency,
                                        (Allocation(invoice.remote_id, Decimal("1.00")),)), idempotency_key="p")
    connector.create_credit_note(NewCreditNote(invoice.contact_id, date(2026, 11, 2), invoice.currency,
                                               Decimal("2.00"), "pricing",
                                               (Allocation(invoice.remote_id, Decimal("1.00")),)),
                                 idempotency_key="c")
    connector.add_invoice_note(invoice.remote_id, "called the customer", idempotency_key="n")
    connector.set_risk_tag(invoice.remote_id, "high", "Risk: high", idempotency_key="r")


@pytest.mark.parametrize("kind", ["Invoice", "Payment", "CreditMemo", "Customer"])
def test_emulator_entities_follow_finance_xsd(kind: str, finance_schema: Any, connector: QuickBooksConnector,
                                              sandbox: QboSandbox, api: Any) -> None:
    _exercise(connector, sandbox)
    entities = api.query(f"SELECT * FROM {kind} MAXRESULTS 1000").json()["QueryResponse"][kind]
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    changed = api.get("cdc", entities=kind, changedSince=since).json()["CDCResponse"][0]["QueryResponse"][0]
    entities += changed.get(kind, [])
    problems = [p for e in entities for p in check_type(finance_schema.types[kind], e, f"{kind}[{e['Id']}]")]
    assert problems == []


def test_invoice_carries_the_fields_cashline_reads(api: Any, connector: QuickBooksConnector,
                                                   sandbox: QboSandbox) -> None:
    _exercise(connector, sandbox)
    invoices = api.query("SELECT * FROM Invoice MAXRESULTS 1000").json()["QueryResponse"]["Invoice"]
    fields = set().union(*(i.keys() for i in invoices))
    assert {"Id", "SyncToken", "TotalAmt", "Balance", "DueDate", "PrivateNote", "CustomField", "CustomerMemo",
            "EmailStatus", "LinkedTxn", "MetaData", "CustomerRef", "CurrencyRef", "DocNumber"} <= fields
    tagged = [i for i in invoices if i["CustomField"]]
    assert tagged[0]["CustomField"] == [{"DefinitionId": "1", "Name": "Cashline Risk", "Type": "StringType",
                                         "StringValue": "high"}]


@pytest.mark.parametrize("kind", sorted(query.PROPERTIES))
def test_queryable_properties_are_the_xsd_elements(finance_schema: Any, kind: str) -> None:
    """The query's property check (4001 for an unknown one) uses exactly the type's elements in Finance.xsd."""
    xsd_type = finance_schema.maps.types[f"{{http://schema.intuit.com/finance/v3}}{kind}"]
    assert query.PROPERTIES[kind] == {e.local_name.lower() for e in xsd_type.content.iter_elements()}
