"""The subset of QBO's query language that real clients send, parsed and evaluated over dict entities.

``SELECT * | COUNT(*) FROM Entity [WHERE cond AND cond ...] [ORDERBY field [ASC|DESC], ...]
[STARTPOSITION n] [MAXRESULTS n]``; conditions are ``field op value`` (=, !=, <, <=, >, >=), ``LIKE``
with ``%`` only, and ``IN (...)``. No OR, JOIN or GROUP BY, as in QBO. MAXRESULTS over 1000 or under 1, an
unknown entity, a WHERE or ORDERBY on a property the entity lacks, a WHERE on one Intuit does not mark filterable or
an ORDERBY on one it does not mark sortable, and a date literal that is not a date (CURRENT_DATE included:
QBO's language has no such keyword) are refused (4001).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.quickbooks.emulator import faults

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),*])
                        |(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<num>-?\d+(?:\.\d+)?))""", re.VERBOSE)
_OPS = ("=", "!=", "<>", "<", "<=", ">", ">=", "LIKE", "IN")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[str, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_RESULTS


def tokenize(text: str) -> list[str]:
    """Split a statement into tokens; quoted strings keep their quotes."""
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise faults.query_error(f"unexpected input at position {pos}: {text[pos:pos + 20]!r}")
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, n: int = 0) -> str:
        index = self.pos + n
        return self.tokens[index].upper() if index < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise faults.query_error(f"unexpected end of statement, expected {expected or 'more'}")
        token = self.tokens[self.pos]
        if expected and token.upper() != expected:
            raise faults.query_error(f"expected {expected}, found {token!r}")
        self.pos += 1
        return token

    def int_value(self) -> int:
        token = self.take()
        try:
            return int(token.strip("'"))
        except ValueError:
            raise faults.query_error(f"expected a number, found {token!r}") from None


def parse(text: str) -> Query:
    """Parse one SELECT statement (raises a 4000 QueryParserError Fault)."""
    p = _Parser(tokenize(text))
    p.take("SELECT")
    count = p.peek() == "COUNT"
    while p.peek() and p.peek() != "FROM":
        p.take()  # the projection is ignored: QBO returns whole entities for SELECT *
    p.take("FROM")
    query = Query(entity=p.take(), count=count)
    if p.peek() == "WHERE":
        p.take()
        query.conditions.append(_condition(p))
        while p.peek() == "AND":
            p.take()
            query.conditions.append(_condition(p))
        if p.peek() == "OR":
            raise faults.query_error("OR is not supported")
    _tail(p, query)
    return query


def _condition(p: _Parser) -> Condition:
    name = p.take()
    op = p.take().upper()
    if op not in _OPS:
        raise faults.query_error(f"unsupported operator {op!r}")
    if op == "IN":
        p.take("(")
        values = [_literal(p.take())]
        while p.peek() == ",":
            p.take()
            values.append(_literal(p.take()))
        p.take(")")
        return Condition(name, op, tuple(values))
    return Condition(name, "!=" if op == "<>" else op, (_literal(p.take()),))


def _tail(p: _Parser, query: Query) -> None:
    while p.peek():
        word = p.take().upper()
        if word == "ORDER" and p.peek() == "BY":
            p.take()
            word = "ORDERBY"
        if word == "ORDERBY":
            query.order.append(_order_item(p))
            while p.peek() == ",":
                p.take()
                query.order.append(_order_item(p))
        elif word == "STARTPOSITION":
            query.start = max(1, p.int_value())
        elif word == "MAXRESULTS":
            query.max_results = _max_results(p.int_value())
        else:
            raise faults.query_error(f"unexpected {word!r}")


def _max_results(value: int) -> int:
    # QBO refuses a page over the limit rather than shortening it: a client that trusted a silent cap
    # would take the short page for the last one and stop paging. It refuses an empty page size too
    # ("value 0 is too small. Min allowed value is 1", a real answer quoted in docs/quickbooks.md), rather
    # than answer no rows, which a paging client would take for the end of the data.
    if value > MAX_RESULTS:
        raise faults.query_invalid(f"value {value} is too large. Max allowed value is {MAX_RESULTS}")
    if value < 1:
        raise faults.query_invalid(f"value {value} is too small. Min allowed value is 1")
    return value


def _order_item(p: _Parser) -> tuple[str, bool]:
    name = p.take()
    descending = False
    if p.peek() in ("ASC", "DESC"):
        descending = p.take().upper() == "DESC"
    return name, descending


def _literal(token: str) -> str:
    if token.startswith("'"):
        return token[1:-1].replace("\\'", "'")
    return token


# --- evaluation ----------------------------------------------------------------------------------
def resolve(entity: dict[str, Any], path: str) -> Any:
    """Value of a dotted field; reference types (``CustomerRef``) compare on their ``value``."""
    value: Any = entity
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == part.lower()), None)
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _comparable(value: Any, literal: str) -> tuple[Any, Any]:
    if isinstance(value, bool):
        return value, literal.lower() == "true"
    try:
        return Decimal(str(value)), Decimal(literal)
    except (InvalidOperation, ValueError):
        pass
    left, right = _as_time(str(value)), _as_time(literal)
    if left is not None and right is not None:
        return left, right
    return str(value).casefold(), literal.casefold()


def _as_time(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches(entity: dict[str, Any], cond: Condition) -> bool:
    """Does ``entity`` satisfy one WHERE condition?"""
    value = resolve(entity, cond.field)
    if value is None:
        return False
    if cond.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(part) for part in cond.values[0].split("%")) + "$"
        return re.match(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    if cond.op == "IN":
        return any(_compare(value, "=", v) for v in cond.values)
    return _compare(value, cond.op, cond.values[0])


def _compare(value: Any, op: str, literal: str) -> bool:
    left, right = _comparable(value, literal)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    except TypeError:
        return False


def run(query: Query, entities: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Filter, order and page; returns (page, total matching)."""
    hits = [e for e in entities if all(matches(e, c) for c in query.conditions)]
    for name, descending in reversed(query.order):
        hits.sort(key=_sort_by(name), reverse=descending)
    return hits[query.start - 1:query.start - 1 + query.max_results], len(hits)


def _sort_by(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda entity: _sort_key(resolve(entity, name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    try:
        return (1, Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return (2, str(value).casefold())


# --- metadata ------------------------------------------------------------------------------------
# Each entity's properties (child elements, base types included) in Finance.xsd. QBO checks a WHERE
# against them and answers 4001 for one the entity lacks, so a misspelt filter is never "no rows".
_WORDS = str.split
_ENTITY = _WORDS("Id SyncToken MetaData CustomField AttachableRef")
_TXN = _ENTITY + _WORDS("DocNumber TxnDate DepartmentRef CurrencyRef ExchangeRate PrivateNote TxnStatus LinkedTxn "
                        "Line TxnTaxDetail TxnSource TaxFormType TaxFormNum TransactionLocationType Tag "
                        "TxnApprovalInfo RecurDataRef RecurringInfo ProjectRef TotalCostAmount HomeTotalCostAmount")
_SALES = _TXN + _WORDS(
    "AutoDocNumber CustomerRef CustomerMemo BillAddr ShipAddr FreeFormAddress ShipFromAddr RemitToRef ClassRef "
    "SalesTermRef DueDate SalesRepRef PONumber FOB ShipMethodRef ShipDate TrackingNum GlobalTaxCalculation "
    "TotalAmt HomeTotalAmt ApplyTaxAfterDiscount ShippingTaxIncludedInTotalTax TemplateRef PrintStatus "
    "EmailStatus BillEmail BillEmailCc BillEmailBcc ARAccountRef Balance HomeBalance FinanceCharge "
    "PaymentMethodRef PaymentRefNum PaymentType CheckPayment CreditCardPayment DepositToAccountRef DeliveryInfo "
    "DiscountRate DiscountAmt GovtTxnRefIdentifier TaxExemptionRef")
PROPERTIES: dict[str, frozenset[str]] = {kind: frozenset(name.lower() for name in names) for kind, names in {
    "Customer": _ENTITY + _WORDS(
        "IntuitId Organization Title GivenName MiddleName FamilyName Suffix FullyQualifiedName CompanyName "
        "DisplayName PrintOnCheckName UserId Active V4IDPseudonym PrimaryPhone AlternatePhone Mobile Fax "
        "PrimaryEmailAddr WebAddr OtherContactInfo DefaultTaxCodeRef Taxable BillAddr ShipAddr OtherAddr "
        "ContactName AltContactName Notes Job BillWithParent RootCustomerRef ParentRef Level CustomerTypeRef "
        "SalesTermRef SalesRepRef TaxGroupCodeRef TaxRateRef PaymentMethodRef CCDetail PriceLevelRef Balance "
        "OpenBalanceDate BalanceWithJobs CreditLimit AcctNum CurrencyRef OverDueBalance TotalRevenue "
        "TotalExpense PreferredDeliveryMethod ResaleNum JobInfo TDSEnabled CustomerEx SecondaryTaxIdentifier "
        "ARAccountRef PrimaryTaxIdentifier TaxExemptionReasonId IsProject BusinessNumber GSTIN "
        "GSTRegistrationType IsCISContractor ClientCompanyId ClientEntityId Source TaxRegime"),
    "Invoice": _SALES + _WORDS(
        "Deposit AllowIPNPayment AllowOnlinePayment AllowOnlineCreditCardPayment AllowOnlineACHPayment "
        "AllowOnlinePayPalPayment EInvoiceStatus ECloudStatusTimeStamp CfdiUse Exportation GlobalInfo "
        "invoiceStatus callToAction invoiceStatusLog InvoiceEx LessCIS InvoiceLink PaymentDetailsMessage "
        "ConvenienceFeeDetail InvoiceLinkSecurityCode InvoiceLinkExpiryDate AutoPayEligible SchedulePayEligible "
        "ScheduledPaymentId GratuityEnabled FinancingProductType SubscriptionPaymentsSetting"),
    "CreditMemo": _SALES + _WORDS("RemainingCredit InvoiceRef CreditMemoEx"),
    "Payment": _TXN + _WORDS(
        "CustomerRef RemitToRef ARAccountRef DepositToAccountRef PaymentMethodRef PaymentRefNum PaymentType "
        "CheckPayment CreditCardPayment TotalAmt UnappliedAmt ProcessPayment PaymentEx"),
    "Account": _ENTITY + _WORDS(
        "Name SubAccount ParentRef Description FullyQualifiedName AccountAlias TxnLocationType Active "
        "Classification AccountType AccountSubType AccountPurposes AcctNum AcctNumExtn BankNum OpeningBalance "
        "OpeningBalanceDate CurrentBalance CurrentBalanceWithSubAccounts CurrencyRef TaxAccount TaxCodeRef "
        "OnlineBankingEnabled FIName JournalCodeRef AccountEx"),
    "Purchase": _TXN + _WORDS(
        "AccountRef PaymentMethodRef PaymentRefNum PaymentType CheckPayment CreditCardPayment EntityRef Credit "
        "RemitToAddr TotalAmt TxnId TxnNum Memo PrintStatus GlobalTaxCalculation PurchaseEx LessCIS "
        "IncludeInAnnualTPAR"),
    "Deposit": _TXN + _WORDS("DepositToAccountRef CashBack GlobalTaxCalculation TotalAmt HomeTotalAmt DepositEx"),
}.items()}
# ModificationMetaData, the one nested type queries reach into (MetaData.LastUpdatedTime); QBO filters and
# sorts on its two timestamps only.
_META = frozenset(n.lower() for n in _WORDS("CreatedByRef CreateTime LastModifiedByRef LastUpdatedTime "
                                            "LastChangedInQB Synchronized"))
_META_QUERYABLE = frozenset({"createtime", "lastupdatedtime"})


def _lower(names: str) -> frozenset[str]:
    return frozenset(name.lower() for name in names.split())


# The properties Intuit's API reference marks "filterable" (WHERE) and "sortable" (ORDERBY), per entity;
# MetaData.CreateTime and MetaData.LastUpdatedTime are both on every entity. Anything else the entity has is
# 4001 "property 'X' is not queryable" (the text QBO sends, quoted in quickbooks-ruby#403 and
# QuickBooks-V3-DotNET-SDK#163). Sources, and which entries are assumptions: docs/quickbooks.md.
FILTERABLE: dict[str, frozenset[str]] = {
    "Invoice": _lower("Id DocNumber TxnDate DueDate CustomerRef Balance TotalAmt SalesTermRef ProjectRef "
                      "CurrencyRef"),
    "CreditMemo": _lower("Id DocNumber TxnDate CustomerRef Balance TotalAmt RemainingCredit"),
    "Payment": _lower("Id TxnDate CustomerRef TotalAmt UnappliedAmt"),
    "Customer": _lower("Id DisplayName GivenName MiddleName FamilyName Suffix CompanyName FullyQualifiedName "
                       "PrintOnCheckName PrimaryEmailAddr Active Balance"),
    "Account": _lower("Id Name Description Classification FullyQualifiedName AccountType AccountSubType ParentRef "
                      "Active SubAccount CurrentBalance CurrentBalanceWithSubAccounts"),
    "Purchase": _lower("Id DocNumber TxnDate PaymentType TotalAmt"),
    "Deposit": _lower("Id TxnDate TotalAmt"),
}
SORTABLE: dict[str, frozenset[str]] = {
    "Invoice": _lower("Id DocNumber TxnDate DueDate Balance TotalAmt"),
    "CreditMemo": _lower("Id DocNumber TxnDate Balance TotalAmt"),
    "Payment": _lower("Id"),
    "Customer": _lower("Id DisplayName GivenName MiddleName FamilyName Suffix CompanyName FullyQualifiedName "
                       "PrintOnCheckName Balance"),
    "Account": _lower("Id Name Description Classification FullyQualifiedName AccountType AccountSubType "
                      "CurrentBalance CurrentBalanceWithSubAccounts"),
    "Purchase": _lower("Id DocNumber TxnDate TotalAmt"),
    "Deposit": _lower("Id TxnDate TotalAmt"),
}
# The operators each kind of filterable property takes, per the table of allowed operators by data type
# (String: all; ReferenceType and enums: =, IN, LIKE; Boolean: =, IN; Decimal, IdType and dates: the
# comparisons and IN, no LIKE), as Coupler.io's copy of Intuit's query documentation gives it. != is not in
# Intuit's operator list; the emulator accepts it wherever = is (an assumption, see docs/quickbooks.md).
_EQUALITY = frozenset({"=", "!=", "IN"})
_COMPARISON = _EQUALITY | {"<", "<=", ">", ">="}
_OPERATORS_BY_KIND = {"reference": _EQUALITY | {"LIKE"}, "enum": _EQUALITY | {"LIKE"}, "boolean": _EQUALITY,
                      "ordered": _COMPARISON}
_PROPERTY_KIND = {
    **dict.fromkeys(_lower("CustomerRef SalesTermRef ProjectRef CurrencyRef ParentRef"), "reference"),
    **dict.fromkeys(_lower("AccountType PaymentType"), "enum"),
    **dict.fromkeys(_lower("Active SubAccount"), "boolean"),
    **dict.fromkeys(_lower("Id Balance TotalAmt RemainingCredit UnappliedAmt CurrentBalance "
                           "CurrentBalanceWithSubAccounts TxnDate DueDate MetaData.CreateTime "
                           "MetaData.LastUpdatedTime"), "ordered"),
}
# xs:date and xs:dateTime properties: a literal compared with one must be a real date. The emulator refuses
# the statement (4001, where Intuit files every statement that parses but is invalid) rather than compare
# '2026-02-30' as text and answer "no rows"; Intuit does not document the exact text of this fault.
_DATES = frozenset({"txndate", "duedate", "shipdate", "openbalancedate", "openingbalancedate",
                    "metadata.createtime", "metadata.lastupdatedtime"})


def bind(query: Query, known: tuple[str, ...]) -> str:
    """The canonical name of ``query.entity`` (case-insensitive, as QBO), its WHERE and ORDERBY checked
    against it.

    An entity outside ``known``, a property (dotted path included) the entity does not have, a WHERE on one
    QBO does not filter on, an ORDERBY on one it does not sort on, or a date literal that is not a date is a
    4001 QueryValidationError, as QBO answers.
    """
    kind = next((k for k in known if k.lower() == query.entity.lower()), None)
    if kind is None:
        raise faults.query_invalid(f"Metadata not found for Entity: {query.entity}")
    properties = PROPERTIES.get(kind)
    if properties is None:
        return kind
    for cond in query.conditions:
        _check_property(kind, cond.field, properties, sorting=False)
    for name, _ in query.order:
        _check_property(kind, name, properties, sorting=True)
    for cond in query.conditions:
        _check_operator(cond)
        _check_dates(cond)
    return kind


def _check_operator(cond: Condition) -> None:
    kind = _PROPERTY_KIND.get(cond.field.lower())
    if kind is not None and cond.op not in _OPERATORS_BY_KIND[kind]:
        # The code follows Intuit's split (4000 does not parse, 4001 parses but is invalid); the text is the
        # emulator's own: no public response shows QBO's.
        raise faults.query_invalid(f"operator {cond.op} is not supported for property '{cond.field}'")


def _check_property(kind: str, path: str, properties: frozenset[str], *, sorting: bool) -> None:
    head, *rest = path.lower().split(".")
    # Only MetaData has children a query can name; CustomerRef compares on its value without one.
    exists = head in properties and (not rest or (head == "metadata" and len(rest) == 1 and rest[0] in _META))
    if not exists:
        raise faults.query_invalid(f"Property {path} not found for Entity {kind}")
    if head == "metadata":
        if not rest or rest[0] not in _META_QUERYABLE:
            raise faults.query_invalid(f"property '{path}' is not queryable")
        return
    if head not in FILTERABLE[kind] and (not sorting or head not in SORTABLE[kind]):
        raise faults.query_invalid(f"property '{path}' is not queryable")
    if sorting and head not in SORTABLE[kind]:
        # Filterable but not sortable (CustomerRef, Active): Intuit does not publish the text; assumption.
        raise faults.query_invalid(f"property '{path}' is not sortable")


def _check_dates(cond: Condition) -> None:
    if cond.field.lower() not in _DATES or cond.op == "LIKE":
        return
    for value in cond.values:
        # QBO's query language has no CURRENT_DATE (or any other function or keyword for today): Intuit's
        # grammar allows only quoted or bare literals, true and false. A bare CURRENT_DATE is a literal that
        # is not a date, refused like '2026-02-30' rather than compared as text (docs/quickbooks.md).
        if _as_time(value) is None:
            raise faults.query_invalid(f"'{value}' is not a valid date for {cond.field}")
