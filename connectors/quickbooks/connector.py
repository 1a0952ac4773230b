"""QuickBooksConnector: the AccountingConnector for one QBO company, through python-quickbooks.

Reads use the query endpoint (paged, MetaData.LastUpdatedTime filters) and CDC; writes use the SDK's
objects (Payment.save, CreditMemo.save) or sparse updates, always with a ``requestid`` derived from the
caller's idempotency key, so a retried job replays instead of posting twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from quickbooks import QuickBooks
from quickbooks.mixins import DecimalEncoder
from quickbooks.objects.base import CustomerMemo, LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.payment import Payment as QbPayment
from quickbooks.objects.payment import PaymentLine

from addon.domain.types import (
    BankTransaction,
    BankTransactionKind,
    ChangeEvent,
    Contact,
    CreditApplication,
    CreditNote,
    EntityKind,
    Invoice,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
    Payment,
)
from connectors.base import AccountingConnector, ChangeSet, ConnectorConfig, Organisation, register
from connectors.errors import ConflictError, ConnectorError, ValidationError
from connectors.quickbooks import banking, mapping, webhooks
from connectors.quickbooks.client import QboClient
from connectors.tokens import TokenStore

logger = logging.getLogger(__name__)

Json = dict[str, Any]
CDC_WINDOW = timedelta(days=30)
CDC_SAFETY = timedelta(minutes=5)  # clock skew: do not ask CDC for something right at its edge
CDC_CAP = 1000
PAGE_SIZE = 1000
MAX_REQUEST_ID = 50
MAX_NOTE = 4000
MAX_CUSTOM_VALUE = 31
CDC_ENTITIES = ("Customer", "Invoice", "Payment", "CreditMemo")
_DELETED_KINDS = {"Customer": EntityKind.CONTACT, "Invoice": EntityKind.INVOICE,
                  "Payment": EntityKind.PAYMENT, "CreditMemo": EntityKind.CREDIT_NOTE}


def request_id(key: str, suffix: str = "") -> str:
    """A QBO ``requestid`` (<= 50 chars) derived deterministically from an idempotency key."""
    value = f"{key}:{suffix}" if suffix else key
    return value if len(value) <= MAX_REQUEST_ID else str(uuid.uuid5(uuid.NAMESPACE_URL, value))


def qbo_datetime(moment: datetime) -> str:
    """An aware datetime in the ISO form QBO accepts in queries and CDC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@register
class QuickBooksConnector(AccountingConnector):
    platform: ClassVar[str] = "qbo"
    # Account ids of a QBO sandbox company (the emulator's chart): Bank Charges, Exchange Gain or Loss.
    default_fee_account: ClassVar[str] = "8"
    default_fx_account: ClassVar[str] = "94"

    def __init__(self, config: ConnectorConfig, tenant_remote_id: str, tokens: TokenStore, *,
                 sleep: Callable[[float], None] = time.sleep, risk_field_name: str = "Cashline Risk",
                 home_currency: str | None = None, page_size: int = PAGE_SIZE, conflict_attempts: int = 3,
                 bank_account_id: str = "35") -> None:
        super().__init__(config, tenant_remote_id, tokens)
        # A late-bound lambda: connector_for() installs ``self.throttle`` after construction.
        self.client = QboClient(config, tenant_remote_id, tokens, sleep=sleep, throttle=lambda: self.throttle())
        self.risk_field_name = risk_field_name
        # The company's home currency, read from its Preferences when first needed unless given here.
        # (It used to default to GBP, which mislabelled every CurrencyRef-less document of a US, CA or
        # AU company as pounds.)
        self._home_currency = home_currency
        self._preferences: Json | None = None
        if not 0 < page_size <= PAGE_SIZE:
            # QBO refuses MAXRESULTS over 1000 (error 4001), so a bigger page could never be read.
            raise ValueError(f"page_size must be 1-{PAGE_SIZE}, got {page_size}")
        self.page_size = page_size
        self.conflict_attempts = conflict_attempts
        # Where received money lands and fees leave from, unless a write names its own bank account. A
        # statement line is money already in the bank, so payments go there, not to Undeposited Funds.
        self.bank_account_id = bank_account_id
        self._risk_definition: str | bool | None = False  # False: not looked up yet

    def sdk(self) -> QuickBooks:
        """The underlying python-quickbooks client (for callers that need an SDK object directly)."""
        return self.client.sdk()

    # --- reads -----------------------------------------------------------------------------------
    def _query_all(self, entity: str, modified_since: datetime | None) -> Iterator[Json]:
        where = f" WHERE MetaData.LastUpdatedTime >= '{qbo_datetime(modified_since)}'" if modified_since else ""
        start = 1
        while True:
            # Only our own constants and a formatted datetime go into the statement.
            statement = (f"SELECT * FROM {entity}{where} ORDERBY Id STARTPOSITION {start} "  # noqa: S608
                         f"MAXRESULTS {self.page_size}")
            data = self.client.call(lambda qb, s=statement: qb.query(s))  # type: ignore[misc]
            items: list[Json] = data.get("QueryResponse", {}).get(entity, [])
            yield from items
            if len(items) < self.page_size:
                return
            start += self.page_size

    def list_contacts(self, *, modified_since: datetime | None = None) -> Iterator[Contact]:
        """Customers changed since ``modified_since``."""
        return (mapping.to_contact(c) for c in self._query_all("Customer", modified_since))

    def list_invoices(self, *, modified_since: datetime | None = None) -> Iterator[Invoice]:
        """Invoices changed since ``modified_since``."""
        return (mapping.to_invoice(i, self._currency_of(i)) for i in self._query_all("Invoice", modified_since))

    def list_payments(self, *, modified_since: datetime | None = None) -> Iterator[Payment]:
        """Money received since ``modified_since`` (credit-memo applications are not payments)."""
        return (mapping.to_payment(p, self._currency_of(p)) for p in self._query_all("Payment", modified_since)
                if not mapping.is_credit_application(p))

    def list_credit_notes(self, *, modified_since: datetime | None = None) -> Iterator[CreditNote]:
        """Credit memos changed since ``modified_since``, without allocations: QBO keeps those on the
        Payments that apply the memos (``sweep`` and ``changes_since`` read them as credit applications)."""
        return (mapping.to_credit_note(m, self._currency_of(m))
                for m in self._query_all("CreditMemo", modified_since))

    def get_home_currency(self) -> str | None:
        """The company's HomeCurrency (Preferences.CurrencyPrefs), read once per connector."""
        if self._home_currency is None:
            self._home_currency = mapping.home_currency_of(self._company_preferences())
        return self._home_currency

    def get_organisation(self) -> Organisation:
        """HomeCurrency from the Preferences (cached) and the country from CompanyInfo: one more call than
        the home currency alone, made by the full sync only."""
        data = self.client.call(
            lambda qb: qb.get(f"{qb.api_url}/company/{self.tenant_remote_id}/companyinfo/{self.tenant_remote_id}",
                              {}))
        return Organisation(home_currency=self.get_home_currency(),
                            country=mapping.country_of(dict(data.get("CompanyInfo") or {})))

    def _currency_of(self, entity: Json) -> str:
        """The document's CurrencyRef, else the home currency (asked of QBO only when a document lacks one)."""
        currency = mapping.ref(entity, "CurrencyRef") or self.get_home_currency()
        if currency is None:
            raise ConnectorError("QuickBooks gave neither a CurrencyRef nor the company's HomeCurrency")
        return currency

    def _company_preferences(self) -> Json:
        if self._preferences is None:
            data = self.client.call(
                lambda qb: qb.get(f"{qb.api_url}/company/{self.tenant_remote_id}/preferences", {}))
            self._preferences = dict(data.get("Preferences") or {})
        return self._preferences

    def _read(self, entity: str, entity_id: str) -> Json:
        data = self.client.call(lambda qb: qb.get_single_object(entity, entity_id))
        result: Json = data[entity]
        return result

    def get_invoice(self, invoice_id: str) -> Invoice:
        """One invoice, fresh from QBO."""
        invoice = self._read("Invoice", invoice_id)
        return mapping.to_invoice(invoice, self._currency_of(invoice))

    def get_contact(self, contact_id: str) -> Contact:
        """One customer, fresh from QBO."""
        return mapping.to_contact(self._read("Customer", contact_id))

    def changes_since(self, since: datetime) -> ChangeSet:
        """CDC for the last 30 days (deleted ids included); a full query sweep beyond it or past its cap."""
        if since < datetime.now(UTC) - CDC_WINDOW + CDC_SAFETY:
            logger.info("changes since %s are beyond CDC's 30 days; sweeping with queries", since)
            return self.sweep(since)
        names = ",".join(CDC_ENTITIES)
        data = self.client.call(lambda qb: qb.change_data_capture(names, qbo_datetime(since)))
        found: dict[str, list[Json]] = {name: [] for name in CDC_ENTITIES}
        for response in data["CDCResponse"][0]["QueryResponse"]:
            for name in CDC_ENTITIES:
                found[name].extend(response.get(name, []))
        if sum(len(v) for v in found.values()) >= CDC_CAP:
            logger.info("CDC hit its %d-object cap; sweeping with queries instead", CDC_CAP)
            return self.sweep(since)
        deleted = {_DELETED_KINDS[n].value: [str(e["Id"]) for e in found[n] if e.get("status") == "Deleted"]
                   for n in CDC_ENTITIES}
        live = {n: [e for e in found[n] if e.get("status") != "Deleted"] for n in CDC_ENTITIES}
        payments, applications = self._receipts(live["Payment"])
        return ChangeSet(
            contacts=[mapping.to_contact(c) for c in live["Customer"]],
            invoices=[mapping.to_invoice(i, self._currency_of(i)) for i in live["Invoice"]],
            payments=payments,
            credit_notes=[mapping.to_credit_note(m, self._currency_of(m)) for m in live["CreditMemo"]],
            deleted={k: v for k, v in deleted.items() if v},
            credit_applications=applications)

    def sweep(self, since: datetime | None = None) -> ChangeSet:
        """The query sweep (the backfill, and CDC's fallback), reading Payments once for both the money
        received and the credit memos they apply (the query endpoint cannot filter on LinkedTxn)."""
        payments, applications = self._receipts(self._query_all("Payment", since))
        return ChangeSet(
            contacts=list(self.list_contacts(modified_since=since)),
            invoices=list(self.list_invoices(modified_since=since)),
            payments=payments,
            credit_notes=list(self.list_credit_notes(modified_since=since)), deleted={},
            credit_applications=applications)

    def _receipts(self, raw: Iterable[Json]) -> tuple[list[Payment], list[CreditApplication]]:
        """QBO Payments split into money received and credit-memo applications (dated by their TxnDate)."""
        payments: list[Payment] = []
        applications: list[CreditApplication] = []
        for p in raw:
            if not mapping.is_credit_application(p):
                payments.append(mapping.to_payment(p, self._currency_of(p)))
            if (application := mapping.to_credit_application(p)) is not None:
                applications.append(application)
        return payments, applications

    # --- writes ----------------------------------------------------------------------------------
    def create_payment(self, payment: NewPayment, *, idempotency_key: str,
                       part_refusals: Mapping[str, int] | None = None) -> Payment:
        """Payment.save with one line per invoice, under a requestid from the key (one request, saved whole
        or not at all, so ``part_refusals`` has no part to name).

        TotalAmt is all the money received: what the lines do not apply (``payment.unapplied``) stays
        on the payment as UnappliedAmt, QBO's unapplied credit for the customer.
        """
        if not payment.allocations:
            raise ValidationError("a payment needs at least one invoice allocation")
        rid = request_id(idempotency_key)

        def save(qb: QuickBooks) -> Json:
            # Built afresh per attempt: save() sets Id on success, which would turn a retry into an update.
            obj = _payment_object(payment.contact_id, payment.amount, payment.date.isoformat(),
                                  [("Invoice", a.invoice_id, a.amount) for a in payment.allocations])
            if payment.reference:
                obj.PaymentRefNum = payment.reference[:21]
            obj.DepositToAccountRef = _ref(payment.account_code or self.bank_account_id)
            saved: Json = obj.save(qb=qb, request_id=rid).to_dict()
            return saved

        saved = self.client.call(save)
        return mapping.to_payment(saved, self._currency_of(saved))

    def create_bank_transaction(self, txn: NewBankTransaction, *, idempotency_key: str) -> BankTransaction:
        """A Purchase (money out, e.g. bank charges) or Deposit (money in, e.g. an FX gain)."""
        bank = txn.bank_account_code or self.bank_account_id
        build = banking.purchase if txn.kind is BankTransactionKind.SPEND else banking.deposit

        def save(qb: QuickBooks) -> Json:
            saved: Json = build(txn, bank).save(qb=qb, request_id=request_id(idempotency_key)).to_dict()
            return saved

        saved = self.client.call(save)
        return banking.to_bank_transaction(saved, self._currency_of(saved))

    def create_credit_note(self, credit: NewCreditNote, *, idempotency_key: str) -> CreditNote:
        """CreditMemo.save, then a zero-amount Payment whose lines apply it to the invoices."""
        allocated = sum((a.amount for a in credit.allocations), Decimal("0"))
        if allocated > credit.amount:
            raise ValidationError(f"allocations {allocated} exceed the credit amount {credit.amount}")

        def save_memo(qb: QuickBooks) -> Json:
            memo = CreditMemo()
            memo.CustomerRef = _ref(credit.contact_id)
            memo.TxnDate = credit.date.isoformat()
            memo.PrivateNote = credit.reason
            memo.CustomerMemo = CustomerMemo()
            memo.CustomerMemo.value = credit.reason[:1000]
            line = SalesItemLine()
            line.Amount = credit.amount
            line.Description = credit.reason[:4000]
            line.SalesItemLineDetail = SalesItemLineDetail()
            line.SalesItemLineDetail.ItemRef = _ref("1")
            memo.Line = [line]
            saved: Json = memo.save(qb=qb, request_id=request_id(idempotency_key, "cm")).to_dict()
            return saved

        memo = self.client.call(save_memo)
        if credit.allocations:
            links = [("Invoice", a.invoice_id, a.amount) for a in credit.allocations]
            links.append(("CreditMemo", str(memo["Id"]), allocated))

            def apply(qb: QuickBooks) -> None:
                obj = _payment_object(credit.contact_id, Decimal("0"), credit.date.isoformat(), links)
                obj.save(qb=qb, request_id=request_id(idempotency_key, "apply"))

            self.client.call(apply)
            memo = self._read("CreditMemo", str(memo["Id"]))
        return mapping.to_credit_note(memo, self._currency_of(memo), applied=credit.allocations)

    def add_invoice_note(self, invoice_id: str, text: str, *, idempotency_key: str) -> None:
        """Append ``text`` to the invoice's PrivateNote (keeping what is there) with a sparse update."""

        def change(invoice: Json) -> Json:
            old = str(invoice.get("PrivateNote") or "")
            note = f"{old}\n{text}" if old else text
            return {"PrivateNote": note[-MAX_NOTE:]}  # over the limit, the oldest text goes first

        self._sparse_update("Invoice", invoice_id, change, request_id(idempotency_key))

    def set_risk_tag(self, invoice_id: str, band: str, text: str, *, idempotency_key: str) -> None:
        """Write the band into the company's risk custom field if it has one, else append to the note."""
        definition = self._risk_field()
        if definition is None:
            self.add_invoice_note(invoice_id, text, idempotency_key=idempotency_key)
            return
        field = {"DefinitionId": definition, "Name": self.risk_field_name, "Type": "StringType",
                 "StringValue": band[:MAX_CUSTOM_VALUE]}
        self._sparse_update("Invoice", invoice_id, lambda _inv: {"CustomField": [field]},
                            request_id(idempotency_key))

    def _risk_field(self) -> str | None:
        if self._risk_definition is False:
            self._risk_definition = mapping.risk_field_definition(self._company_preferences(),
                                                                  self.risk_field_name)
        return self._risk_definition if isinstance(self._risk_definition, str) else None

    def _sparse_update(self, entity: str, entity_id: str, change: Callable[[Json], Json], rid: str) -> Json:
        # SyncToken conflicts (5010) mean someone changed the entity since we read it: re-read and
        # re-apply. The same requestid is reused, so an update that did land is replayed, not repeated.
        for attempt in range(1, self.conflict_attempts + 1):
            current = self._read(entity, entity_id)
            body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True, **change(current)}
            payload = json.dumps(body, cls=DecimalEncoder)
            try:
                data = self.client.call(lambda qb, p=payload: qb.update_object(entity, p, request_id=rid))  # type: ignore[misc]
            except ConflictError:
                if attempt == self.conflict_attempts:
                    raise
                logger.info("stale SyncToken on %s %s; re-reading (attempt %d)", entity, entity_id, attempt)
                continue
            result: Json = data[entity]
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # --- webhooks --------------------------------------------------------------------------------
    @staticmethod
    def verify_webhook(body: bytes, signature: str | None, key: str) -> bool:
        """Check ``intuit-signature`` (HMAC-SHA256 with the verifier token, base64) in constant time."""
        return webhooks.verify(body, signature, key)

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeEvent]:
        """Legacy ``eventNotifications`` or a CloudEvents array -> change events."""
        return webhooks.parse(body)


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _payment_object(customer_id: str, total: Decimal, txn_date: str,
                    links: list[tuple[str, str, Decimal]]) -> QbPayment:
    obj = QbPayment()
    obj.CustomerRef = _ref(customer_id)
    obj.TotalAmt = total
    obj.TxnDate = txn_date
    for txn_type, txn_id, amount in links:
        line = PaymentLine()
        line.Amount = amount
        link = LinkedTxn()
        link.TxnId = txn_id
        link.TxnType = txn_type
        line.LinkedTxn = [link]
        obj.Line.append(line)
    return obj

