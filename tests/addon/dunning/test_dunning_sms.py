"""SMS stages end to end: the in-memory platform's contacts carry mobiles, the mirror keeps them in E.164,
the dunning run texts through the Twilio provider (the official SDK) to the Twilio emulator, with the
e-mail path's exactly-once claim, audit and ERP notes; STOP suppresses texting, an invalid number fails
its action onto the worklist, an outage defers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from addon.mail.sms import sms_provider_from_config
from addon.models import AuditLog, Customer, DunningAction, DunningStage, Suppression
from addon.services.dunning import DunningMailer, open_tasks, run_dunning
from addon.services.dunning_policies import ensure_default_policy
from connectors.fake import InMemoryConnector
from connectors.twilio.emulator.app import DEFAULT_FROM
from connectors.twilio.emulator.testing import TwilioSandbox, start_twilio_emulator
from tests.addon.dunning.conftest import DUE, at, contact, invoice, make_mailer

MOBILE = "+447911123456"
NOW = at(DUE + timedelta(days=10))  # overdue_7 is due for both customers


@pytest.fixture
def platform() -> InMemoryConnector:
    """Acme has a mobile (typed the British way, read in the tenant's country GB); Globex has none."""
    connector = InMemoryConnector(tenant_remote_id="org-dun")
    acme = dataclasses.replace(contact("C1", "Acme Ltd", "ap@acme.example"), mobile="07911 123456")
    connector.seed(contacts=[acme, contact("C2", "Globex BV", "ar@globex.example")],
                   invoices=[invoice("I1", "C1"), invoice("I2", "C2", "250.00")])
    return connector


@pytest.fixture
def twilio() -> Iterator[TwilioSandbox]:
    with start_twilio_emulator() as sandbox:
        yield sandbox


@pytest.fixture
def sms_stage(db, ledger) -> None:  # type: ignore[no-untyped-def]
    """The +7 stage texts instead of e-mailing."""
    ensure_default_policy(db, ledger.tenant)
    db.scalar(select(DunningStage).where(DunningStage.tenant_id == ledger.tenant.id,
                                         DunningStage.key == "overdue_7")).channel = "sms"
    db.commit()


def texting(port: int, twilio: TwilioSandbox) -> DunningMailer:
    base = make_mailer(port)
    return DunningMailer(base.sender, base.settings, base.tokens, base.public_url,
                         sms_provider_from_config(twilio.config()))


def _row(db, key: str) -> DunningAction:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == key))


def test_the_mirror_holds_the_mobile_in_e164(db, ledger) -> None:
    mobiles = {c.remote_id: c.mobile for c in db.scalars(select(Customer))}
    assert mobiles == {"C1": MOBILE, "C2": None}


def test_an_sms_stage_texts_a_customer_with_a_mobile_and_emails_one_without(db, ledger, sms_stage, smtp_server,
                                                                          twilio) -> None:
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, texting(smtp_server.port, twilio))
    assert summary["sent"] == 2
    [text] = twilio.state.messages
    assert (text["to"], text["from"]) == (MOBILE, DEFAULT_FROM)
    # The stage template's subject line (rendered in the sandbox), the amount, the link, the opt-out.
    assert text["body"] == ("Reminder: overdue payment to Example Supplies Ltd. Due: £100.00. "
                            "Pay: https://pay.example/I1 Reply STOP to opt out.")
    assert text["num_segments"] == "1"
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ar@globex.example"]]  # no mobile: e-mail
    row = _row(db, "I1:overdue_7")
    assert (row.status, row.channel, row.recipient) == ("sent", "sms", MOBILE)
    assert row.message_id == f"twilio:{text['sid']}"
    assert _row(db, "I2:overdue_7").channel == "email"
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "reminder.sent", AuditLog.object_id == "I1"))
    assert (audit.after["channel"], audit.after["provider_id"], audit.after["recipients"]) == (
        "sms", text["sid"], [MOBILE])
    assert ledger.platform.notes["I1"] == ["Reminder 3 (firm) sent by SMS"]
    # Exactly once: the next run the same day texts nobody again.
    again = run_dunning(db, ledger.tenant, ledger.platform, NOW + timedelta(minutes=5),
                        texting(smtp_server.port, twilio))
    assert again.get("sent", 0) == 0
    assert len(twilio.state.messages) == 1


def test_without_a_provider_an_sms_stage_emails(db, ledger, sms_stage, smtp_server, twilio) -> None:
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, make_mailer(smtp_server.port))
    assert summary["sent"] == 2
    assert twilio.state.messages == []
    assert sorted(m.rcpt_tos[0] for m in smtp_server.sink.arrived) == ["ap@acme.example", "ar@globex.example"]
    assert "SMS off" in _row(db, "I1:overdue_7").reason


def test_stop_suppresses_texting_and_the_reminder_goes_by_email(db, ledger, sms_stage, smtp_server,
                                                                twilio) -> None:
    twilio.state.stop(MOBILE)
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, texting(smtp_server.port, twilio))
    assert summary["sms_stopped"] == 1
    assert twilio.state.messages == []
    assert _row(db, "I1:overdue_7") is None  # the claim went back: the next run plans it again
    stop = db.scalar(select(Suppression).where(Suppression.channel == "sms", Suppression.address == MOBILE))
    assert stop.reason == "sms_stop"
    assert db.scalar(select(AuditLog).where(AuditLog.action == "reminder.sms_stopped")).after["error"].startswith(
        "Twilio 21610")
    # The next run e-mails Acme instead, and never tries the number again.
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW + timedelta(hours=1),
                          texting(smtp_server.port, twilio))
    assert summary["sent"] == 1
    row = _row(db, "I1:overdue_7")
    assert (row.status, row.channel, row.recipient) == ("sent", "email", "ap@acme.example")
    assert "opted out of texts" in row.reason
    assert twilio.state.messages == []


def test_an_invalid_number_fails_its_action_onto_the_worklist(db, ledger, sms_stage, smtp_server, twilio) -> None:
    db.scalar(select(Customer).where(Customer.remote_id == "C1")).mobile = "+15005550001"  # Twilio: 21211
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, texting(smtp_server.port, twilio))
    assert summary["failed"] == 1
    row = _row(db, "I1:overdue_7")
    assert (row.status, row.channel, row.attempts) == ("failed", "sms", 1)
    assert row.error.startswith("invalid mobile number +15005550001: Twilio 21211")
    [task] = [t for t in open_tasks(db, ledger.tenant, NOW) if t["number"] == "INV-I1"]
    assert task["why"].startswith("SMS failed: invalid mobile number +15005550001")
    assert db.scalar(select(Suppression.reason).where(
        Suppression.channel == "sms", Suppression.address == "+15005550001")) == "sms_invalid"
    # A later stage e-mails rather than failing the same way.
    later = run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=18)),
                        texting(smtp_server.port, twilio))
    assert later["sent"] == 2
    assert _row(db, "I1:overdue_14").channel == "email"


def test_a_provider_outage_defers_and_the_next_run_texts(db, ledger, sms_stage, smtp_server, twilio) -> None:
    twilio.state.outages = 1
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, texting(smtp_server.port, twilio))
    assert summary["deferred"] == 1
    assert _row(db, "I1:overdue_7") is None
    assert "503" in db.scalar(select(AuditLog).where(AuditLog.action == "reminder.deferred")).after["error"]
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW + timedelta(hours=1),
                          texting(smtp_server.port, twilio))
    assert summary["sent"] == 1
    assert [m["to"] for m in twilio.state.messages] == [MOBILE]


def test_bad_twilio_credentials_stop_the_run(db, ledger, sms_stage, smtp_server, twilio) -> None:
    mailer = texting(smtp_server.port, twilio)
    twilio.state.auth_token = "rotated"
    summary = run_dunning(db, ledger.tenant, ledger.platform, NOW, mailer)
    assert summary["mail_error"] == 1
    assert _row(db, "I1:overdue_7") is None  # released: sent once the credentials are fixed
    assert "Twilio 20003" in db.scalar(select(AuditLog).where(AuditLog.action == "reminder.deferred")).after["error"]


def test_the_preview_shows_sms_when_a_provider_is_configured(db, ledger, sms_stage) -> None:
    from addon.services.dunning import preview

    day = NOW.date()
    channels = {a["customer"]: a["channel"] for a in preview(db, ledger.tenant, day, sms_enabled=True)}
    assert channels == {"Acme Ltd": "sms", "Globex BV": "email"}
    assert {a["channel"] for a in preview(db, ledger.tenant, day)} == {"email"}
