from __future__ import annotations

import pytest

from addon.mail import BounceKind, classify_bounce, parse_dsn


@pytest.mark.parametrize(("code", "text", "kind"), [
    (550, "5.1.1 <x@y> User unknown", BounceKind.HARD),
    (550, "Requested action not taken: mailbox unavailable", BounceKind.HARD),
    (552, "Mailbox full", BounceKind.SOFT),
    (550, "5.2.2 mailbox full", BounceKind.SOFT),
    (452, "4.2.2 Mailbox full", BounceKind.SOFT),
    (421, "Service not available, try later", BounceKind.SOFT),
    (451, "4.7.1 Greylisted, please try again", BounceKind.SOFT),
    (None, "User unknown in virtual mailbox table", BounceKind.HARD),
    (None, "something odd happened", BounceKind.SOFT),  # unclear: retry rather than suppress
])
def test_classify_bounce(code, text, kind):
    assert classify_bounce(code, text) is kind


DSN = b"""From: MAILER-DAEMON@mx.example
To: ar@supplier.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"

--BOUND
Content-Type: text/plain

Your message could not be delivered.

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; gone@acme.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@acme.example>: Recipient address rejected

Final-Recipient: rfc822; full@acme.example
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

Final-Recipient: rfc822; ok@acme.example
Action: delivered
Status: 2.0.0

--BOUND--
"""


def test_parse_dsn_reports_failed_recipients_with_kind():
    reports = parse_dsn(DSN)
    assert [(r.recipient, r.status, r.kind) for r in reports] == [
        ("gone@acme.example", "5.1.1", BounceKind.HARD),
        ("full@acme.example", "5.2.2", BounceKind.SOFT),
    ]
    assert "Recipient address rejected" in reports[0].diagnostic


def test_parse_non_dsn_is_empty():
    assert parse_dsn(b"Subject: hi\n\nhello\n") == []
