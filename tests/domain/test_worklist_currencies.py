"""The worklist compares money across currencies in the home currency, with each invoice's own rate."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from addon.domain.worklist import WorkItem, home_amount, prioritise

TODAY = date(2026, 11, 1)
DUE = TODAY - timedelta(days=10)


def item(invoice_id: str, amount: str, currency: str, rate: str | None, **kw: object) -> WorkItem:
    return WorkItem(invoice_id, "Customer", invoice_id, Decimal(amount), kw.pop("due", DUE),  # type: ignore[arg-type]
                    p_late=0.5, currency=currency, home_rate=Decimal(rate) if rate is not None else None,
                    **kw)  # type: ignore[arg-type]


def test_yen_no_longer_outranks_pounds() -> None:
    # 10,000 JPY at 0.00525 GBP/JPY is 52.50 GBP; 5,000 GBP is 5,000 GBP. Raw amounts ranked the yen first.
    ranked = prioritise([item("jpy", "10000", "JPY", "0.00525"), item("gbp", "5000", "GBP", "1")], TODAY,
                        home_currency="GBP")
    assert [r.item.invoice_id for r in ranked] == ["gbp", "jpy"]
    assert [r.home_amount for r in ranked] == [Decimal("5000"), Decimal("52.50")]


def test_each_invoice_converts_with_its_own_rate() -> None:
    # Two USD invoices of the same amount raised at different rates are worth different amounts.
    early, late = item("early", "1000", "USD", "0.70"), item("late", "1000", "USD", "0.80")
    ranked = prioritise([early, late], TODAY, home_currency="GBP")
    assert [(r.item.invoice_id, r.home_amount) for r in ranked] == [
        ("late", Decimal("800.00")), ("early", Decimal("700.00"))]
    assert ranked[0].priority is not None
    assert ranked[1].priority is not None
    assert ranked[0].priority > ranked[1].priority


def test_home_currency_needs_no_rate() -> None:
    # QBO without multicurrency records no ExchangeRate: a home-currency invoice is still worth its amount.
    assert home_amount(item("gbp", "120.00", "GBP", None), "GBP") == Decimal("120.00")
    assert home_amount(item("eur", "120.00", "EUR", None), "GBP") is None
    assert home_amount(item("eur", "120.00", "EUR", "0.855"), None) == Decimal("102.60")  # rate known, code not


def test_a_missing_rate_is_said_and_ranked_after_valued_invoices() -> None:
    huge_unrated = item("eur-norate", "900000", "EUR", None, due=TODAY - timedelta(days=90))
    older_unrated = item("usd-norate", "10", "USD", None, due=TODAY - timedelta(days=120))
    small = item("gbp-small", "10", "GBP", None)
    ranked = prioritise([huge_unrated, small, older_unrated], TODAY, home_currency="GBP")
    assert [r.item.invoice_id for r in ranked] == ["gbp-small", "usd-norate", "eur-norate"]
    unrated = ranked[1:]
    assert all(r.priority is None and r.home_amount is None for r in unrated)
    assert "no exchange rate for USD" in unrated[0].why
    assert "no exchange rate" not in ranked[0].why


def test_items_without_a_currency_keep_the_old_behaviour() -> None:
    items = [WorkItem("a", "A", "1", Decimal("100"), DUE), WorkItem("b", "B", "2", Decimal("200"), DUE)]
    ranked = prioritise(items, TODAY)
    assert [r.item.invoice_id for r in ranked] == ["b", "a"]
    assert ranked[0].home_amount == Decimal("200")
