"""End to end over the engine and email: daily runs plan reminders, compose them and send them to a
real SMTP server; assert what arrived (order, tone, timing, headers), that paying stops a sequence,
that approval holds the final notice, and that SMTP outages neither lose nor duplicate reminders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from addon.domain.dunning import (
    Channel,
    DunningCustomer,
    DunningInvoice,
    DunningSettings,
    SentStage,
    default_policy,
    plan_reminders,
)
from addon.mail import (
    Company,
    MailSettings,
    MailUnavailableError,
    SmtpSender,
    UnsubscribeTokens,
    compose_reminder,
)

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday
D0 = START.date()


class Harness:
    """What the RQ job will do, in miniature: plan from fresh state, send, record only what was accepted."""

    def __init__(self, port: int, invoices: list[DunningInvoice], customers: list[DunningCustomer]) -> None:
        self.mail = MailSettings(host="127.0.0.1", port=port, mail_from="ar@supplier.example",
                                 inbound_reply_domain="in.cashline.example", timeout=5)
        self.sender = SmtpSender(self.mail, sleep=lambda _: None, max_attempts=2)
        self.invoices = {i.invoice_id: i for i in invoices}
        self.customers = {c.customer_id: c for c in customers}
        self.history: list[SentStage] = []
        self.sent_at: dict[str, list[datetime]] = defaultdict(list)
        self.approved: set[str] = set()
        self.waiting: list[str] = []
        self.tokens = UnsubscribeTokens("test-secret")
        self.settings = DunningSettings(statutory_pack="uk",
                                        reference_rates=((date(2026, 6, 30), Decimal("4.00")),))

    def run(self, day: int, sender: SmtpSender | None = None) -> None:
        now = START + timedelta(days=day)
        customers = [replace(c, last_reminders=tuple(self.sent_at[c.customer_id]))
                     for c in self.customers.values()]
        for action in plan_reminders(self.invoices.values(), customers, default_policy(), self.history, now,
                                     self.settings):
            if action.needs_approval and action.action_key not in self.approved:
                self.waiting.append(action.action_key)
                continue
            assert action.channel is Channel.EMAIL
            url = self.tokens.url("https://app.example", "t1", action.customer_id)
            msg = compose_reminder(action, settings=self.mail, company=Company("Supplier Ltd"),
                                   customer_name=self.customers[action.customer_id].name, tenant_key="t1",
                                   unsubscribe_url=url, sent_at=action.send_at)
            try:
                result = (sender or self.sender).send(msg)
            except MailUnavailableError:
                continue  # nothing recorded: the next run plans it again
            assert result.sent
            self.history += [SentStage(*k.split(":")) for k in action.exactly_once_keys]
            self.sent_at[action.customer_id].append(action.send_at)


def inv(invoice_id: str, customer_id: str, due_day: int, amount: str = "500.00") -> DunningInvoice:
    due = D0 + timedelta(days=due_day)
    return DunningInvoice(invoice_id, f"INV-{invoice_id}", customer_id, "GBP", Decimal(amount), due,
                          due - timedelta(days=30), payment_url=f"https://in.xero.com/{invoice_id}")


@pytest.fixture
def harness(smtp_server):
    customers = [
        DunningCustomer("A", "Acme Ltd", ("ap@acme.example",), timezone="Europe/London"),
        DunningCustomer("B", "Bluth plc", ("ap@bluth.example",), timezone="America/New_York"),
    ]
    invoices = [inv("A1", "A", 3, "1500.00"), inv("B1", "B", 3)]
    return Harness(smtp_server.port, invoices, customers), smtp_server.sink


def arrived_for(sink, address):
    return [a.message for a in sink.arrived if address in a.rcpt_tos]


def test_sequence_arrives_in_order_with_tone_timing_and_headers(harness):
    h, sink = harness
    for day in range(0, 45):
        h.run(day)
    subjects = [m["Subject"] for m in arrived_for(sink, "ap@acme.example")]
    assert subjects == [
        "Upcoming payment to Supplier Ltd",
        "Payment due today: Supplier Ltd",
        "Reminder: overdue payment to Supplier Ltd",
        "Second reminder: overdue payment to Supplier Ltd",
        "Urgent: payment more than 30 days overdue",
    ]
    for message in arrived_for(sink, "ap@acme.example"):
        local = parsedate_to_datetime(message["Date"]).astimezone(ZoneInfo("Europe/London"))
        assert local.weekday() < 5
        assert 8 <= local.hour < 20
        assert message["Reply-To"] == "reply+t1@in.cashline.example"
        assert message["Message-ID"].endswith("@supplier.example>")
        unsubscribe = str(message["List-Unsubscribe"]).strip()
        assert unsubscribe.startswith("<https://app.example/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = unsubscribe[1:-1].rsplit("/", 1)[1]
        assert h.tokens.read(token) == ("t1", "A")
        assert "https://in.xero.com/A1" in message.get_content()
    # Dates follow the schedule: due day 3 -> -3 (day 0), 0 (day 3), +7 (day 10), +14 (day 17), and +30
    # falls on Saturday 5 December (day 33), so it waits for Monday (day 35).
    days = [(parsedate_to_datetime(m["Date"]).date() - D0).days for m in arrived_for(sink, "ap@acme.example")]
    assert days == [0, 3, 10, 17, 35]
    ny = [parsedate_to_datetime(m["Date"]) for m in arrived_for(sink, "ap@bluth.example")]
    assert all(t.astimezone(ZoneInfo("America/New_York")).hour == 9 for t in ny)


def test_final_notice_waits_for_approval_and_carries_statutory_claim(harness):
    h, sink = harness
    for day in range(0, 50):
        h.run(day)
    assert not any("Final notice" in m["Subject"] for m in arrived_for(sink, "ap@acme.example"))
    waiting = {key for key in h.waiting if key.startswith("A/")}
    assert waiting == {"A/email/A1:final"}  # on the worklist, the same action every run
    h.approved |= waiting
    h.run(50)
    final = arrived_for(sink, "ap@acme.example")[-1]
    assert final["Subject"].startswith("Final notice")
    body = final.get_content()
    assert "Late Payment of Commercial Debts (Interest) Act 1998" in body
    assert "fixed compensation of £70.00" in body


def test_paying_an_invoice_stops_its_sequence(harness):
    h, sink = harness
    for day in range(0, 11):
        h.run(day)
    before = len(arrived_for(sink, "ap@bluth.example"))
    assert before == 3  # -3, 0, +7
    h.invoices["B1"] = replace(h.invoices["B1"], paid=True, amount_due=Decimal("0"))
    for day in range(11, 50):
        h.run(day)
    assert len(arrived_for(sink, "ap@bluth.example")) == before
    assert len(arrived_for(sink, "ap@acme.example")) == 5


def test_smtp_outage_is_caught_up_without_duplicates(harness, closed_port):
    h, sink = harness
    down = SmtpSender(replace(h.mail, port=closed_port), sleep=lambda _: None, max_attempts=2)
    for day in range(0, 10):
        h.run(day)
    h.run(10, sender=down)  # the +7 reminders cannot go out
    assert len(arrived_for(sink, "ap@acme.example")) == 2
    h.run(10)  # a retry the same day
    h.run(10)  # and a rerun after that
    h.run(11)
    subjects = [m["Subject"] for m in arrived_for(sink, "ap@acme.example")]
    assert subjects.count("Reminder: overdue payment to Supplier Ltd") == 1
    message_ids = [a.message["Message-ID"] for a in sink.arrived]
    assert len(message_ids) == len(set(message_ids))


def test_frequency_cap_limits_reminders_per_rolling_week(smtp_server):
    customers = [DunningCustomer("C", "Cyberdyne", ("ap@cyber.example",), timezone="Europe/London")]
    # Due dates one day apart: without the cap this customer would hear from us almost every day.
    invoices = [inv(f"C{n}", "C", n) for n in range(0, 10)]
    h = Harness(smtp_server.port, invoices, customers)
    for day in range(0, 30):
        h.run(day)
    times = sorted(parsedate_to_datetime(m["Date"]) for m in arrived_for(smtp_server.sink, "ap@cyber.example"))
    assert len(times) >= 4
    for i, t in enumerate(times):
        assert len([u for u in times[: i + 1] if t - u < timedelta(days=7)]) <= 2
