"""XeroConnector: the AccountingConnector for one Xero organisation, over the official xero-python SDK.

Every SDK call goes through ``_call``: fresh tokens from the TokenStore (refreshed through it, so a
rotated refresh token is persisted before use), one refresh-and-retry on 401, SDK/urllib3 exceptions
mapped to typed connector errors, and rate limits / transient failures retried by connectors.retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import requests
import urllib3
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import Account as XAccount
from xero_python.accounting.models import (
    Allocation as XAllocation,
)
from xero_python.accounting.models import (
    Allocations,
    BankTransactions,
    BatchPayments,
    CreditNotes,
    CurrencyCode,
    HistoryRecord,
    HistoryRecords,
    LineAmountTypes,
    LineItem,
    Payments,
)
from xero_python.accounting.models import (
    BankTransaction as XBankTransaction,
)
from xero_python.accounting.models import (
    BatchPayment as XBatchPayment,
)
from xero_python.accounting.models import (
    Contact as XContact,
)
from xero_python.accounting.models import (
    CreditNote as XCreditNote,
)
from xero_python.accounting.models import (
    Invoice as XInvoice,
)
from xero_python.accounting.models import (
    Payment as XPayment,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import ApiException

from addon.domain.types import (
    Allocation,
    BankTransaction,
    BankTransactionKind,
    ChangeEvent,
    Contact,
    CreditNote,
    Invoice,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
    Payment,
    TokenSet,
)
from connectors.base import AccountingConnector, ConnectorConfig, Organisation, part_key, register
from connectors.countries import country_code
from connectors.errors import (
    NotFoundError,
    PartiallyPostedError,
    TransientError,
    ValidationError,
)
from connectors.retry import MAX_ATTEMPTS, call_with_retries
from connectors.tokens import TokenStore, utcnow
from connectors.xero import auth, mapping, webhooks
from connectors.xero.faults import map_api_exception

T = TypeVar("T")

PAGE_SIZE = 100
OVERPAYMENT_PART = "-overpayment"  # what the overpayment's idempotency key adds to the payment's


def _of_type(items: list[Any] | None, kind: str) -> list[Any]:
    # Xero serves bills (ACCPAY) and supplier credit notes by the same endpoints, and its INVOICE and
    # CREDITNOTE webhooks announce them too: the receivables side only ever sees the sales ones.
    return [item for item in items or [] if mapping.enum_value(item.type) == kind]



@register
class XeroConnector(AccountingConnector):
    platform: ClassVar[str] = "xero"
    default_fee_account: ClassVar[str] = "404"  # Bank Fees in Xero's standard chart
    default_fx_account: ClassVar[str] = "475"  # Foreign Exchange Gains and Losses (see the emulator's chart)

    def __init__(self, config: ConnectorConfig, tenant_remote_id: str, tokens: TokenStore, *,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = utcnow,
                 max_attempts: int = MAX_ATTEMPTS, page_size: int = PAGE_SIZE,
                 payment_account_code: str = "090", sales_account_code: str = "200",
                 session: requests.Session | None = None) -> None:
        super().__init__(config, tenant_remote_id, tokens)
        self._sleep, self._now, self._max_attempts, self.page_size = sleep, now, max_attempts, page_size
        self.payment_account_code, self.sales_account_code = payment_account_code, sales_account_code
        self._session = session  # used for identity calls (token refresh)
        self._access_token = ""
        self._base_currency: str | None = None  # read once, when a payment first needs it
        self._account_ids: dict[str, str] = {}  # bank account code -> AccountID
        client = ApiClient(Configuration(oauth2_token=OAuth2Token(config.client_id, config.client_secret)),
                           pool_threads=1, oauth2_token_getter=self._sdk_token,
                           oauth2_token_saver=lambda _token: None)
        # urllib3 would otherwise sleep on a 429's Retry-After itself (up to a minute, blocking the worker)
        # and retry connection errors silently: retries belong to connectors.retry, so switch it off.
        client.rest_client.pool_manager.connection_pool_kw.update(
            retries=urllib3.Retry(total=0, redirect=0, respect_retry_after_header=False, raise_on_status=False),
            timeout=urllib3.Timeout(connect=10.0, read=60.0))
        self.api = AccountingApi(client, base_url=config.api_url.rstrip("/") + "/api.xro/2.0")

    # --- tokens and the call template --------------------------------------------------------
    def _sdk_token(self) -> dict[str, Any]:
        # No expiry and no refresh token: the SDK must never refresh by itself (we do, via the store).
        return {"access_token": self._access_token, "scope": "", "expires_in": None, "token_type": "Bearer",
                "expires_at": None}

    def _do_refresh(self, stale: TokenSet) -> TokenSet:
        return auth.refresh(self.config, stale, now=self._now, session=self._session)

    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retries(lambda: self._attempt(fn), max_attempts=self._max_attempts, sleep=self._sleep)

    def _attempt(self, fn: Callable[[], T]) -> T:
        return self.tokens.call(self._now(), self._do_refresh, lambda tokens: self._invoke(fn, tokens),
                                f"Xero tenant {self.tenant_remote_id}")

    def _invoke(self, fn: Callable[[], T], tokens: TokenSet) -> T:
        self._access_token = tokens.access_token
        try:
            # One SDK call is one HTTP request: hold a slot of the per-tenant limiter while it runs.
            with self.throttle():
                return fn()
        except ApiException as exc:
            raise map_api_exception(exc, tokens.scope) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"network failure talking to Xero: {exc}") from exc

    def _pages(self, fetch: Callable[[int], list[Any]]) -> Iterator[Any]:
        page = 1
        while True:
            items = self._call(lambda p=page: fetch(p))  # type: ignore[misc]
            yield from items
            if len(items) < self.page_size:
                return
            page += 1

    # --- reads -------------------------------------------------------------------------------
    def list_contacts(self, *, modified_since: datetime | None = None) -> Iterator[Contact]:
        """Contacts changed since ``modified_since`` (archived included), paged."""
        fetch = lambda p: self.api.get_contacts(  # noqa: E731
            self.tenant_remote_id, **self._since(modified_since), page=p, page_size=self.page_size,
            include_archived=True).contacts or []
        return (mapping.to_contact(c) for c in self._pages(fetch))

    def list_invoices(self, *, modified_since: datetime | None = None) -> Iterator[Invoice]:
        """Sales (ACCREC) invoices changed since ``modified_since``, paged."""
        fetch = lambda p: self.api.get_invoices(  # noqa: E731
            self.tenant_remote_id, **self._since(modified_since), where='Type=="ACCREC"', page=p,
            page_size=self.page_size).invoices or []
        return (mapping.to_invoice(i) for i in self._pages(fetch))

    def list_payments(self, *, modified_since: datetime | None = None) -> Iterator[Payment]:
        """Customer payments (ACCRECPAYMENT) changed since ``modified_since``, paged."""
        fetch = lambda p: self.api.get_payments(  # noqa: E731
            self.tenant_remote_id, **self._since(modified_since), where='PaymentType=="ACCRECPAYMENT"', page=p,
            page_size=self.page_size).payments or []
        return (mapping.to_payment(x) for x in self._pages(fetch))

    def list_credit_notes(self, *, modified_since: datetime | None = None) -> Iterator[CreditNote]:
        """Sales credit notes (ACCRECCREDIT) changed since ``modified_since``, paged."""
        fetch = lambda p: self.api.get_credit_notes(  # noqa: E731
            self.tenant_remote_id, **self._since(modified_since), where='Type=="ACCRECCREDIT"', page=p,
            page_size=self.page_size).credit_notes or []
        return (mapping.to_credit_note(n) for n in self._pages(fetch))

    @staticmethod
    def _since(modified_since: datetime | None) -> dict[str, Any]:
        if modified_since is None:
            return {}
        # Xero reads If-Modified-Since as UTC "yyyy-mm-ddThh:mm:ss".
        return {"if_modified_since": mapping.aware(modified_since).strftime("%Y-%m-%dT%H:%M:%S")}  # type: ignore[union-attr]

    def get_home_currency(self) -> str | None:
        """GET /Organisation -> BaseCurrency (needs accounting.settings.read, which Cashline asks for)."""
        return self.get_organisation().home_currency

    def get_organisation(self) -> Organisation:
        """One GET /Organisation: BaseCurrency and CountryCode (an ISO 3166 code in Xero's CountryCode enum)."""
        orgs = self._call(lambda: self.api.get_organisations(self.tenant_remote_id).organisations or [])
        if not orgs:
            return Organisation()
        return Organisation(home_currency=mapping.enum_value(orgs[0].base_currency),
                            country=country_code(mapping.enum_value(orgs[0].country_code)))

    def get_invoice(self, invoice_id: str) -> Invoice:
        """One sales invoice by id (raises NotFoundError, for a bill too)."""
        return self._get_one("invoice", invoice_id, lambda: _of_type(
            self.api.get_invoice(self.tenant_remote_id, invoice_id).invoices, "ACCREC"), mapping.to_invoice)

    def get_contact(self, contact_id: str) -> Contact:
        """One contact by id (raises NotFoundError)."""
        return self._get_one("contact", contact_id,
                             lambda: self.api.get_contact(self.tenant_remote_id, contact_id).contacts,
                             mapping.to_contact)

    def get_credit_note(self, credit_note_id: str) -> CreditNote:
        """One sales credit note by id (raises NotFoundError, for a supplier credit note too)."""
        return self._get_one("credit note", credit_note_id, lambda: _of_type(
            self.api.get_credit_note(self.tenant_remote_id, credit_note_id).credit_notes, "ACCRECCREDIT"),
            mapping.to_credit_note)

    def _get_one(self, what: str, entity_id: str, fetch: Callable[[], list[Any] | None],
                 to_domain: Callable[[Any], T]) -> T:
        # A single-entity GET answers with a list of zero or one; an empty one is a NotFoundError too.
        found = self._call(lambda: fetch() or [])
        if not found:
            raise NotFoundError(f"{what} {entity_id} not found", status=404)
        return to_domain(found[0])

    # --- writes ------------------------------------------------------------------------------
    def create_payment(self, payment: NewPayment, *, idempotency_key: str,
                       part_refusals: Mapping[str, int] | None = None) -> Payment:
        """Apply ``payment`` to its invoices under the idempotency key; an unapplied remainder becomes an
        Overpayment under ``<key>-overpayment``.

        One allocation is one ``PUT /Payments``. Several are one **batch payment** (``PUT /BatchPayments``):
        one document that Xero saves whole or not at all, shown in its bank reconciliation as the one
        deposit it is. Xero's API makes batch payments in the base currency only, so a foreign-currency
        payment over several invoices is sent as one single-element ``PUT /Payments`` per invoice (keys
        ``<key>:<n>``): each request is atomic, and if a later one is refused the error is a
        PartiallyPostedError naming what was saved and the refused part (``:<n>``, ``-overpayment``), never a
        silent half-post. A part refused before (``part_refusals``) is sent under a fresh key
        (``<key>-overpayment-retry1``): Xero may replay a refusal for its old key, while the saved parts
        keep theirs and replay.

        Xero refuses payments above the amount due, so overpaid money cannot ride on the payment itself
        (unlike QBO): it is received as a RECEIVE-OVERPAYMENT bank transaction, a credit on the contact.
        """
        if not payment.allocations:
            raise ValidationError("a payment needs at least one allocation")
        bank_code = payment.account_code or self.payment_account_code
        parts: tuple[str, ...] = ()
        if len(payment.allocations) == 1:
            made = [self._single_payment(payment, payment.allocations[0], bank_code, idempotency_key)]
            remote_id = made[0].remote_id
        elif payment.currency.upper() == (self._home_currency() or "").upper():
            remote_id, made = self._batch_payment(payment, bank_code, idempotency_key)
            parts = tuple(p.remote_id for p in made)
        else:
            made = self._separate_payments(payment, bank_code, idempotency_key, part_refusals)
            remote_id, parts = made[0].remote_id, tuple(p.remote_id for p in made)
        overpayment_id = None
        if payment.unapplied > 0:
            try:
                overpayment_id = self.create_overpayment(
                    payment, idempotency_key=part_key(idempotency_key, OVERPAYMENT_PART, part_refusals))
            except ValidationError as exc:
                raise PartiallyPostedError(f"the payment was posted but its overpayment was refused: {exc}",
                                           saved=[remote_id, *parts], part=OVERPAYMENT_PART, errors=exc.errors,
                                           body=exc.body) from exc
        if len(made) == 1 and overpayment_id is None:
            return made[0]
        return Payment(remote_id=remote_id, contact_id=payment.contact_id, date=payment.date, amount=payment.amount,
                       currency=payment.currency, allocations=tuple(a for p in made for a in p.allocations),
                       unapplied_amount=payment.unapplied, reference=payment.reference,
                       updated_at=made[0].updated_at, overpayment_id=overpayment_id, part_ids=parts)

    def _single_payment(self, payment: NewPayment, allocation: Allocation, bank_code: str, key: str) -> Payment:
        # One element per request: Xero cannot half-save it.
        item = XPayment(invoice=XInvoice(invoice_id=allocation.invoice_id), account=XAccount(code=bank_code),
                        date=payment.date, amount=allocation.amount, reference=payment.reference)
        created = self._call(lambda: self.api.create_payments(
            self.tenant_remote_id, Payments(payments=[item]), idempotency_key=key).payments or [])
        return mapping.to_payment(created[0])

    def _batch_payment(self, payment: NewPayment, bank_code: str, key: str) -> tuple[str, list[Payment]]:
        """PUT /BatchPayments: the BatchPaymentID and its payments (one per allocation)."""
        items = [XPayment(invoice=XInvoice(invoice_id=a.invoice_id), amount=a.amount, reference=payment.reference)
                 for a in payment.allocations]
        batch = XBatchPayment(account=XAccount(account_id=self._bank_account_id(bank_code)), date=payment.date,
                              reference=payment.reference, payments=items)
        created = self._call(lambda: self.api.create_batch_payment(
            self.tenant_remote_id, BatchPayments(batch_payments=[batch]), idempotency_key=key).batch_payments or [])
        made = created[0]
        parts = [Payment(remote_id=str(p.payment_id), contact_id=payment.contact_id, date=payment.date,
                         amount=mapping.money(p.amount), currency=payment.currency,
                         allocations=(Allocation(str(p.invoice.invoice_id), mapping.money(p.amount)),),
                         reference=p.reference or None, updated_at=mapping.aware(made.updated_date_utc))
                 for p in made.payments or []]
        return str(made.batch_payment_id), parts

    def _separate_payments(self, payment: NewPayment, bank_code: str, key: str,
                           part_refusals: Mapping[str, int] | None) -> list[Payment]:
        made: list[Payment] = []
        for n, allocation in enumerate(payment.allocations):
            try:
                made.append(self._single_payment(payment, allocation, bank_code,
                                                 part_key(key, f":{n}", part_refusals)))
            except ValidationError as exc:
                if not made:
                    raise
                saved = [p.remote_id for p in made]
                raise PartiallyPostedError(
                    f"{len(made)} of {len(payment.allocations)} payments posted ({', '.join(saved)}) before "
                    f"Xero refused the payment to invoice {allocation.invoice_id}: {exc}",
                    saved=saved, part=f":{n}", errors=exc.errors, body=exc.body) from exc
        return made

    def _home_currency(self) -> str | None:
        if self._base_currency is None:
            self._base_currency = self.get_home_currency() or ""
        return self._base_currency

    def _bank_account_id(self, code: str) -> str:
        """The AccountID of the bank account with this code: a batch payment names its account by id."""
        if code not in self._account_ids:
            accounts = self._call(lambda: self.api.get_accounts(self.tenant_remote_id).accounts or [])
            self._account_ids.update({str(a.code): str(a.account_id) for a in accounts if a.code and a.account_id})
        if code not in self._account_ids:
            raise ValidationError(f"Account code '{code}' is not a valid bank account.")
        return self._account_ids[code]

    def create_overpayment(self, payment: NewPayment, *, idempotency_key: str) -> str:
        """Receive ``payment.unapplied`` as a RECEIVE-OVERPAYMENT; returns the OverpaymentID.

        Its single line carries no AccountCode: Xero codes overpayments to Accounts Receivable itself.
        """
        line = LineItem(description=f"Overpayment {payment.reference or ''}".strip(), line_amount=payment.unapplied)
        txn = XBankTransaction(type="RECEIVE-OVERPAYMENT", contact=XContact(contact_id=payment.contact_id),
                               bank_account=XAccount(code=payment.account_code or self.payment_account_code),
                               date=payment.date, line_amount_types=LineAmountTypes.NOTAX,
                               currency_code=CurrencyCode(payment.currency), line_items=[line],
                               reference=payment.reference)
        created = self._call(lambda: self.api.create_bank_transactions(
            self.tenant_remote_id, BankTransactions(bank_transactions=[txn]),
            idempotency_key=idempotency_key).bank_transactions or [])
        return str(created[0].overpayment_id)

    def create_bank_transaction(self, txn: NewBankTransaction, *, idempotency_key: str) -> BankTransaction:
        """Spend or receive money coded to ``txn.account_code`` (Xero SPEND / RECEIVE bank transaction)."""
        bank_code = txn.bank_account_code or self.payment_account_code
        body = XBankTransaction(
            type="SPEND" if txn.kind is BankTransactionKind.SPEND else "RECEIVE",
            contact=XContact(contact_id=txn.contact_id), bank_account=XAccount(code=bank_code), date=txn.date,
            line_amount_types=LineAmountTypes.NOTAX, currency_code=CurrencyCode(txn.currency),
            reference=txn.reference,
            line_items=[LineItem(description=txn.description, quantity=1, unit_amount=txn.amount,
                                 account_code=txn.account_code, tax_type="NONE")])
        created = self._call(lambda: self.api.create_bank_transactions(
            self.tenant_remote_id, BankTransactions(bank_transactions=[body]),
            idempotency_key=idempotency_key).bank_transactions or [])
        return mapping.to_bank_transaction(created[0])

    def create_credit_note(self, credit: NewCreditNote, *, idempotency_key: str) -> CreditNote:
        """Create an authorised ACCRECCREDIT and allocate it; each step is idempotent on a derived key."""
        note = XCreditNote(type="ACCRECCREDIT", contact=XContact(contact_id=credit.contact_id), date=credit.date,
                           status="AUTHORISED", line_amount_types=LineAmountTypes.NOTAX,
                           currency_code=CurrencyCode(credit.currency),
                           reference=credit.reason[:255],
                           line_items=[LineItem(description=credit.reason, quantity=1, unit_amount=credit.amount,
                                                account_code=self.sales_account_code, tax_type="NONE")])
        created = self._call(lambda: self.api.create_credit_notes(
            self.tenant_remote_id, CreditNotes(credit_notes=[note]), idempotency_key=idempotency_key).credit_notes)
        note_id = str(created[0].credit_note_id)
        for n, alloc in enumerate(credit.allocations):
            body = Allocations(allocations=[XAllocation(invoice=XInvoice(invoice_id=alloc.invoice_id),
                                                        amount=alloc.amount, date=credit.date)])
            self._call(lambda b=body, k=f"{idempotency_key}:alloc:{n}": self.api.create_credit_note_allocation(  # type: ignore[misc]
                self.tenant_remote_id, note_id, b, idempotency_key=k))
        return self.get_credit_note(note_id)

    def add_invoice_note(self, invoice_id: str, text: str, *, idempotency_key: str) -> None:
        """Append an invoice history record (Xero shows it in the invoice's History & Notes)."""
        records = HistoryRecords(history_records=[HistoryRecord(details=text[:2500])])
        self._call(lambda: self.api.create_invoice_history(self.tenant_remote_id, invoice_id, records,
                                                           idempotency_key=idempotency_key))

    def invoice_history(self, invoice_id: str) -> list[str]:
        """The invoice's history record texts, oldest first."""
        result = self._call(lambda: self.api.get_invoice_history(self.tenant_remote_id, invoice_id))
        return [str(r.details) for r in (result.history_records or [])]

    # --- webhooks ----------------------------------------------------------------------------
    @staticmethod
    def verify_webhook(body: bytes, signature: str | None, key: str) -> bool:
        """Constant-time check of ``x-xero-signature`` over the raw body."""
        return webhooks.verify(body, signature, key)

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeEvent]:
        """Parse a verified delivery into change events (ValueError when malformed)."""
        return webhooks.parse(body)
