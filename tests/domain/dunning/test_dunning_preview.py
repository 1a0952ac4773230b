"""Dry-run preview, its JSON shape, and the notes written to the ERP."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from addon.domain.dunning import (
    DunningSettings,
    SentStage,
    action_as_json,
    default_policy,
    preview_day,
    reminder_notes,
)


def test_preview_for_tomorrow_plans_as_the_run_would(make_invoice, make_customer, today):
    tomorrow = date(2026, 11, 19)
    inv = make_invoice(6)  # +6 today, +7 tomorrow
    [action] = preview_day([inv], [make_customer()], default_policy(), [SentStage("I1", "due")], tomorrow)
    assert action.stage_key == "overdue_7"
    assert action.send_at == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    assert preview_day([inv], [make_customer()], default_policy(), [SentStage("I1", "due")], today) == []


def test_preview_uses_the_tenant_day(make_invoice, make_customer):
    # Tenant in Sydney: 06:00 on 19 Nov there is still 18 Nov in UTC.
    settings = DunningSettings(timezone="Australia/Sydney")
    [action] = preview_day([make_invoice(6)], [make_customer(timezone="Australia/Sydney")], default_policy(),
                           [SentStage("I1", "due")], date(2026, 11, 19), settings)
    assert action.stage_key == "overdue_7"


def test_action_json_has_the_documented_keys(make_invoice, make_customer):
    [action] = preview_day([make_invoice(7)], [make_customer()], default_policy(), [], date(2026, 11, 18))
    data = json.loads(json.dumps(action_as_json(action)))
    assert data["invoice_ids"] == ["I1"]
    assert (data["stage"], data["tone"], data["channel"]) == ("overdue_7", "firm", "email")
    assert data["send_at"] == "2026-11-18T09:00:00+00:00"
    assert data["reason"] == action.reason
    assert data["lines"][0]["amount_due"] == "500.00"


def test_erp_notes_name_the_reminder_number_tone_and_recipient(make_invoice, make_customer):
    [action] = preview_day([make_invoice(7), make_invoice(0, invoice_id="I2")], [make_customer()],
                           default_policy(), [], date(2026, 11, 18))
    assert reminder_notes(action, default_policy()) == {
        "I1": "Reminder 3 (firm) sent to ap@acme.example",
        "I2": "Reminder 2 (friendly) sent to ap@acme.example",
    }
    [task] = preview_day([make_invoice(7)], [make_customer(emails=())], default_policy(), [], date(2026, 11, 18))
    assert reminder_notes(task, default_policy())["I1"].endswith("put on the collections worklist (call or letter)")


def test_a_retried_note_reads_like_the_first_for_every_channel() -> None:
    """The notes retry (dunning_send._note_text) rebuilds a note from the stored action row; it must
    say what reminder_notes said, SMS included (it used to call an SMS a worklist task)."""
    from addon.domain.dunning import Channel
    from addon.domain.dunning.preview import reminder_note, reminder_outcome

    policy = default_policy()
    assert reminder_note(policy, "overdue_7", "firm", reminder_outcome(Channel.SMS, "")) == \
        "Reminder 3 (firm) sent by SMS"
    assert reminder_note(policy, "custom", "firm", reminder_outcome(Channel.TASK, "")) == \
        "Reminder 'custom' (firm) put on the collections worklist (call or letter)"
    assert reminder_outcome(Channel.EMAIL, "ap@acme.example") == "sent to ap@acme.example"
