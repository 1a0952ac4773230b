"""History records and the CSV exchange format."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest

from addon.domain.scoring.history import (
    HistoryFormatError,
    HistoryInvoice,
    as_seen_at,
    read_history_csv,
    write_history_csv,
)

MINIMAL = """invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date
I1,C1,2025-01-01,2025-01-31,120.50,gbp,2025-02-05
I2,C1,2025-02-01,2025-03-03,99.99,GBP,
"""


def test_reads_the_minimal_format() -> None:
    rows = read_history_csv(io.StringIO(MINIMAL))
    assert [r.invoice_id for r in rows] == ["I1", "I2"]
    assert rows[0].amount == Decimal("120.50")
    assert rows[0].currency == "GBP"
    assert rows[0].delay_days() == 5
    assert rows[1].paid_date is None
    assert rows[1].delay_days() is None
    assert rows[0].disputed is False
    assert rows[0].sent is True


def test_reads_optional_columns() -> None:
    text = "invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date,disputed,country\n" \
           "I1,C1,2025-01-01,2025-01-31,10,EUR,,yes,NL\n"
    (row,) = read_history_csv(io.StringIO(text))
    assert row.disputed is True
    assert row.country == "NL"


def test_round_trip_keeps_every_field() -> None:
    original = [HistoryInvoice("I9", "C2", date(2025, 3, 1), date(2025, 3, 31), Decimal("5.00"), "USD",
                               date(2025, 4, 2), disputed=True, credited=Decimal("1.00"), partial_payments=2,
                               sent=False, reminders_sent=3, promised=True, country="US",
                               payments=((date(2025, 3, 20), Decimal("1.50")), (date(2025, 4, 2), Decimal("2.50"))),
                               reminder_dates=(date(2025, 3, 25), date(2025, 4, 1)),
                               promises=((date(2025, 3, 26), date(2025, 4, 1)),), dispute_date=date(2025, 3, 5),
                               dispute_resolved_date=date(2025, 3, 20))]
    buf = io.StringIO()
    write_history_csv(original, buf)
    assert read_history_csv(io.StringIO(buf.getvalue())) == original


def test_missing_column_is_reported() -> None:
    with pytest.raises(HistoryFormatError, match="paid_date"):
        read_history_csv(io.StringIO("invoice_id,customer_id,issue_date,due_date,amount,currency\n"))


def test_bad_value_names_the_line() -> None:
    bad = MINIMAL.replace("2025-02-05", "05/02/2025")
    with pytest.raises(HistoryFormatError, match="line 2"):
        read_history_csv(io.StringIO(bad))


def test_dated_payments_and_reminders_are_read_and_cut_at_as_of() -> None:
    text = (MINIMAL.splitlines()[0] + ",payments,reminder_dates\n"
            "I1,C1,2025-01-01,2025-01-31,100.00,GBP,,2025-02-03:40.00; 2025-01-20:10,2025-02-01;2025-02-08\n")
    (row,) = read_history_csv(io.StringIO(text))
    assert row.payments == ((date(2025, 1, 20), Decimal("10")), (date(2025, 2, 3), Decimal("40.00")))  # date order
    assert row.reminder_dates == (date(2025, 2, 1), date(2025, 2, 8))
    (seen,) = as_seen_at([row], date(2025, 2, 3))
    assert seen.payments == ((date(2025, 1, 20), Decimal("10")),)
    assert seen.reminder_dates == (date(2025, 2, 1),)
    promised = text.replace(",payments,reminder_dates", ",payments,reminder_dates,promises").replace(
        "2025-02-08\n", "2025-02-08,2025-02-04:2025-02-20;2025-02-01:2025-02-10\n")
    (row,) = read_history_csv(io.StringIO(promised))
    assert row.promises == ((date(2025, 2, 1), date(2025, 2, 10)), (date(2025, 2, 4), date(2025, 2, 20)))
    assert as_seen_at([row], date(2025, 2, 3))[0].promises == ((date(2025, 2, 1), date(2025, 2, 10)),)
    with pytest.raises(HistoryFormatError, match="line 2: promises entry '2025-02-04' is not RECORDED:PROMISED"):
        read_history_csv(io.StringIO(promised.replace("2025-02-04:2025-02-20", "2025-02-04")))
    with pytest.raises(HistoryFormatError, match="line 2: payments entry '2025-02-03:forty' is not DATE:AMOUNT"):
        read_history_csv(io.StringIO(text.replace("2025-02-03:40.00", "2025-02-03:forty")))
    with pytest.raises(HistoryFormatError, match="line 2: payments entry '2025-02-03' is not DATE:AMOUNT"):
        read_history_csv(io.StringIO(text.replace("2025-02-03:40.00", "2025-02-03")))


def test_as_seen_at_undoes_later_settlements_and_drops_later_invoices() -> None:
    rows = read_history_csv(io.StringIO(MINIMAL))
    seen = as_seen_at(rows, date(2025, 2, 1))
    assert [r.invoice_id for r in seen] == ["I1", "I2"]
    assert seen[0].paid_date is None  # paid on 5 Feb, not yet known on 1 Feb
    assert [r.invoice_id for r in as_seen_at(rows, date(2025, 1, 15))] == ["I1"]
    assert as_seen_at(rows, date(2025, 2, 6))[0].paid_date == date(2025, 2, 5)


@pytest.mark.parametrize(("dispute_date", "as_of", "visible"), [
    (None, date(2025, 1, 30), False),  # unknown dispute date: visible from the due date
    (None, date(2025, 1, 31), True),
    (date(2025, 1, 10), date(2025, 1, 10), True),
    (date(2025, 1, 10), date(2025, 1, 9), False),
])
def test_dispute_visibility(dispute_date: date | None, as_of: date, visible: bool) -> None:
    row = HistoryInvoice("I1", "C1", date(2025, 1, 1), date(2025, 1, 31), Decimal(1), "GBP", disputed=True,
                         dispute_date=dispute_date)
    assert row.dispute_visible(as_of) is visible


def test_a_resolved_dispute_is_no_longer_open_from_the_day_it_was_resolved() -> None:
    row = HistoryInvoice("I1", "C1", date(2025, 1, 1), date(2025, 1, 31), Decimal(1), "GBP", disputed=True,
                         dispute_date=date(2025, 1, 10), dispute_resolved_date=date(2025, 1, 20))
    assert [row.dispute_visible(date(2025, 1, d)) for d in (9, 10, 19, 20, 25)] == [False, True, True, False, False]


EVENTS = (MINIMAL.splitlines()[0] + ",payments,reminder_dates,promises\n"
          "I1,C1,2025-01-01,2025-01-31,100.00,GBP,,2025-02-03:40.00,2025-02-01;2025-02-08,2025-02-04:2025-02-20\n")


@pytest.mark.parametrize(("find", "replace", "message"), [
    ("2025-02-01;", "2025-02-31;", "line 2: reminder_dates '2025-02-31' is not an ISO date (YYYY-MM-DD)"),
    ("2025-02-01;", "01/02/2025;", "line 2: reminder_dates '01/02/2025' is not an ISO date (YYYY-MM-DD)"),
    (";2025-02-08", ";0001-01-01", "line 2: reminder_dates 0001-01-01 is outside 1900-01-01 .. 2999-12-31"),
    (";2025-02-08", ";9999-12-31", "line 2: reminder_dates 9999-12-31 is outside 1900-01-01 .. 2999-12-31"),
    ("2025-02-03:40", "1899-12-31:40", "line 2: payments 1899-12-31 is outside 1900-01-01 .. 2999-12-31"),
    ("2025-02-04:2025-02-20", "0001-01-01:2025-02-20", "line 2: promises 0001-01-01 is outside"),
    ("2025-02-04:2025-02-20", "2025-02-04:9999-12-31", "line 2: promises 9999-12-31 is outside"),
])
def test_event_dates_are_checked_like_the_date_columns(find: str, replace: str, message: str) -> None:
    """A reminder, payment or promise date that is not ISO or out of the model's range is refused with the
    line and the column, as a bad issue_date is (they used to pass unchecked and overflow later)."""
    assert len(read_history_csv(io.StringIO(EVENTS))) == 1
    with pytest.raises(HistoryFormatError, match=re.escape(message)):
        read_history_csv(io.StringIO(EVENTS.replace(find, replace)))


def test_a_repeated_invoice_is_refused_with_both_lines() -> None:
    repeated = MINIMAL + "I1,C1,2025-01-01,2025-01-31,120.50,GBP,2025-02-05\n"
    with pytest.raises(HistoryFormatError, match=r"line 4: invoice_id 'I1' already appears on line 2"):
        read_history_csv(io.StringIO(repeated))


@pytest.mark.parametrize(("find", "replace", "message"), [
    ("I2,C1,", ",C1,", "line 3: invoice_id is empty"),
    ("I2,C1,", "I2, ,", "line 3: customer_id is empty"),
    ("2025-02-01,2025-03-03", "2025-02-01,2025-01-03", "line 3: due_date 2025-01-03 is before issue_date 2025-02-01"),
    ("99.99", "NaN", "line 3: amount 'NaN' is not a number"),
    ("99.99", "Infinity", "line 3: amount 'Infinity' is not a number"),
    ("99.99", "abc", "line 3: amount 'abc' is not a number"),
    ("99.99", "1e400", "line 3: amount '1e400' is too large"),
    ("2025-02-01,2025-03-03", "2025-02-01,9999-12-31",
     "line 3: due_date 9999-12-31 is outside 1900-01-01 .. 2999-12-31"),
    ("2025-02-05", "2025-02-31", "line 2: paid_date '2025-02-31' is not an ISO date"),
])
def test_rows_that_cannot_be_an_invoice_are_refused(find: str, replace: str, message: str) -> None:
    with pytest.raises(HistoryFormatError, match=message):
        read_history_csv(io.StringIO(MINIMAL.replace(find, replace)))


def test_optional_numbers_that_are_not_numbers_name_their_column() -> None:
    with_credit = MINIMAL.replace("paid_date\n", "paid_date,credited,partial_payments\n").replace("\n", ",,\n")
    with_credit = with_credit.replace("paid_date,credited,partial_payments,,", "paid_date,credited,partial_payments")
    assert len(read_history_csv(io.StringIO(with_credit))) == 2
    with pytest.raises(HistoryFormatError, match="line 2: credited 'ten' is not a number"):
        read_history_csv(io.StringIO(with_credit.replace("2025-02-05,,", "2025-02-05,ten,")))
    with pytest.raises(HistoryFormatError, match="line 2: partial_payments 'two' is not a whole number"):
        read_history_csv(io.StringIO(with_credit.replace("2025-02-05,,", "2025-02-05,,two")))


def test_a_payment_before_the_issue_date_is_a_prepayment_not_an_error() -> None:
    (row, _) = read_history_csv(io.StringIO(MINIMAL.replace("2025-02-05", "2024-12-20")))
    assert row.delay_days() == -42


def test_iso_timestamps_count_as_their_date() -> None:
    stamped = MINIMAL.replace("2025-01-01,2025-01-31", "2025-01-01T00:00:00,2025-01-31T00:00:00Z")
    (first, _) = read_history_csv(io.StringIO(stamped))
    assert (first.issue_date, first.due_date) == (date(2025, 1, 1), date(2025, 1, 31))
