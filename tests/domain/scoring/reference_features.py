"""Reference point-in-time features: the straightforward per-invoice implementation, one row at a time.

This is the FeatureBuilder that ``addon.domain.scoring.features`` used before it was vectorised. The
equivalence tests compare the vectorised builder with it; it is not used by the product.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from addon.domain.scoring.features import _INDEX as _INDEX
from addon.domain.scoring.features import (
    DRIFT_WINDOW_DAYS,
    EWM_ALPHA,
    FEATURE_NAMES,
    RECENT_N,
    SMOOTHING,
    TREND_DAYS,
    FeatureMatrix,
    Matrix,
)
from addon.domain.scoring.history import HistoryInvoice


class _Customer:
    """One customer's invoices indexed by issue date and by settlement date."""

    def __init__(self, invoices: list[HistoryInvoice]) -> None:
        by_issue = sorted(invoices, key=lambda i: (i.issue_date, i.invoice_id))
        self.position = {inv.invoice_id: n for n, inv in enumerate(by_issue)}
        self.issue_list = [i.issue_date.toordinal() for i in by_issue]
        self.due = np.array([i.due_date.toordinal() for i in by_issue], dtype=np.int64)
        self.paid = np.array([i.paid_date.toordinal() if i.paid_date else 10**9 for i in by_issue],
                             dtype=np.int64)
        self.amount = np.array([float(i.amount) for i in by_issue])
        settled = sorted((i for i in invoices if i.paid_date is not None),
                         key=lambda i: (i.paid_date, i.invoice_id))
        self.s_paid = [i.paid_date.toordinal() for i in settled if i.paid_date]
        self.s_delay = np.array([i.delay_days() for i in settled], dtype=np.float64)
        self.s_issue = np.array([i.issue_date.toordinal() for i in settled], dtype=np.float64)
        self.s_doy = np.array([i.issue_date.timetuple().tm_yday for i in settled], dtype=np.float64)
        self.s_cum_delay = np.concatenate(([0.0], np.cumsum(self.s_delay)))
        self.s_cum_late = np.concatenate(([0.0], np.cumsum(self.s_delay > 0)))
        settle = np.array([(i.paid_date - i.issue_date).days for i in settled if i.paid_date], dtype=float)
        self.s_cum_settle = np.concatenate(([0.0], np.cumsum(settle)))
        self.s_cum_dispute = np.concatenate(([0.0], np.cumsum([i.disputed for i in settled])))
        self.s_cum_credit = np.concatenate(([0.0], np.cumsum([i.credited > 0 for i in settled])))
        self.s_cum_partial = np.concatenate(([0.0], np.cumsum([i.partial_payments > 0 for i in settled])))
        self.s_ewm = _ewm_prefix(self.s_delay)

    def settled_before(self, t: int) -> int:
        return bisect_left(self.s_paid, t)


def _ewm_prefix(delays: Matrix) -> Matrix:
    # ewm[k] = exponentially weighted delay over the first k settlements, so lookups are O(1).
    out = np.full(len(delays) + 1, np.nan)
    acc = math.nan
    for k, d in enumerate(delays, start=1):
        acc = d if math.isnan(acc) else EWM_ALPHA * d + (1 - EWM_ALPHA) * acc
        out[k] = acc
    return out


class ReferenceFeatureBuilder:
    """The per-invoice implementation the vectorised FeatureBuilder replaced (kept as the reference)."""

    def __init__(self, history: Iterable[HistoryInvoice]) -> None:
        invoices = list(history)
        groups: dict[str, list[HistoryInvoice]] = defaultdict(list)
        for inv in invoices:
            groups[inv.customer_id].append(inv)
        self.customers = {cid: _Customer(invs) for cid, invs in groups.items()}
        settled = sorted((i for i in invoices if i.paid_date is not None), key=lambda i: i.paid_date or 0)
        self.org_paid = [i.paid_date.toordinal() for i in settled if i.paid_date]
        delays = np.array([i.delay_days() for i in settled], dtype=np.float64)
        self.org_cum_delay = np.concatenate(([0.0], np.cumsum(delays)))
        self.org_cum_late = np.concatenate(([0.0], np.cumsum(delays > 0)))
        self.issue_days = sorted(i.issue_date.toordinal() for i in invoices)
        self.currency_days = _days_by(invoices, lambda i: i.currency)
        self.country_days = _days_by(invoices, lambda i: i.country or "")
        # Scoring a book scores many invoices of one customer on one day: the parts of their features
        # that depend only on (customer, day) are computed once and reused.
        self._history_blocks: dict[tuple[str, int], tuple[tuple[tuple[int, float], ...], float, int]] = {}
        self._books: dict[tuple[str, int], _OpenBook] = {}

    def matrix(self, snapshots: Sequence[tuple[HistoryInvoice, date]]) -> FeatureMatrix:
        """Feature rows for (invoice, as_of) pairs; each pair may have its own as_of."""
        values = np.empty((len(snapshots), len(FEATURE_NAMES)))
        for n, (inv, as_of) in enumerate(snapshots):
            values[n] = self.row(inv, as_of)
        return FeatureMatrix([inv.invoice_id for inv, _ in snapshots], values)

    def row(self, inv: HistoryInvoice, as_of: date) -> Matrix:
        """Feature vector of ``inv`` scored at ``as_of`` (FEATURE_NAMES order)."""
        t = as_of.toordinal()
        out = np.full(len(FEATURE_NAMES), np.nan)
        org_rate, org_delay, org_all_rate = self._org(t)
        out[_INDEX["org_late_rate_90d"]], out[_INDEX["org_mean_delay_90d"]] = org_rate, org_delay
        self._invoice(inv, as_of, out)
        cust = self.customers.get(inv.customer_id)
        typical = math.nan
        if cust is not None:
            typical = self._customer_history(inv.customer_id, cust, t, inv.issue_date.toordinal(),
                                             org_all_rate, out)
            self._open_book(inv.customer_id, cust, inv, t, typical, out)
        else:
            out[_INDEX["cust_settled"]] = 0.0
            out[_INDEX["cust_late_rate"]] = org_all_rate
        out[_INDEX["amount_vs_typical"]] = float(inv.amount) / typical if typical > 0 else math.nan
        return out

    def recent_delays(self, customer_id: str, as_of: date, n: int = 4) -> list[int]:
        """Delays (days after due) of the customer's last ``n`` invoices settled before ``as_of``."""
        cust = self.customers.get(customer_id)
        if cust is None:
            return []
        k = cust.settled_before(as_of.toordinal())
        return [int(d) for d in cust.s_delay[max(0, k - n):k]]

    def _invoice(self, inv: HistoryInvoice, as_of: date, out: Matrix) -> None:
        t = as_of.toordinal()
        out[_INDEX["log_amount"]] = math.log1p(max(float(inv.amount), 0.0))
        out[_INDEX["terms_days"]] = inv.terms_days
        out[_INDEX["issue_weekday"]] = inv.issue_date.weekday()
        out[_INDEX["issue_month"]] = inv.issue_date.month
        out[_INDEX["currency_share"]] = _share(self.currency_days.get(inv.currency, []), self.issue_days, t)
        if inv.country:
            out[_INDEX["country_share"]] = _share(self.country_days.get(inv.country, []), self.issue_days, t)
        out[_INDEX["sent"]] = float(inv.sent)
        out[_INDEX["age_days"]] = max(0, (as_of - inv.issue_date).days)
        out[_INDEX["days_to_due"]] = (inv.due_date - as_of).days
        out[_INDEX["dispute_open"]] = float(inv.dispute_visible(as_of))
        paid = [(day, amount) for day, amount in inv.payments if day < as_of]
        amount = float(inv.amount)
        out[_INDEX["paid_share"]] = min(1.0, max(0.0, sum(float(a) for _, a in paid) / amount)) if amount > 0 else 0.0
        out[_INDEX["days_since_part_payment"]] = (as_of - max(d for d, _ in paid)).days if paid else math.nan
        sent = [day for day in inv.reminder_dates if day < as_of]
        out[_INDEX["reminders_sent"]] = len(sent)
        out[_INDEX["days_since_reminder"]] = (as_of - max(sent)).days if sent else math.nan
        made = [p for p in inv.promises if p[0] < as_of]
        out[_INDEX["promise_days_ahead"]] = (max(made)[1] - as_of).days if made else math.nan

    def _org(self, t: int) -> tuple[float, float, float]:
        hi = bisect_left(self.org_paid, t)
        lo = bisect_left(self.org_paid, t - DRIFT_WINDOW_DAYS)
        n = hi - lo
        rate = (self.org_cum_late[hi] - self.org_cum_late[lo]) / n if n else math.nan
        delay = (self.org_cum_delay[hi] - self.org_cum_delay[lo]) / n if n else math.nan
        # The smoothing prior falls back to a neutral 0.5 before the organisation has any history.
        all_rate = (self.org_cum_late[hi] + 1.0) / (hi + 2.0)
        return rate, delay, all_rate

    def _customer_history(self, cid: str, c: _Customer, t: int, issue_day: int, prior: float,
                          out: Matrix) -> float:
        key = (cid, t)
        block = self._history_blocks.get(key)
        if block is None:
            block = self._history_blocks[key] = _history_block(c, t, prior)
        values, typical, k = block
        for index, value in values:
            out[index] = value
        if k == 0:
            return typical
        delays = c.s_delay[:k]
        # The trend uses a time window, not a count, so busy and quiet customers are treated alike.
        window = (c.s_issue[:k] >= issue_day - TREND_DAYS).nonzero()[0]
        out[_INDEX["cust_projected_delay"]] = _projected(c.s_issue[window], delays[window],
                                                         out[_INDEX["cust_median_delay"]], issue_day)
        out[_INDEX["cust_same_season_delay"]] = _same_season(c.s_issue[:k], c.s_doy[:k], delays, issue_day)
        return typical

    def _open_book(self, cid: str, c: _Customer, inv: HistoryInvoice, t: int, typical: float,
                   out: Matrix) -> None:
        key = (cid, t)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = _OpenBook.of(c, t)
        count, amount, overdue_count, oldest_due = book.count, book.amount, book.overdue_count, book.oldest_due
        me = c.position.get(inv.invoice_id)
        if me is not None and me < book.m and c.paid[me] >= t:
            # The scored invoice is not part of its own "other open invoices".
            count, amount = count - 1, amount - float(c.amount[me])
            if c.due[me] < t:
                overdue_count -= 1
                oldest_due = book.oldest_due_without(int(c.due[me]))
        out[_INDEX["open_count"]] = float(count)
        out[_INDEX["open_amount_vs_typical"]] = amount / typical if typical > 0 else math.nan
        out[_INDEX["overdue_count"]] = float(overdue_count)
        out[_INDEX["max_days_overdue"]] = float(t - oldest_due) if overdue_count > 0 else 0.0


def _history_block(c: _Customer, t: int, prior: float) -> tuple[tuple[tuple[int, float], ...], float, int]:
    """The customer-history features that depend only on (customer, day), plus typical amount and k."""
    k = c.settled_before(t)
    values: dict[str, float] = {
        "cust_settled": float(k), "cust_late_rate": (c.s_cum_late[k] + SMOOTHING * prior) / (k + SMOOTHING)}
    issued = bisect_left(c.issue_list, t)  # strictly earlier invoices define "typical"
    typical = float(np.median(c.amount[:issued])) if issued else math.nan
    if k:
        delays = c.s_delay[:k]
        median = float(np.median(delays))
        values.update({
            "cust_mean_delay": c.s_cum_delay[k] / k, "cust_median_delay": median,
            "cust_delay_spread": float(np.std(delays)) if k > 1 else math.nan, "cust_ewm_delay": c.s_ewm[k],
            "cust_last_delay": delays[-1],
            # Recent minus long-run delay: positive for a customer who is getting slower.
            "cust_delay_trend": c.s_ewm[k] - median,
            "cust_recent_late_rate": float(np.mean(delays[-RECENT_N:] > 0)),
            "cust_mean_days_to_settle": c.s_cum_settle[k] / k, "cust_dispute_rate": c.s_cum_dispute[k] / k,
            "cust_credit_rate": c.s_cum_credit[k] / k, "cust_partial_rate": c.s_cum_partial[k] / k,
            "cust_days_since_payment": float(t - c.s_paid[k - 1])})
    return tuple((_INDEX[name], float(v)) for name, v in values.items()), typical, k


@dataclass(frozen=True, slots=True)
class _OpenBook:
    """A customer's open invoices on one day (issued by then, not yet settled)."""

    m: int
    count: int
    amount: float
    overdue_count: int
    oldest_due: int
    overdue_dues: tuple[int, ...]  # the two oldest overdue due dates (enough to drop one invoice)

    @classmethod
    def of(cls, c: _Customer, t: int) -> _OpenBook:
        m = bisect_right(c.issue_list, t)  # issued on or before the scoring day
        open_mask = c.paid[:m] >= t
        overdue = open_mask & (c.due[:m] < t)
        dues = np.sort(c.due[:m][overdue])[:2]
        return cls(m, int(open_mask.sum()), float(c.amount[:m][open_mask].sum()), int(overdue.sum()),
                   int(dues[0]) if len(dues) else 0, tuple(int(d) for d in dues))

    def oldest_due_without(self, due: int) -> int:
        """Oldest overdue due date once one overdue invoice due on ``due`` is left out."""
        if self.overdue_dues and self.overdue_dues[0] == due:
            return self.overdue_dues[1] if len(self.overdue_dues) > 1 else 0
        return self.oldest_due


def _same_season(issued: Matrix, doy: Matrix, delays: Matrix, issue_day: int) -> float:
    """Mean delay of the customer's invoices issued within a month of this date in earlier years."""
    gap = np.abs(doy - date.fromordinal(issue_day).timetuple().tm_yday)
    near = (np.minimum(gap, 365 - gap) <= 31) & (issued < issue_day - 300)
    return float(delays[near].mean()) if near.any() else math.nan


def _projected(issued: Matrix, delays: Matrix, anchor: float, issue_day: int) -> float:
    """Delay extrapolated along the customer's recent trend, shrunk to ``anchor`` unless the trend is clear."""
    n = len(delays)
    if n < 4:
        return anchor
    x = issued - issued.mean()
    sxx = float((x * x).sum())
    if sxx == 0:
        return anchor
    slope = float((x * (delays - delays.mean())).sum()) / sxx
    resid = delays - delays.mean() - slope * x
    se2 = float((resid * resid).sum()) / (n - 2) / sxx
    t2 = slope * slope / se2 if se2 > 0 else math.inf
    # Positive-part shrinkage: a noisy slope (t^2 below ~4) contributes nothing, a clear one nearly all.
    shrink = max(0.0, 1.0 - 4.0 / t2) if t2 > 0 else 0.0
    line = float(delays.mean()) + slope * (issue_day - float(issued.mean()))
    return anchor + shrink * (line - anchor)


def _days_by(invoices: list[HistoryInvoice], key: Callable[[HistoryInvoice], str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for inv in invoices:
        out[key(inv)].append(inv.issue_date.toordinal())
    return {k: sorted(v) for k, v in out.items()}


def _share(category_days: list[int], all_days: list[int], t: int) -> float:
    # Share of invoices issued before t in this category: tenant-neutral (the base currency is ~1).
    total = bisect_left(all_days, t)
    return bisect_left(category_days, t) / total if total else math.nan


