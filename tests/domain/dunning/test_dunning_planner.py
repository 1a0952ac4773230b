"""plan_reminders: stage choice, consolidation, exactly-once, catch-up, stops, risk, channels, statutory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from addon.domain.dunning import (
    Channel,
    ChaseHold,
    DunningSettings,
    Policy,
    PolicySet,
    RiskBand,
    SentStage,
    Stage,
    StageConditions,
    Tone,
    default_policy,
    exactly_once_key,
    plan_reminders,
    plan_run,
)

NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)  # Wednesday 06:00 in London


def plan(invoices, customers, history=(), now=NOW, policy=None, **settings):
    return plan_reminders(invoices, customers, policy or default_policy(), history, now,
                          DunningSettings(**settings))


@pytest.mark.parametrize(("days_overdue", "stage"), [
    (-4, None), (-3, "pre_due"), (-1, "pre_due"), (0, "due"), (6, "due"), (7, "overdue_7"),
    (13, "overdue_7"), (14, "overdue_14"), (30, "overdue_30"), (44, "overdue_30"), (45, "final"),
    (400, "final"),
])
def test_latest_due_stage_is_chosen(days_overdue, stage, make_invoice, make_customer):
    actions = plan([make_invoice(days_overdue)], [make_customer()])
    assert [a.stage_key for a in actions] == ([stage] if stage else [])


def test_one_consolidated_reminder_per_customer(make_invoice, make_customer):
    invoices = [make_invoice(8, invoice_id="I1", number="INV-1"),
                make_invoice(31, invoice_id="I2", number="INV-2"),
                make_invoice(0, invoice_id="I3", number="INV-3"),
                make_invoice(8, invoice_id="I4", number="INV-4", customer_id="C2")]
    customers = [make_customer(), make_customer(customer_id="C2", emails=("ap@two.example",))]
    actions = {a.customer_id: a for a in plan(invoices, customers)}
    assert set(actions) == {"C1", "C2"}
    one = actions["C1"]
    assert one.invoice_ids == ("I2", "I1", "I3")  # oldest due first
    assert one.stage_key == "overdue_30"
    assert one.tone is Tone.URGENT
    assert one.exactly_once_keys == ("I2:overdue_30", "I1:overdue_7", "I3:due")
    assert [ln.stage_key for ln in one.lines] == ["overdue_30", "overdue_7", "due"]
    assert one.recipients == ("ap@acme.example",)
    assert "3 invoice(s) consolidated" in one.reason
    assert all(ln.reason.startswith(ln.number) for ln in one.lines)


def test_exactly_once_a_stage_never_fires_twice(make_invoice, make_customer):
    inv, cust = make_invoice(8), make_customer()
    [first] = plan([inv], [cust])
    history = [SentStage(*key.split(":")) for key in first.exactly_once_keys]
    assert plan([inv], [cust], history) == []
    assert plan([inv], [cust], history, now=NOW + timedelta(days=5)) == []  # +13: still overdue_7
    [later] = plan([inv], [cust], history, now=NOW + timedelta(days=6))
    assert later.exactly_once_keys == (exactly_once_key("I1", "overdue_14"),)


def test_missed_runs_catch_up_with_only_the_latest_stage(make_invoice, make_customer):
    # Nothing was sent for 20 overdue days (worker down): one reminder at the stage the invoice is at now.
    [action] = plan([make_invoice(20)], [make_customer()], [SentStage("I1", "pre_due")])
    assert action.exactly_once_keys == ("I1:overdue_14",)
    assert "catch-up: due, overdue_7 not sent in time, superseded" in action.lines[0].reason


def test_earlier_stage_never_fires_after_a_later_one(make_invoice, make_customer):
    assert plan([make_invoice(20)], [make_customer()], [SentStage("I1", "overdue_14")]) == []


def test_pre_due_heads_up_is_not_sent_once_overdue(make_invoice, make_customer):
    policy = Policy("p", "P", (Stage("soon", -3, Tone.FRIENDLY), Stage("late", 10, Tone.FIRM)))
    assert plan([make_invoice(2)], [make_customer()], policy=policy) == []
    assert [a.stage_key for a in plan([make_invoice(-2)], [make_customer()], policy=policy)] == ["soon"]


def test_daily_runs_over_sixty_days_send_each_stage_once_in_order(make_invoice, make_customer):
    inv, cust = make_invoice(-5), make_customer()
    history: list[SentStage] = []
    fired: list[tuple[str, int]] = []
    for day in range(60):
        for action in plan([inv], [cust], history, now=NOW + timedelta(days=day)):
            for key in action.exactly_once_keys:
                history.append(SentStage(*key.split(":")))
                fired.append((key.split(":")[1], day - 5))
    assert fired == [("pre_due", -3), ("due", 0), ("overdue_7", 7), ("overdue_14", 14),
                     ("overdue_30", 30), ("final", 45)]


@pytest.mark.parametrize("flag", ["paid", "voided", "credited", "disputed"])
def test_stopped_invoices_are_never_chased(flag, make_invoice, make_customer):
    result = plan_run([make_invoice(30, **{flag: True})], [make_customer()], default_policy(), [], NOW)
    assert result.actions == ()
    assert [(s.invoice_id, s.reason) for s in result.skipped] == [("I1", flag)]


def test_promise_to_pay_pauses_until_the_promised_date(make_invoice, make_customer, today):
    inv = make_invoice(30, promise_to_pay_until=today + timedelta(days=3))
    assert plan([inv], [make_customer()]) == []
    assert [a.stage_key for a in plan([inv], [make_customer()], now=NOW + timedelta(days=4))] == ["overdue_30"]


def test_paid_invoice_drops_out_of_the_consolidated_reminder(make_invoice, make_customer):
    invoices = [make_invoice(8, invoice_id="I1"), make_invoice(9, invoice_id="I2", paid=True)]
    [action] = plan(invoices, [make_customer()])
    assert action.invoice_ids == ("I1",)


def test_missing_email_becomes_a_worklist_task(make_invoice, make_customer):
    [action] = plan([make_invoice(8)], [make_customer(emails=())])
    assert action.channel is Channel.TASK
    assert action.recipients == ()
    assert action.send_at == NOW
    assert "no usable email address" in action.reason


def test_an_unsubscribed_customer_is_a_worklist_task_saying_why(make_invoice, make_customer):
    # Unsubscribing puts every address of the customer on the suppression list: that is the opt-out.
    cust = make_customer(emails=("ap@acme.example", "boss@acme.example"))
    [action] = plan_reminders([make_invoice(8)], [cust], default_policy(), [], NOW,
                              suppressed={"ap@acme.example", "boss@acme.example"})
    assert (action.channel, action.recipients) == (Channel.TASK, ())
    assert "every one is on the suppression list: unsubscribed or bounced" in action.reason


def test_a_customer_without_addresses_is_a_worklist_task_saying_why(make_invoice, make_customer):
    [action] = plan([make_invoice(8)], [make_customer(emails=())])
    assert "no usable email address (none on record)" in action.reason


def test_invoice_billing_contact_wins_over_contact_record(make_invoice, make_customer):
    invoices = [make_invoice(8, invoice_id="I1", billing_email="billing@acme.example"),
                make_invoice(9, invoice_id="I2")]
    [action] = plan(invoices, [make_customer()])
    assert action.recipients == ("billing@acme.example",)


def test_payment_link_is_carried_per_invoice(make_invoice, make_customer):
    [action] = plan([make_invoice(8, payment_url="https://in.xero.com/abc")], [make_customer()])
    assert action.lines[0].payment_url == "https://in.xero.com/abc"


def test_final_notice_needs_approval(make_invoice, make_customer):
    [action] = plan([make_invoice(45)], [make_customer()])
    assert action.needs_approval
    [action] = plan([make_invoice(30)], [make_customer()])
    assert not action.needs_approval


def test_stage_conditions_filter_invoices(make_invoice, make_customer):
    policy = Policy("p", "P", (
        Stage("nudge", 0, Tone.FRIENDLY),
        Stage("call", 10, Tone.FIRM, channel=Channel.TASK, conditions=StageConditions(min_amount=Decimal("1000"))),
    ))
    small = plan([make_invoice(12, amount_due=Decimal("999"))], [make_customer()], policy=policy)
    big = plan([make_invoice(12, amount_due=Decimal("1000"))], [make_customer()], policy=policy)
    assert [(a.stage_key, a.channel) for a in small] == [("nudge", Channel.EMAIL)]
    assert [(a.stage_key, a.channel) for a in big] == [("call", Channel.TASK)]


def test_high_risk_moves_faster_and_records_why(make_invoice, make_customer):
    [action] = plan([make_invoice(5, risk_band=RiskBand.HIGH)], [make_customer()])
    assert action.stage_key == "overdue_7"  # +7 pulled in to +5 (x0.75)
    assert "high risk: +7 -> +5 days" in action.lines[0].reason
    [normal] = plan([make_invoice(5, risk_band=RiskBand.MEDIUM)], [make_customer()])
    assert normal.stage_key == "due"
    assert "standard schedule (medium risk)" in normal.lines[0].reason


def test_reliable_payer_gets_fewer_gentler_touches(make_invoice, make_customer):
    reliable = make_customer(reliable=True)
    assert plan([make_invoice(-2)], [reliable]) == []  # no pre-due heads-up
    [action] = plan([make_invoice(8)], [reliable])
    assert action.tone is Tone.FRIENDLY
    assert action.reliable_payer
    assert "reliable payer" in action.lines[0].reason
    # +14 is skipped for reliable payers: at +20 nothing new after +7 was sent
    assert plan([make_invoice(20)], [reliable], [SentStage("I1", "overdue_7")]) == []


def test_high_risk_overrides_a_reliable_history(make_invoice, make_customer):
    [action] = plan([make_invoice(8, risk_band=RiskBand.HIGH)], [make_customer(reliable=True)])
    assert action.tone is Tone.FIRM
    assert not action.reliable_payer


def test_sms_is_off_by_default_and_falls_back_to_email(make_invoice, make_customer):
    policy = Policy("p", "P", (Stage("text", 0, Tone.FRIENDLY, channel=Channel.SMS),))
    cust = make_customer(phone="+447700900123")
    [off] = plan([make_invoice(1)], [cust], policy=policy)
    assert off.channel is Channel.EMAIL
    assert "SMS off" in off.reason
    [on] = plan([make_invoice(1)], [cust], policy=policy, sms_enabled=True)
    assert on.channel is Channel.SMS


def test_policy_per_segment(make_invoice, make_customer):
    quick = Policy("quick", "Quick", (Stage("only", 1, Tone.FIRM),))
    book = PolicySet(default_policy(), {"quick": quick}, by_segment={"retail": "quick"})
    customers = [make_customer(segment="retail"), make_customer(customer_id="C2")]
    invoices = [make_invoice(2), make_invoice(2, invoice_id="I2", customer_id="C2")]
    got = {a.customer_id: a.stage_key for a in plan(invoices, customers, policy=book)}
    assert got == {"C1": "only", "C2": "due"}


def test_disabled_policy_or_settings_plan_nothing(make_invoice, make_customer):
    off = replace(default_policy(), enabled=False)
    assert plan([make_invoice(8)], [make_customer()], policy=off) == []
    assert plan([make_invoice(8)], [make_customer()], enabled=False) == []


def test_statutory_claim_only_on_final_stage_when_enabled(make_invoice, make_customer):
    rates = ((date(2026, 6, 30), Decimal("4.00")),)
    inv = make_invoice(45, amount_due=Decimal("1000.00"))
    [off] = plan([inv], [make_customer()])
    assert off.lines[0].statutory is None
    [on] = plan([inv], [make_customer()], statutory_pack="uk", reference_rates=rates)
    claim = on.lines[0].statutory
    assert claim is not None
    assert claim.compensation == Decimal("70.00")
    assert claim.interest > 0
    [firm] = plan([make_invoice(30)], [make_customer()], statutory_pack="uk", reference_rates=rates)
    assert firm.lines[0].statutory is None


def test_statutory_without_reference_rate_is_explained_not_fatal(make_invoice, make_customer):
    [action] = plan([make_invoice(45)], [make_customer()], statutory_pack="uk")
    assert action.lines[0].statutory is None
    assert "statutory uk pack not shown" in action.lines[0].reason


def test_unknown_customer_is_skipped(make_invoice):
    result = plan_run([make_invoice(8)], [], default_policy(), [], NOW)
    assert result.actions == ()
    assert result.skipped[0].reason == "unknown customer"


def test_now_must_be_timezone_aware(make_invoice, make_customer):
    with pytest.raises(ValueError, match="timezone-aware"):
        plan([make_invoice(8)], [make_customer()], now=datetime(2026, 11, 18, 6, 0))


def test_actions_are_ordered_by_send_time(make_invoice, make_customer):
    customers = [make_customer(customer_id="C1", timezone="America/New_York"),
                 make_customer(customer_id="C2", timezone="Europe/Amsterdam")]
    invoices = [make_invoice(8, customer_id="C1"), make_invoice(8, invoice_id="I2", customer_id="C2")]
    actions = plan(invoices, customers)
    assert [a.customer_id for a in actions] == ["C2", "C1"]
    assert actions[0].send_at == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)  # 09:00 Amsterdam
    assert actions[1].send_at == datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # 09:00 New York


def test_suppressed_addresses_are_left_out(make_invoice, make_customer):
    cust = make_customer(emails=("ap@acme.example", "Boss@Acme.example"))
    [action] = plan_reminders([make_invoice(8)], [cust], default_policy(), [], NOW, suppressed={"boss@acme.example"})
    assert action.recipients == ("ap@acme.example",)
    assert "suppressed address(es) left out: Boss@Acme.example" in action.reason


def test_all_addresses_suppressed_becomes_a_task(make_invoice, make_customer):
    [action] = plan_reminders([make_invoice(8)], [make_customer()], default_policy(), [], NOW,
                              suppressed={"ap@acme.example"})
    assert action.channel is Channel.TASK
    assert "no usable email address" in action.reason


def test_a_customer_turning_reliable_never_goes_back_a_stage(make_invoice, make_customer):
    # +14 was sent while the customer was not yet "reliable"; reliable schedules skip +14 but must
    # not fall back to +7.
    history = [SentStage("I1", "overdue_14")]
    assert plan([make_invoice(20)], [make_customer(reliable=True)], history) == []
    [action] = plan([make_invoice(30)], [make_customer(reliable=True)], history)
    assert action.stage_key == "overdue_30"


@pytest.mark.parametrize(("hold", "note"), [
    (ChaseHold("payment plan agreed", date(2027, 1, 15)), "on hold until 2027-01-15: payment plan agreed"),
    (ChaseHold("in legal hands"), "on hold: in legal hands"),
    (ChaseHold("key account", date(2026, 11, 18)), "on hold until 2026-11-18: key account"),  # its last day
])
def test_a_customer_on_hold_gets_no_reminder_of_any_channel(make_invoice, make_customer, hold, note):
    invoices = [make_invoice(8), make_invoice(40, invoice_id="I2", number="INV-002")]
    sms = Policy("sms", "SMS", (Stage("overdue_7", 7, Tone.FIRM, channel=Channel.SMS),
                                Stage("call", 30, Tone.URGENT, channel=Channel.TASK)))
    for policy in (default_policy(), sms):
        result = plan_run(invoices, [make_customer(hold=hold, phone="+447700900123")], policy, [], NOW,
                          DunningSettings(sms_enabled=True))
        assert result.actions == ()  # not even a worklist task: the controller is handling the customer
        assert {(s.invoice_id, s.reason) for s in result.skipped} == {("I1", note), ("I2", note)}


def test_an_expired_hold_no_longer_applies(make_invoice, make_customer):
    held = make_customer(hold=ChaseHold("payment plan agreed", date(2026, 11, 17)))  # ended yesterday
    [action] = plan([make_invoice(8)], [held])
    assert action.stage_key == "overdue_7"
    assert action.channel is Channel.EMAIL


def test_a_hold_on_one_customer_leaves_the_others_chased(make_invoice, make_customer):
    invoices = [make_invoice(8), make_invoice(8, invoice_id="I2", customer_id="C2")]
    customers = [make_customer(hold=ChaseHold("key account")), make_customer(customer_id="C2")]
    result = plan_run(invoices, customers, default_policy(), [], NOW)
    assert [a.customer_id for a in result.actions] == ["C2"]
    assert [s.invoice_id for s in result.skipped] == ["I1"]


def test_a_stop_condition_is_named_before_the_hold(make_invoice, make_customer):
    result = plan_run([make_invoice(8, disputed=True)], [make_customer(hold=ChaseHold("key account"))],
                      default_policy(), [], NOW)
    assert [s.reason for s in result.skipped] == ["disputed"]
