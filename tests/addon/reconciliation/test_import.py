from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addon.domain.statements import StatementError
from addon.models import BankLine, BankStatement
from addon.services.reconciliation import import_statement, mapping_names, save_mapping
from tests.addon.reconciliation.statements import CSV_MAPPING, Entry, camt053, csv_statement

WEEK1 = [Entry("1200.00", "Acme Trading Ltd", text="INV-1001"), Entry("-80.00", "Office rent"),
         Entry("250.00", "Globex BV", text="INV-2002")]


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def test_import_stores_statement_and_lines_once(db, tenant) -> None:
    summary = import_statement(db, tenant, camt053(WEEK1), "week1.xml")
    assert summary["format"] == "camt"
    assert (summary["lines"], summary["imported"], summary["duplicates"], summary["ignored"]) == (3, 3, 0, 1)
    statement = db.get(BankStatement, summary["statement_id"])
    assert statement.line_count == 3
    assert statement.account == "GB29NWBK60161331926819"
    lines = db.scalars(select(BankLine).order_by(BankLine.id)).all()
    assert [(line.amount, line.status) for line in lines] == [
        (Decimal("1200.00"), "new"), (Decimal("-80.00"), "ignored"), (Decimal("250.00"), "new")]
    assert lines[0].counterparty_name == "Acme Trading Ltd"
    assert lines[0].remittance_text == "INV-1001"

    again = import_statement(db, tenant, camt053(WEEK1), "week1-again.xml")
    assert again["duplicate_file"] is True
    assert again["statement_id"] is None
    assert again["earlier_statement_id"] == statement.id
    assert (again["imported"], _count(db, BankStatement), _count(db, BankLine)) == (0, 1, 3)


def test_overlapping_statement_imports_only_new_lines(db, tenant) -> None:
    import_statement(db, tenant, camt053(WEEK1), "week1.xml")
    overlap = camt053([WEEK1[2], Entry("999.00", "Globex BV", text="INV-2001")], statement_id="STMT-2")
    summary = import_statement(db, tenant, overlap, "week2.xml")
    assert (summary["imported"], summary["duplicates"], summary["duplicate_file"]) == (1, 1, False)
    assert _count(db, BankLine) == 4
    new = db.scalars(select(BankLine).where(BankLine.statement_id == summary["statement_id"])).one()
    assert new.amount == Decimal("999.00")


def test_identical_bookings_in_one_file_are_both_kept(db, tenant) -> None:
    same = Entry("10.00", "Globex BV", text="fee refund", bank_ref="SAME")
    assert import_statement(db, tenant, camt053([same, same]), "two.xml")["imported"] == 2


def test_malformed_file_is_rejected_whole_with_location(db, tenant) -> None:
    good = camt053(WEEK1).decode()
    broken = good.replace("<Amt Ccy=\"GBP\">250.00</Amt>", "<Amt Ccy=\"GBP\">2x0.00</Amt>").encode()
    with pytest.raises(StatementError) as info:
        import_statement(db, tenant, broken, "broken.xml")
    assert info.value.format == "camt"
    assert "Ntry[3]" in info.value.location
    assert info.value.reason
    db.flush()
    assert (_count(db, BankStatement), _count(db, BankLine)) == (0, 0)


def test_csv_import_with_a_saved_mapping(db, tenant) -> None:
    save_mapping(tenant, "testbank", CSV_MAPPING)
    assert mapping_names(tenant)[0] == "testbank"
    assert "testbank" in tenant.settings["csv_mappings"]
    data = csv_statement([("2026-11-10", "300.00", "Acme Trading Ltd", "GB11NWBK00000000000001", "INV-1002"),
                          ("2026-11-10", "-5.00", "Bank", "", "charges")])
    summary = import_statement(db, tenant, data, "export.csv", mapping="testbank")
    assert (summary["format"], summary["imported"], summary["ignored"]) == ("csv", 2, 1)
    with pytest.raises(ValueError, match="unknown CSV mapping"):
        import_statement(db, tenant, data, "export2.csv", mapping="nope")


def test_invalid_mapping_is_not_saved(tenant) -> None:
    with pytest.raises(ValueError, match="amount column"):
        save_mapping(tenant, "bad", '{"name": "bad", "date": "Date"}')
    assert "csv_mappings" not in tenant.settings
