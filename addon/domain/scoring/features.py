"""Point-in-time features: everything about an invoice, its customer and the organisation as of a date.

Every statistic reads only what was known strictly before ``as_of``: customer history uses invoices
*settled* before ``as_of``, the open book uses invoices issued by ``as_of`` and not settled before it,
and a dispute on the scored invoice counts only once it is visible. A test recomputes features after
rewriting the future and checks nothing changes.

Feature values are floats because they are model inputs; money arithmetic stays in Decimal elsewhere.
Missing values (a customer with no settled invoices yet) are NaN, which XGBoost handles natively.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from addon.domain.scoring.history import (
    NO_DATE,
    OPEN_STATE,
    BoolArray,
    FloatArray,
    HistoryFrame,
    HistoryInvoice,
    IntArray,
    InvoiceEvents,
)
from addon.domain.scoring.order_stats import WaveletMatrix

FEATURE_NAMES: tuple[str, ...] = (
    # the invoice itself
    "log_amount", "amount_vs_typical", "terms_days", "issue_weekday", "issue_month", "currency_share",
    "country_share", "sent",
    # its state at scoring time (zero/just-issued when scored at issue)
    "age_days", "days_to_due", "dispute_open", *OPEN_STATE,
    # the customer's settled history
    "cust_settled", "cust_late_rate", "cust_mean_delay", "cust_median_delay", "cust_delay_spread",
    "cust_ewm_delay", "cust_delay_trend", "cust_projected_delay", "cust_same_season_delay", "cust_last_delay",
    "cust_recent_late_rate", "cust_mean_days_to_settle",
    "cust_dispute_rate", "cust_credit_rate", "cust_partial_rate", "cust_days_since_payment",
    # the customer's open book at scoring time
    "open_count", "open_amount_vs_typical", "overdue_count", "max_days_overdue",
    # the organisation (drift)
    "org_late_rate_90d", "org_mean_delay_90d",
)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
SMOOTHING = 3.0  # pseudo-invoices of the organisation's late rate added to each customer's record
EWM_ALPHA = 0.35  # weight of the latest settlement in the exponentially weighted delay
RECENT_N = 5
TREND_DAYS = 270  # settled invoices issued this recently define the delay trend
DRIFT_WINDOW_DAYS = 90
Matrix = npt.NDArray[np.float64]


def feature_index(name: str) -> int:
    """Column of a feature in the matrix."""
    return _INDEX[name]


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """One row of features per scored invoice, in FEATURE_NAMES order."""

    invoice_ids: list[str]
    values: Matrix
    names: tuple[str, ...] = FEATURE_NAMES

    def row(self, invoice_id: str) -> dict[str, float]:
        """Named features of one invoice (for reasons and debugging)."""
        i = self.invoice_ids.index(invoice_id)
        return dict(zip(self.names, (float(v) for v in self.values[i]), strict=True))


_KEY = 1 << 31  # customer * _KEY + day ordinal: one sorted key per (customer, day); NO_DATE < _KEY
_EPOCH = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Snapshots:
    """(invoice, as_of) pairs as columns, with the invoice located in the builder's history.

    ``customer`` is the builder's customer code (-1: a customer with no history), ``position`` the
    invoice's row in the builder's frame (-1: not part of it), ``currency``/``country`` codes are the
    builder's (-1: unseen); ``has_country`` is False when the invoice has none.
    """

    invoice_ids: list[str]
    t: IntArray
    customer: IntArray
    position: IntArray
    amount: FloatArray
    issue: IntArray
    due: IntArray
    currency: IntArray
    country: IntArray
    has_country: BoolArray
    sent: BoolArray
    dispute_open: BoolArray
    state: FloatArray  # (n, len(OPEN_STATE)): payments and reminders before the scoring day


@dataclass(frozen=True, slots=True)
class _DayQueries:
    """The distinct (customer, day) pairs of a batch of snapshots, and the invoices open on each day."""

    keys: IntArray  # customer * _KEY + day, sorted
    of_row: IntArray  # each snapshot's index into ``keys``
    t: IntArray  # each pair's day
    open_query: IntArray  # per open invoice: its pair (sorted), ...
    open_pos: IntArray  # ... and its position in the issue-ordered arrays (issue order within a pair)


class FeatureBuilder:
    """Indexes a history once (as sorted columns), then computes point-in-time feature rows in bulk.

    Everything is vectorised over the requested (invoice, as_of) pairs, whatever their days: statistics
    of "settled before t" come from per-customer prefix sums looked up with ``searchsorted``, the medians
    of prefixes (median delay, typical amount) from wavelet matrices, and the open book from listing, once
    per distinct (customer, day), the invoices open on that day. No pair reads its customer's whole history.
    """

    def __init__(self, history: Iterable[HistoryInvoice] | HistoryFrame) -> None:
        frame = history if isinstance(history, HistoryFrame) else HistoryFrame.from_records(list(history))
        self.frame = frame
        self._codes = {cid: n for n, cid in enumerate(frame.customers)}
        self._currency_codes = {c: n for n, c in enumerate(frame.currencies)}
        self._country_codes = {c: n for n, c in enumerate(frame.countries)}
        self._index: dict[str, int] | None = None
        self._recent: dict[tuple[str, int, int], list[int]] = {}
        n_customers = len(frame.customers)
        customers = np.arange(n_customers + 1)
        cust = frame.customer
        # Settled invoices per customer in settlement order (ties by invoice id, as sorted records were).
        settled = np.flatnonzero(frame.paid != NO_DATE)
        order = settled[_lexsort((frame.id_rank[settled], frame.paid[settled], cust[settled]))]
        self._s_row = order
        self._s_cust, self._s_paid = cust[order], frame.paid[order]
        self._s_issue = frame.issue[order]
        self._s_delay = self._s_paid - frame.due[order]
        self._s_key = self._s_cust * _KEY + self._s_paid
        self._s_start = np.searchsorted(self._s_cust, customers)
        delay = self._s_delay.astype(np.float64)
        self._s_cum: dict[str, npt.NDArray[Any]] = {
            "delay": _cumsum(delay), "late": _cumsum(delay > 0), "delay2": _cumsum_int(self._s_delay ** 2),
            "settle": _cumsum((self._s_paid - self._s_issue).astype(np.float64)),
            "dispute": _cumsum(frame.disputed[order]), "credit": _cumsum(frame.credited[order]),
            "partial": _cumsum(frame.partial[order])}
        self._s_ewm = _ewm_by_segment(delay, self._s_start)
        self._delay_min = int(self._s_delay.min()) if len(order) else 0
        # Order statistics of any settled prefix (median delay), from delays made non-negative.
        self._s_delays = WaveletMatrix(self._s_delay - self._delay_min)
        # The same settled invoices by issue date, with running sums for the trend and same-season delay:
        # x = issue day - base (small, so sums of squares stay exact in int64), y = delay.
        by_issue = _lexsort((self._s_issue, self._s_cust))
        self._si_issue = self._s_issue[by_issue]
        self._si_key = self._s_cust[by_issue] * _KEY + self._si_issue
        self._x_base = int(self._s_issue.min()) if len(order) else 0
        x, y = self._si_issue - self._x_base, self._s_delay[by_issue]
        self._si_sums = {"x": _cumsum_int(x), "y": _cumsum_int(y), "xx": _cumsum_int(x * x), "yy": _cumsum_int(y * y),
                         "xy": _cumsum_int(x * y)}
        # Every invoice per customer by issue date (typical amount, open book).
        order = _lexsort((frame.id_rank, frame.issue, cust))  # as the records were sorted
        self._i_cust, self._i_issue = cust[order], frame.issue[order]
        self._i_due, self._i_paid, self._i_amount = frame.due[order], frame.paid[order], frame.amount[order]
        # Each amount's rank among all of them: the typical amount is a median of ranks. (Equal amounts may
        # rank in any order among themselves: they stand for the same number.)
        by_amount = np.argsort(self._i_amount)
        amount_rank = np.empty(len(order), dtype=np.int64)
        amount_rank[by_amount] = np.arange(len(order))
        self._i_amounts = WaveletMatrix(amount_rank)
        self._i_amount_sorted = self._i_amount[by_amount]
        self._i_key = self._i_cust * _KEY + self._i_issue
        self._i_start = np.searchsorted(self._i_cust, customers)
        # The same invoices per customer by settlement day (unpaid last), as positions in the issue order:
        # the ones not settled before a day are a suffix of each customer's run.
        self._p_pos = _lexsort((self._i_paid, self._i_cust))
        self._p_key = self._i_cust[self._p_pos] * _KEY + self._i_paid[self._p_pos]
        # Invoices settled before their issue date (paid in advance): settled before days they were not yet issued on.
        self._advance = np.flatnonzero(self._i_paid < self._i_issue)
        # Every invoice per customer by due date (whose on-time/late outcome is known by a day).
        self._d_row = _lexsort((frame.id_rank, frame.due, cust))
        self._d_key = cust[self._d_row] * _KEY + frame.due[self._d_row]
        self._d_start = np.searchsorted(cust[self._d_row], customers)
        # The organisation: all settlements by date.
        org = settled[_lexsort((frame.paid[settled],))]
        self.org_paid = frame.paid[org]
        self.org_delays = (frame.paid[org] - frame.due[org]).astype(np.float64)
        self.org_cum_delay = _cumsum(self.org_delays)
        self.org_cum_late = _cumsum(self.org_delays > 0)
        self.issue_days = np.sort(frame.issue)
        self._currency_key = np.sort(frame.currency * _KEY + frame.issue)
        with_country = frame.country >= 0
        self._country_key = np.sort(frame.country[with_country] * _KEY + frame.issue[with_country])

    # --- inputs ---------------------------------------------------------------------------------

    def snapshots(self, pairs: Sequence[tuple[HistoryInvoice, date]]) -> Snapshots:
        """Columns of (invoice record, as_of) pairs, located in this builder's history by invoice id."""
        if self._index is None and pairs:
            self._index = self.frame.index()
        index = self._index or {}
        cust = np.array([self._codes.get(inv.customer_id, -1) for inv, _ in pairs], dtype=np.int64)
        position = np.array([index.get(inv.invoice_id, -1) for inv, _ in pairs], dtype=np.int64)
        # Only an invoice of the same customer is "itself" in that customer's open book.
        if self.frame.size:
            position[(position >= 0) & (self.frame.customer[np.maximum(position, 0)] != cust)] = -1
        return Snapshots(
            invoice_ids=[inv.invoice_id for inv, _ in pairs],
            t=_ints(as_of.toordinal() for _, as_of in pairs), customer=cust, position=position,
            amount=np.array([float(inv.amount) for inv, _ in pairs], dtype=np.float64),
            issue=_ints(inv.issue_date.toordinal() for inv, _ in pairs),
            due=_ints(inv.due_date.toordinal() for inv, _ in pairs),
            currency=_ints(self._currency_codes.get(inv.currency, -1) for inv, _ in pairs),
            country=_ints(self._country_codes.get(inv.country, -1) if inv.country else -1 for inv, _ in pairs),
            has_country=np.array([bool(inv.country) for inv, _ in pairs], dtype=bool),
            sent=np.array([bool(inv.sent) for inv, _ in pairs], dtype=bool),
            dispute_open=np.array([inv.dispute_visible(as_of) for inv, as_of in pairs], dtype=bool),
            state=InvoiceEvents.from_records([inv for inv, _ in pairs]).state_at(
                np.arange(len(pairs)), _ints(as_of.toordinal() for _, as_of in pairs),
                np.array([float(inv.amount) for inv, _ in pairs], dtype=np.float64)))

    def frame_snapshots(self, frame: HistoryFrame, rows: IntArray, positions: IntArray,
                        as_of: date | IntArray) -> Snapshots:
        """Columns for ``rows`` of ``frame`` scored at ``as_of`` (one date, or a day ordinal per row);
        ``positions`` are their rows in this builder's frame (-1: not in it). ``frame`` must share this
        builder's code tables."""
        t = np.full(len(rows), as_of.toordinal(), dtype=np.int64) if isinstance(as_of, date) else as_of
        due = frame.due[rows]
        return Snapshots(
            invoice_ids=[frame.invoice_id(r) for r in rows.tolist()], t=t,
            customer=frame.customer[rows], position=positions, amount=frame.amount[rows],
            issue=frame.issue[rows], due=due, currency=frame.currency[rows], country=frame.country[rows],
            has_country=frame.country[rows] >= 0, sent=frame.sent[rows],
            dispute_open=frame.dispute_open(rows, t), state=frame.open_state(rows, t))

    # --- features -------------------------------------------------------------------------------

    def matrix(self, snapshots: Sequence[tuple[HistoryInvoice, date]] | Snapshots) -> FeatureMatrix:
        """Feature rows for (invoice, as_of) pairs; each pair may have its own as_of."""
        snap = snapshots if isinstance(snapshots, Snapshots) else self.snapshots(snapshots)
        return FeatureMatrix(snap.invoice_ids, self._values(snap))

    def row(self, inv: HistoryInvoice, as_of: date) -> Matrix:
        """Feature vector of ``inv`` scored at ``as_of`` (FEATURE_NAMES order)."""
        values: Matrix = self._values(self.snapshots([(inv, as_of)]))[0]
        return values

    def recent_delays(self, customer_id: str, as_of: date, n: int = 4) -> list[int]:
        """Delays (days after due) of the customer's last ``n`` invoices settled before ``as_of``."""
        key = (customer_id, as_of.toordinal(), n)
        found = self._recent.get(key)
        if found is None:  # reasons ask once per scored invoice; a book has many per customer and day
            start, k = self._settled_prefix(customer_id, key[1])
            found = self._recent[key] = self._s_delay[start + max(0, k - n):start + k].tolist()
        return list(found)

    def last_settled(self, customers: IntArray, t: IntArray, n: int) -> tuple[IntArray, BoolArray]:
        """Frame rows of each customer's last ``n`` invoices settled before day ordinal ``t``, oldest first.

        One row of ``n`` columns per (customer code, t) pair; ``valid`` marks the columns that are real
        invoices (a customer with fewer, or code -1, has the rest invalid).
        """
        return _last_before(self._s_key, self._s_start, self._s_row, customers, t, n)

    def last_due(self, customers: IntArray, t: IntArray, n: int) -> tuple[IntArray, BoolArray]:
        """Frame rows of each customer's last ``n`` invoices due before day ordinal ``t`` (paid or not:
        whether each was paid on time is known on ``t``), oldest first, in ``last_settled``'s layout."""
        return _last_before(self._d_key, self._d_start, self._d_row, customers, t, n)

    def settled_delays(self, customer_id: str, t: int) -> Matrix:
        """Delays of the customer's invoices settled before day ordinal ``t``, in settlement order."""
        start, k = self._settled_prefix(customer_id, t)
        return self._s_delay[start:start + k].astype(np.float64)

    def _settled_prefix(self, customer_id: str, t: int) -> tuple[int, int]:
        code = self._codes.get(customer_id)
        if code is None:
            return 0, 0
        start = int(self._s_start[code])
        return start, int(np.searchsorted(self._s_key, code * _KEY + t)) - start

    def _values(self, snap: Snapshots) -> Matrix:
        out = np.full((len(snap.t), len(FEATURE_NAMES)), np.nan)
        if not len(snap.t):
            return out
        prior = self._org(snap.t, out)
        self._invoice(snap, out)
        known = np.flatnonzero(snap.customer >= 0)
        unknown = snap.customer < 0
        out[unknown, _INDEX["cust_settled"]] = 0.0
        out[unknown, _INDEX["cust_late_rate"]] = prior[unknown]
        typical = np.full(len(snap.t), np.nan)
        if len(known):
            self._customer_history(snap, known, prior[known], out)
            typical[known] = self._order_statistics(snap, known, out)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, _INDEX["amount_vs_typical"]] = np.where(typical > 0, snap.amount / typical, np.nan)
        return out

    def _org(self, t: IntArray, out: Matrix) -> FloatArray:
        hi = np.searchsorted(self.org_paid, t)
        lo = np.searchsorted(self.org_paid, t - DRIFT_WINDOW_DAYS)
        n = hi - lo
        late, delay = self.org_cum_late, self.org_cum_delay
        out[:, _INDEX["org_late_rate_90d"]] = _ratio(late[hi] - late[lo], n)
        out[:, _INDEX["org_mean_delay_90d"]] = _ratio(delay[hi] - delay[lo], n)
        # The smoothing prior falls back to a neutral 0.5 before the organisation has any history.
        return (late[hi] + 1.0) / (hi + 2.0)

    def _invoice(self, snap: Snapshots, out: Matrix) -> None:
        t = snap.t
        out[:, _INDEX["log_amount"]] = [math.log1p(max(a, 0.0)) for a in snap.amount.tolist()]
        out[:, _INDEX["terms_days"]] = snap.due - snap.issue
        out[:, _INDEX["issue_weekday"]] = (snap.issue + 6) % 7
        months = (snap.issue - _EPOCH).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        out[:, _INDEX["issue_month"]] = months % 12 + 1
        total = np.searchsorted(self.issue_days, t)
        out[:, _INDEX["currency_share"]] = _ratio(_category_count(self._currency_key, snap.currency, t), total)
        shares = _ratio(_category_count(self._country_key, snap.country, t), total)
        out[:, _INDEX["country_share"]] = np.where(snap.has_country, shares, np.nan)
        out[:, _INDEX["sent"]] = snap.sent
        out[:, _INDEX["age_days"]] = np.maximum(0, t - snap.issue)
        out[:, _INDEX["days_to_due"]] = snap.due - t
        out[:, _INDEX["dispute_open"]] = snap.dispute_open
        out[:, [_INDEX[name] for name in OPEN_STATE]] = snap.state

    def _customer_history(self, snap: Snapshots, rows: IntArray, prior: FloatArray, out: Matrix) -> None:
        """The prefix-sum part of the customer's record: everything but medians, trend and season."""
        t, code = snap.t[rows], snap.customer[rows]
        start = self._s_start[code]
        end = np.searchsorted(self._s_key, code * _KEY + t)
        k = end - start
        cum = self._s_cum

        def total(name: str, first: IntArray = start) -> npt.NDArray[Any]:
            sums: npt.NDArray[Any] = cum[name][end] - cum[name][first]  # exact: all whole numbers
            return sums

        out[rows, _INDEX["cust_settled"]] = k
        out[rows, _INDEX["cust_late_rate"]] = (total("late") + SMOOTHING * prior) / (k + SMOOTHING)
        has = k > 0
        r, k1, last = rows[has], k[has], end[has] - 1
        kf = k1.astype(np.float64)
        out[r, _INDEX["cust_mean_delay"]] = total("delay")[has] / kf
        # Population std from exact integer sums (k * sum(d^2) - sum(d)^2 >= 0).
        sq = k1 * total("delay2")[has].astype(np.int64) - total("delay")[has].astype(np.int64) ** 2
        spread = np.sqrt(sq / (kf * kf))
        out[r, _INDEX["cust_delay_spread"]] = np.where(k1 > 1, spread, np.nan)
        out[r, _INDEX["cust_ewm_delay"]] = self._s_ewm[last]
        out[r, _INDEX["cust_last_delay"]] = self._s_delay[last]
        recent = np.minimum(k1, RECENT_N)
        out[r, _INDEX["cust_recent_late_rate"]] = total("late", end - np.minimum(k, RECENT_N))[has] / recent
        out[r, _INDEX["cust_mean_days_to_settle"]] = total("settle")[has] / kf
        out[r, _INDEX["cust_dispute_rate"]] = total("dispute")[has] / kf
        out[r, _INDEX["cust_credit_rate"]] = total("credit")[has] / kf
        out[r, _INDEX["cust_partial_rate"]] = total("partial")[has] / kf
        out[r, _INDEX["cust_days_since_payment"]] = t[has] - self._s_paid[last]

    def _order_statistics(self, snap: Snapshots, rows: IntArray, out: Matrix) -> FloatArray:
        """Median delay, trend, same-season delay, typical amount and open book of snapshots ``rows``
        (customers with a history), all at once whatever their days.

        Medians of prefixes come from the wavelet matrices, window sums from running sums, and the
        invoices open on each distinct (customer, day) are listed once; none of it reads a customer's
        whole history per day. Returns the customer's typical amount per snapshot.
        """
        t, code = snap.t[rows], snap.customer[rows]
        key = code * _KEY + t
        # Median delay of the customer's settled prefix (delays are integers: exact order statistics).
        s_lo, s_hi = self._s_start[code], np.searchsorted(self._s_key, key)
        has = s_hi > s_lo
        median = np.full(len(rows), np.nan)
        low, high = self._s_delays.middle(s_lo[has], s_hi[has])
        median[has] = (low + high + 2 * self._delay_min) / 2
        out[rows[has], _INDEX["cust_median_delay"]] = median[has]
        out[rows[has], _INDEX["cust_delay_trend"]] = out[rows[has], _INDEX["cust_ewm_delay"]] - median[has]
        # Typical amount: median of the amounts issued strictly before the day.
        i_lo, i_hi = self._i_start[code], np.searchsorted(self._i_key, key)
        typical = np.full(len(rows), np.nan)
        some = i_hi > i_lo
        low, high = self._i_amounts.middle(i_lo[some], i_hi[some])
        typical[some] = (self._i_amount_sorted[low] + self._i_amount_sorted[high]) / 2
        keys, of_row = np.unique(key, return_inverse=True)
        queries = _DayQueries(keys, of_row, keys % _KEY, *self._open_on(keys))
        self._trend_and_season(snap, rows, queries, median, has, out)
        self._open_book(snap, rows, queries, typical, out)
        return typical

    def _open_on(self, queries: IntArray) -> tuple[IntArray, IntArray]:
        """Every invoice open on each (customer * _KEY + day) query's day: issued by then and not settled
        before it. (query, position in the issue-ordered arrays), sorted by query, then issue order.

        Per query the shorter of two runs is scanned: the customer's invoices issued by the day (a prefix by
        issue date) or those not settled before it (a suffix by settlement day); the other condition filters.
        """
        code, t = queries // _KEY, queries % _KEY
        start, end = self._i_start[code], self._i_start[code + 1]
        issued = np.searchsorted(self._i_key, queries, side="right") - start
        unsettled_from = np.searchsorted(self._p_key, queries)
        by_issue = issued <= end - unsettled_from
        which = np.flatnonzero(by_issue)
        pos, seg, _ = _segments(start[which], issued[which])
        keep = self._i_paid[pos] >= t[which][seg]
        q1, pos1 = np.compress(keep, which[seg]), np.compress(keep, pos)
        which = np.flatnonzero(~by_issue)
        idx, seg, _ = _segments(unsettled_from[which], (end - unsettled_from)[which])
        pos = self._p_pos[idx]
        keep = self._i_issue[pos] <= t[which][seg]
        q, pos = np.concatenate((q1, np.compress(keep, which[seg]))), np.concatenate((pos1, np.compress(keep, pos)))
        order = np.lexsort((pos, q))
        return q[order], pos[order]

    def _trend_and_season(self, snap: Snapshots, rows: IntArray, queries: _DayQueries, anchor: FloatArray,
                          has: BoolArray, out: Matrix) -> None:
        """Trend-projected and same-season delay per snapshot: sums over issue-date windows of the invoices
        settled before the scoring day.

        Running sums give the settled invoices issued before the day; the few that were still open on it
        are taken out again, and the few paid in advance (settled before it, issued on or after it) put in.
        """
        t, code, issue_day = snap.t[rows], snap.customer[rows], snap.issue[rows]
        sums = self._si_sums
        before = np.searchsorted(self._si_key, queries.keys[queries.of_row])  # settled ones issued before day t

        def window(which: IntArray, lo_day: IntArray, hi_day: IntArray) -> tuple[IntArray, IntArray]:
            """Running-sum positions of the settled invoices issued in [lo_day, hi_day] and before day t."""
            base = code[which] * _KEY
            lo = np.searchsorted(self._si_key, base + np.clip(lo_day[which], 0, _KEY - 1))
            hi = np.searchsorted(self._si_key, base + np.clip(hi_day[which], 0, _KEY - 1), side="right")
            return lo, np.maximum(np.minimum(hi, before[which]), lo)

        pair_row, pair_pos, sign = self._settled_corrections(queries)
        x = self._i_issue[pair_pos] - t[pair_row]  # days, relative to the scoring day
        y = self._i_paid[pair_pos] - self._i_due[pair_pos]
        one = np.ones(len(pair_row), dtype=np.int64)

        def corrected(values: IntArray, member: BoolArray) -> IntArray:
            total: IntArray = np.bincount(pair_row, weights=np.where(member, sign * values, 0),
                                          minlength=len(rows)).astype(np.int64)  # exact: whole numbers < 2**53
            return total

        everyone = np.arange(len(rows))
        lo, hi = window(everyone, issue_day - TREND_DAYS, np.full(len(rows), _KEY - 1))
        m = hi - lo

        def prefix(name: str) -> IntArray:
            total: IntArray = sums[name][hi] - sums[name][lo]
            return total

        in_trend = self._i_issue[pair_pos] >= (issue_day - TREND_DAYS)[pair_row]
        # The running sums count x from the base day; the fit counts it from day t (exact integer algebra).
        shift = t - self._x_base
        px, py = prefix("x"), prefix("y")
        n = m + corrected(one, in_trend)
        sx = px - m * shift + corrected(x, in_trend)
        sy = py + corrected(y, in_trend)
        sxx = prefix("xx") - 2 * shift * px + m * shift * shift + corrected(x * x, in_trend)
        sxy = prefix("xy") - shift * py + corrected(x * y, in_trend)
        syy = prefix("yy") + corrected(y * y, in_trend)
        projected = _projected_from_sums(n, sx, sy, sxx, syy, sxy, anchor, issue_day - t)
        out[rows[has], _INDEX["cust_projected_delay"]] = projected[has]
        # Same season: issued within 31 days of this day-of-year in an earlier year (and > 300 days ago).
        days = (issue_day - _EPOCH).astype("datetime64[D]")
        year = days.astype("datetime64[Y]")
        doy = (days - year).astype(np.int64) + 1
        last_day = issue_day - 301  # strictly before issue_day - 300
        near_n = np.zeros(len(rows), dtype=np.int64)
        near_sum = np.zeros(len(rows), dtype=np.int64)
        if has.any():
            first_year = date.fromordinal(int(self._si_issue[self._s_start[code[has]]].min())).year
            for y_ in range(first_year, int(year.max().astype(np.int64)) + 1970 + 1):
                jan1 = date(y_, 1, 1).toordinal()
                length = date(y_ + 1, 1, 1).toordinal() - jan1
                for lo_doy, hi_doy in ((np.maximum(1, doy - 31), np.minimum(length, doy + 31)),
                                       (doy + 334, np.full(len(rows), length)), (np.ones(len(rows), int), doy - 334)):
                    lo_day = jan1 + lo_doy - 1
                    hi_day = np.minimum(jan1 + hi_doy - 1, last_day)
                    ok = np.flatnonzero(has & (lo_doy <= hi_doy) & (lo_day <= hi_day))
                    lo, hi = window(ok, lo_day, hi_day)
                    near_n[ok] += hi - lo
                    near_sum[ok] += sums["y"][hi] - sums["y"][lo]
        # The corrections' membership in those windows, in closed form (the windows never overlap).
        d = (self._i_issue[pair_pos] - _EPOCH).astype("datetime64[D]")
        d_doy = (d - d.astype("datetime64[Y]")).astype(np.int64) + 1
        r_doy = doy[pair_row]
        in_season = ((self._i_issue[pair_pos] <= last_day[pair_row])
                     & (((d_doy >= r_doy - 31) & (d_doy <= r_doy + 31)) | (d_doy >= r_doy + 334)
                        | (d_doy <= r_doy - 334)))
        near_n += corrected(one, in_season)
        near_sum += corrected(y, in_season)
        season = _ratio(near_sum.astype(np.float64), near_n)
        out[rows[has], _INDEX["cust_same_season_delay"]] = season[has]

    def _settled_corrections(self, queries: _DayQueries) -> tuple[IntArray, IntArray, IntArray]:
        """(snapshot, invoice position, sign) for every invoice the running sums of "settled invoices
        issued before day t" get wrong for a snapshot's (customer, day): -1 for those issued before the day
        but settled on or after it, +1 for those settled before the day but issued on or after it."""
        open_query, open_pos = queries.open_query, queries.open_pos
        settled_later = (self._i_paid[open_pos] != NO_DATE) & (self._i_issue[open_pos] < queries.t[open_query])
        q_later, pos_later = open_query[settled_later], open_pos[settled_later]
        # Paid in advance: settled before each query day in (paid, issue] of the same customer.
        adv = self._advance
        base = self._i_cust[adv] * _KEY
        first = np.searchsorted(queries.keys, base + self._i_paid[adv], side="right")
        after = np.searchsorted(queries.keys, base + self._i_issue[adv], side="right")
        q_adv, seg, _ = _segments(first, after - first)
        q_all = np.concatenate((q_later, q_adv))
        pos_all = np.concatenate((pos_later, adv[seg]))
        sign_all = np.concatenate((np.full(len(q_later), -1, dtype=np.int64), np.ones(len(q_adv), dtype=np.int64)))
        order = np.argsort(q_all, kind="stable")
        q_all, pos_all, sign_all = q_all[order], pos_all[order], sign_all[order]
        # Each snapshot takes its query's corrections.
        count = np.bincount(q_all, minlength=len(queries.keys))
        first_of = np.cumsum(count) - count
        idx, row, _ = _segments(first_of[queries.of_row], count[queries.of_row])
        return row, pos_all[idx], sign_all[idx]

    def _open_book(self, snap: Snapshots, rows: IntArray, queries: _DayQueries, typical: FloatArray,
                   out: Matrix) -> None:
        """Each customer's other open invoices on the scoring day: issued by then and not settled before it."""
        open_query, open_pos, query = queries.open_query, queries.open_pos, queries.of_row
        n = len(queries.keys)
        count = np.bincount(open_query, minlength=n)
        # Sum each query's open amounts as one contiguous array in issue order (the same summation as np.sum).
        open_amounts = self._i_amount[open_pos]
        amount = np.zeros(n, dtype=np.float64)
        bounds = np.concatenate(([0], np.cumsum(count)))
        single = np.flatnonzero(count == 1)
        amount[single] = open_amounts[bounds[single]]
        for q in np.flatnonzero(count > 1).tolist():
            amount[q] = open_amounts[bounds[q]:bounds[q + 1]].sum()
        o_due = self._i_due[open_pos]
        overdue = o_due < queries.t[open_query]
        o_q, o_due = open_query[overdue], o_due[overdue]
        o_order = np.lexsort((o_due, o_q))
        o_q, o_due = o_q[o_order], o_due[o_order]
        n_over = np.bincount(o_q, minlength=n)
        o_first = np.searchsorted(o_q, np.arange(n))
        oldest = np.where(n_over > 0, o_due[np.minimum(o_first, len(o_due) - 1)] if len(o_due) else 0, 0)
        second = np.where(n_over > 1, o_due[np.minimum(o_first + 1, len(o_due) - 1)] if len(o_due) else 0, 0)
        count_r, amount_r, over_r = count[query], amount[query], n_over[query]
        oldest_r, second_r = oldest[query], second[query]
        # The scored invoice is not part of its own "other open invoices".
        t = snap.t[rows]
        pos = snap.position[rows]
        p = np.maximum(pos, 0)
        frame = self.frame
        me = (pos >= 0) & (frame.issue[p] <= t) & (frame.paid[p] >= t)
        count_r = count_r - me
        amount_r = np.where(me, amount_r - frame.amount[p], amount_r)
        me_over = me & (frame.due[p] < t)
        over_r = over_r - me_over
        oldest_r = np.where(me_over & (oldest_r == frame.due[p]), np.where(over_r > 0, second_r, 0), oldest_r)
        out[rows, _INDEX["open_count"]] = count_r
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rows, _INDEX["open_amount_vs_typical"]] = np.where(typical > 0, amount_r / typical, np.nan)
        out[rows, _INDEX["overdue_count"]] = over_r
        out[rows, _INDEX["max_days_overdue"]] = np.where(over_r > 0, t - oldest_r, 0)


def _last_before(keys: IntArray, starts: IntArray, rows: IntArray, customers: IntArray, t: IntArray, n: int
                 ) -> tuple[IntArray, BoolArray]:
    """The last ``n`` entries before day ``t`` of each customer's run in an index sorted by (customer, day):
    ``keys`` are customer * _KEY + day, ``starts`` each customer's first position, ``rows`` the frame row at
    each position. (rows, valid) of shape (len(customers), n), oldest first; code -1 has none."""
    code = np.maximum(customers, 0)
    end = np.searchsorted(keys, code * _KEY + t)
    start = np.maximum(end - n, starts[code])
    pos = start[:, None] + np.arange(n)[None, :]
    valid = (pos < end[:, None]) & (customers[:, None] >= 0)
    found = rows[np.minimum(pos, len(rows) - 1)] if len(rows) else pos
    return found, valid


def _lexsort(keys: Sequence[IntArray]) -> IntArray:
    """``np.lexsort(keys)`` (the last key sorts first; ties keep their order), as one argsort of the keys
    packed into one int64 when their ranges fit: several times faster on a million rows."""
    n = len(keys[0])
    packed = np.zeros(n, dtype=np.int64)
    bits = 0
    for key in reversed(keys):
        lo = int(key.min()) if n else 0
        width = ((int(key.max()) if n else 0) - lo).bit_length()
        bits += width
        if bits > 62:
            return np.lexsort(keys)
        packed = (packed << width) | (key - lo)
    order: IntArray = np.argsort(packed)  # quicksort: right when no two rows tie, else redone stably
    ordered = packed[order]
    if n > 1 and bool(np.any(ordered[1:] == ordered[:-1])):
        order = np.argsort(packed, kind="stable")
    return order


def _segments(starts: IntArray, lengths: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Concatenated index ranges [start, start + length): (indices, segment of each, offset of each segment)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offs = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    seg = np.repeat(np.arange(len(lengths)), lengths)
    idx = np.arange(total, dtype=np.int64) + np.repeat(np.asarray(starts, dtype=np.int64) - offs, lengths)
    return idx, seg, offs


def _projected_from_sums(n: IntArray, sx: IntArray, sy: IntArray, sxx: IntArray, syy: IntArray, sxy: IntArray,
                         anchor: FloatArray, issue_x: IntArray) -> FloatArray:
    """The trend-projected delay from window sums (exact integers, x shifted so that ``issue_x`` is the scored day).

    Delay extrapolated along the customer's recent trend, shrunk to ``anchor`` unless the trend is clear.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nf = n.astype(np.float64)
        sxx_n = n * sxx - sx * sx  # n * sum((x - mean)^2), exact
        sxy_n = n * sxy - sx * sy
        syy_n = n * syy - sy * sy
        slope = sxy_n / sxx_n.astype(np.float64)
        rss = np.maximum(syy_n - sxy_n.astype(np.float64) * slope, 0.0) / nf  # residual sum of squares
        se2 = rss / (nf - 2) / (sxx_n / nf)
        t2 = np.where(se2 > 0, slope * slope / se2, np.inf)
        # Positive-part shrinkage: a noisy slope (t^2 below ~4) contributes nothing, a clear one nearly all.
        shrink = np.where(t2 > 0, np.maximum(0.0, 1.0 - 4.0 / t2), 0.0)
        line = sy / nf + slope * (issue_x - sx / nf)
        projected = anchor + shrink * (line - anchor)
    return np.where((n >= 4) & (sxx_n != 0), projected, anchor)


def _cumsum(values: npt.NDArray[np.generic]) -> Matrix:
    return np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))


def _cumsum_int(values: npt.NDArray[np.generic]) -> IntArray:
    return np.concatenate(([0], np.cumsum(values, dtype=np.int64)))


def _ints(values: Iterable[int]) -> IntArray:
    return np.fromiter(values, dtype=np.int64)


def _ratio(num: npt.NDArray[np.generic], den: IntArray) -> FloatArray:
    """num / den, NaN where den is 0."""
    out = np.full(len(den), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _category_count(keys: IntArray, codes: IntArray, t: IntArray) -> IntArray:
    """How many invoices of each row's category were issued before ``t`` (0 for an unseen category)."""
    base = np.maximum(codes, 0) * _KEY
    count = np.searchsorted(keys, base + t) - np.searchsorted(keys, base)
    return np.where(codes >= 0, count, 0)


def _ewm_by_segment(delays: Matrix, starts: IntArray) -> Matrix:
    """ewm[j] = exponentially weighted delay of a customer's settlements up to and including j.

    The recursion acc = a * d + (1 - a) * acc runs per customer as a first-order linear filter, which
    performs the same floating-point operations in the same order as the plain loop.
    """
    out = delays.copy()
    a = EWM_ALPHA
    for lo, hi in itertools.pairwise(starts.tolist()):
        if hi - lo > 1:
            out[lo + 1:hi] = lfilter([a], [1.0, -(1 - a)], delays[lo + 1:hi], zi=[(1 - a) * delays[lo]])[0]
    return out


def open_at(invoices: Iterable[HistoryInvoice], as_of: date) -> list[HistoryInvoice]:
    """Invoices issued on or before ``as_of`` and not settled before it."""
    return [i for i in invoices if i.issue_date <= as_of and not i.settled_before(as_of)]


def build_features(invoices: Sequence[HistoryInvoice], as_of: date,
                   targets: Sequence[HistoryInvoice] | None = None) -> FeatureMatrix:
    """Point-in-time features of ``targets`` (default: invoices open at ``as_of``) from ``invoices``."""
    chosen = open_at(invoices, as_of) if targets is None else list(targets)
    return FeatureBuilder(invoices).matrix([(inv, as_of) for inv in chosen])
