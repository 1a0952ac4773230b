"""Plain-language reasons from XGBoost's own per-feature contributions (``pred_contribs``).

The features with the largest contributions (in either direction) are turned into short phrases a
finance user can check against the ledger, e.g. "customer paid the last 4 invoices 12-20 days late".
"""

from __future__ import annotations

import calendar
import functools
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from addon.domain.scoring.history import HistoryInvoice

if TYPE_CHECKING:
    from addon.domain.scoring.features import FeatureBuilder, FeatureMatrix


class Values(Protocol):
    """One row's features by name."""

    def __getitem__(self, name: str, /) -> float: ...


Phrase = Callable[[Values, "FeatureBuilder", HistoryInvoice, date, bool], str | None]
# Features describing the customer's settled record share one phrase built from the actual delays.
_RECORD = frozenset(("cust_late_rate", "cust_mean_delay", "cust_median_delay", "cust_ewm_delay",
                     "cust_delay_trend", "cust_projected_delay", "cust_last_delay", "cust_recent_late_rate",
                     "cust_delay_spread", "cust_mean_days_to_settle"))
_SCAN = 20  # strongest features looked at per row before falling back to the row's full order


def explain(features: FeatureMatrix, row: int, contribs: npt.NDArray[np.float64], builder: FeatureBuilder,
            inv: HistoryInvoice, as_of: date, limit: int = 3) -> list[str]:
    """Up to ``limit`` distinct phrases for the strongest contributions to this invoice's score."""
    order = np.argsort(-np.abs(contribs[: len(features.names)])).tolist()
    strengths = [float(contribs[i]) for i in order]
    return _phrases(_phrase_table(features.names), _RowValues(features, row), order, strengths, builder, inv,
                    as_of, limit)[0]


def explain_rows(features: FeatureMatrix, contribs: npt.NDArray[np.float64], builder: FeatureBuilder,
                 snapshots: Sequence[tuple[HistoryInvoice, date]], limit: int = 3) -> list[list[str]]:
    """``explain`` for every row at once, with the same phrases: one argsort over the matrix, and the
    strongest ``_SCAN`` features of each row as Python numbers (a row that needs more takes its full order)."""
    width = len(features.names)
    strength = contribs[:, :width]
    order = np.argsort(-np.abs(strength), axis=1)
    head = order[:, :_SCAN]
    head_strengths = np.take_along_axis(strength, head, axis=1).tolist()
    table = _phrase_table(features.names)
    out = []
    for n, (indices, strengths, (inv, as_of)) in enumerate(zip(head.tolist(), head_strengths, snapshots,
                                                                   strict=True)):
        values = _RowValues(features, n)
        found, settled = _phrases(table, values, indices, strengths, builder, inv, as_of, limit)
        if not settled and width > _SCAN:
            full = order[n].tolist()
            found = _phrases(table, values, full, strength[n, full].tolist(), builder, inv, as_of, limit)[0]
        out.append(found)
    return out


class _RowValues:
    """One row's features by name, read from the matrix only when a phrase asks."""

    __slots__ = ("_columns", "_row", "_values")

    def __init__(self, features: FeatureMatrix, row: int) -> None:
        self._columns = _columns(features.names)
        self._values = features.values
        self._row = row

    def __getitem__(self, name: str) -> float:
        return float(self._values[self._row, self._columns[name]])


@functools.lru_cache(maxsize=8)
def _columns(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


@functools.lru_cache(maxsize=8)
def _phrase_table(names: tuple[str, ...]) -> tuple[Phrase | None, ...]:
    """The phrase of each feature column (None: a feature with no phrase of its own)."""
    return tuple(_PHRASES.get("record" if name in _RECORD else name) for name in names)


def _phrases(table: tuple[Phrase | None, ...], values: _RowValues, order: list[int], strengths: list[float],
             builder: FeatureBuilder, inv: HistoryInvoice, as_of: date, limit: int) -> tuple[list[str], bool]:
    """Phrases for features in ``order`` (strongest first, ``strengths`` alongside); and whether the
    scan was settled (``limit`` reached or the rest too weak) rather than run out of features."""
    out: list[str] = []
    for i, strength in zip(order, strengths, strict=True):
        if len(out) >= limit or abs(strength) < 1e-3:
            return out, True
        phrase = table[i]
        if phrase is None:
            continue
        text = phrase(values, builder, inv, as_of, strength > 0)
        if text and text not in out:
            out.append(text)
    return out, False


def _days(n: float) -> str:
    n = round(abs(n))
    return f"{n} day" if n == 1 else f"{n} days"


def _record(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    return _record_sentence(tuple(b.recent_delays(inv.customer_id, as_of, 4)))


@functools.lru_cache(maxsize=4096)
def _record_sentence(delays: tuple[int, ...]) -> str:
    """The customer's record in words; a book repeats each customer's last delays on every invoice."""
    if not delays:
        return "no payment history for this customer yet"
    n, late = len(delays), [d for d in delays if d > 0]
    last = f"the last {n} invoices" if n > 1 else "the last invoice"
    if len(late) == n:
        lo, hi = min(late), max(late)
        span = _days(hi) if lo == hi else f"{lo}-{_days(hi)}"
        return f"customer paid {last} {span} late"
    if not late:
        return f"customer paid {last} on time or early"
    return f"customer paid {len(late)} of {last} late (up to {_days(max(late))})"


def _settled(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    n = int(v["cust_settled"])
    return "no payment history for this customer yet" if n == 0 else f"customer has settled {n} invoices"


def _size(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    ratio = v["amount_vs_typical"]
    if math.isnan(ratio):
        return f"invoice amount {inv.currency} {inv.amount:,.2f}"
    if ratio >= 1.25:
        return f"amount is {ratio:.1f}x the customer's typical invoice"
    if ratio <= 0.8:
        return "amount is smaller than the customer's typical invoice"
    return "amount is typical for this customer"


def _terms(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    return f"payment terms of {_days(v['terms_days'])}"


def _month(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    effect = "often paid later" if up else "usually paid promptly"
    return f"issued in {calendar.month_name[inv.issue_date.month]}, a month {effect}"


def _weekday(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    return f"issued on a {calendar.day_name[inv.issue_date.weekday()]}"


def _open(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    n = int(v["open_count"])
    return "customer has no other open invoices" if n == 0 else f"customer has {n} other open invoices"


def _overdue(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    n = int(v["overdue_count"])
    if n == 0:
        return "customer has nothing else overdue"
    return f"customer has {n} other overdue invoices, the oldest {_days(v['max_days_overdue'])} past due"


def _org(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    rate = v["org_late_rate_90d"]
    if math.isnan(rate):
        return None
    return f"{rate:.0%} of all customers' invoices were paid late in the last 90 days"


def _due(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    d = v["days_to_due"]
    return f"already {_days(d)} past due" if d < 0 else f"due in {_days(d)}"


def _rate(label: str, key: str) -> Phrase:
    def phrase(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
        rate = v[key]
        return None if math.isnan(rate) else f"customer {label} on {rate:.0%} of past invoices"
    return phrase


def _quiet(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    d = v["cust_days_since_payment"]
    return None if math.isnan(d) else f"customer's last payment was {_days(d)} ago"


def _season(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    d = v["cust_same_season_delay"]
    if math.isnan(d):
        return None
    when = "late" if d > 0 else "early"
    return f"around this time last year the customer paid {_days(d)} {when} on average"


def _currency(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    share = v["currency_share"]
    common = not math.isnan(share) and share >= 0.5
    return f"invoiced in {inv.currency}, {'the usual' if common else 'a less common'} currency"


def _part_paid(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    share, since = v["paid_share"], v["days_since_part_payment"]
    if math.isnan(since) or share <= 0:
        return "nothing paid on this invoice yet"
    return f"{share:.0%} of this invoice paid so far, the last payment {_days(since)} ago"


def _reminded(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str:
    n, since = int(v["reminders_sent"]), v["days_since_reminder"]
    if n == 0 or math.isnan(since):
        return "no reminder sent for this invoice yet"
    return f"{n} reminder{'s' if n > 1 else ''} sent for this invoice, the last {_days(since)} ago"


def _promise(v: Values, b: FeatureBuilder, inv: HistoryInvoice, as_of: date, up: bool) -> str | None:
    ahead = v["promise_days_ahead"]
    if math.isnan(ahead):
        return None
    promised = date.fromordinal(as_of.toordinal() + int(ahead)).isoformat()
    if ahead < 0:
        return f"the customer's promise to pay by {promised} was broken {_days(ahead)} ago"
    return f"the customer promised to pay by {promised}" + (" (today)" if ahead == 0 else f", in {_days(ahead)}")


_PHRASES: dict[str, Phrase] = {
    "record": _record, "cust_settled": _settled, "amount_vs_typical": _size, "log_amount": _size,
    "terms_days": _terms, "issue_month": _month, "issue_weekday": _weekday, "open_count": _open,
    "open_amount_vs_typical": _open, "overdue_count": _overdue, "max_days_overdue": _overdue,
    "org_late_rate_90d": _org, "org_mean_delay_90d": _org, "days_to_due": _due, "age_days": _due,
    "dispute_open": lambda v, b, i, d, up: "invoice is disputed" if v["dispute_open"] else None,
    "cust_dispute_rate": _rate("raised disputes", "cust_dispute_rate"),
    "cust_credit_rate": _rate("received credit notes", "cust_credit_rate"),
    "cust_partial_rate": _rate("paid in instalments", "cust_partial_rate"),
    "cust_days_since_payment": _quiet, "cust_same_season_delay": _season, "currency_share": _currency,
    "sent": lambda v, b, i, d, up: None if v["sent"] else "invoice has not been marked as sent",
    "paid_share": _part_paid, "days_since_part_payment": _part_paid,
    "reminders_sent": _reminded, "days_since_reminder": _reminded, "promise_days_ahead": _promise,
}
