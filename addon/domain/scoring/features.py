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
from typing import Any, Literal

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


class FeatureBuilder:
    """Indexes a history once (as sorted columns), then computes point-in-time feature rows in bulk.

    Everything is vectorised over the requested (invoice, as_of) pairs: statistics of "settled before
    t" come from per-customer prefix sums looked up with ``searchsorted``; the few order statistics
    (median delay, typical amount) and the open book are computed once per distinct (customer, day).
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
        order = settled[np.lexsort((frame.id_rank[settled], frame.paid[settled], cust[settled]))]
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
        self._delay_range = (int(self._s_delay.max()) if len(order) else 0) - self._delay_min + 1
        # The same settled invoices by issue date (trend window and same-season delay).
        by_issue = np.lexsort((self._s_issue, self._s_cust))
        self._si_issue, self._si_paid = self._s_issue[by_issue], self._s_paid[by_issue]
        self._si_delay = self._s_delay[by_issue]
        self._si_start = self._s_start  # same customers, same counts
        # Every invoice per customer by issue date (typical amount, open book).
        order = np.lexsort((frame.id_rank, frame.issue, cust))  # as the records were sorted
        self._i_cust, self._i_issue = cust[order], frame.issue[order]
        self._i_due, self._i_paid, self._i_amount = frame.due[order], frame.paid[order], frame.amount[order]
        # Each amount's rank among all of them (ties by position), so per-day medians sort integers, not floats.
        self._i_amount_rank = np.empty(len(order), dtype=np.int64)
        self._i_amount_rank[np.argsort(self._i_amount, kind="stable")] = np.arange(len(order))
        self._i_amount_sorted = np.sort(self._i_amount)
        self._i_key = self._i_cust * _KEY + self._i_issue
        self._i_start = np.searchsorted(self._i_cust, customers)
        # Every invoice per customer by due date (whose on-time/late outcome is known by a day).
        self._d_row = np.lexsort((frame.id_rank, frame.due, cust))
        self._d_key = cust[self._d_row] * _KEY + frame.due[self._d_row]
        self._d_start = np.searchsorted(cust[self._d_row], customers)
        # The organisation: all settlements by date.
        org = settled[np.argsort(frame.paid[settled], kind="stable")]
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
            # Per-(customer, day) blocks, one group of snapshots per scoring day.
            order = known[np.argsort(snap.t[known], kind="stable")]
            days, starts = np.unique(snap.t[order], return_index=True)
            for day, group in zip(days.tolist(), np.split(order, starts[1:]), strict=True):
                typical[group] = self._by_day(snap, group, day, out)
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

    def _by_day(self, snap: Snapshots, rows: IntArray, t: int, out: Matrix) -> FloatArray:
        """Median delay, trend, same-season delay, typical amount and open book for snapshots on day ``t``.

        Returns the customer's typical amount per snapshot.
        """
        customers, local = np.unique(snap.customer[rows], return_inverse=True)
        # Median delay of each customer's settled prefix (delays are integers: sort (customer, delay) keys).
        s_start = self._s_start[customers]
        k = np.searchsorted(self._s_key, customers * _KEY + t) - s_start
        idx, seg, offs = _segments(s_start, k)
        keys = np.sort(seg * self._delay_range + (self._s_delay[idx] - self._delay_min))
        median = np.full(len(customers), np.nan)
        some = k > 0
        ordered = keys - seg * self._delay_range + self._delay_min  # each prefix's delays, ascending
        median[some] = (ordered[offs[some] + (k[some] - 1) // 2] + ordered[offs[some] + k[some] // 2]) / 2
        k_row, median_row = k[local], median[local]
        has = k_row > 0
        out[rows[has], _INDEX["cust_median_delay"]] = median_row[has]
        out[rows[has], _INDEX["cust_delay_trend"]] = out[rows[has], _INDEX["cust_ewm_delay"]] - median_row[has]
        self._trend_and_season(snap, rows, local, customers, t, median_row, has, out)
        typical = self._typical(customers, t)[local]
        self._open_book(snap, rows, local, customers, t, typical, out)
        return typical

    def _trend_and_season(self, snap: Snapshots, rows: IntArray, local: IntArray, customers: IntArray, t: int,
                          anchor: FloatArray, has: BoolArray, out: Matrix) -> None:
        """Trend-projected and same-season delay per snapshot, from sums over issue-date ranges."""
        start = self._si_start[customers]
        idx, seg, _ = _segments(start, self._si_start[customers + 1] - start)
        issue = self._si_issue[idx]
        settled = self._si_paid[idx] < t
        x = np.where(settled, issue - t, 0)  # days, shifted so that sums of squares stay small and exact
        y = np.where(settled, self._si_delay[idx], 0)
        count, sx, sy = _cumsum_int(settled), _cumsum_int(x), _cumsum_int(y)
        sxx, syy, sxy = _cumsum_int(x * x), _cumsum_int(y * y), _cumsum_int(x * y)
        key = seg * _KEY + issue
        base = local * _KEY
        issue_day = snap.issue[rows]

        def first(day: IntArray, side: Literal["left", "right"] = "left") -> IntArray:
            found: IntArray = np.searchsorted(key, base + np.clip(day, 0, _KEY - 1), side=side)
            return found

        end = first(np.full(len(rows), _KEY - 1), "right")
        begin = first(issue_day - TREND_DAYS)
        n = count[end] - count[begin]
        projected = _projected_from_sums(n, sx[end] - sx[begin], sy[end] - sy[begin], sxx[end] - sxx[begin],
                                         syy[end] - syy[begin], sxy[end] - sxy[begin], anchor, issue_day - t)
        out[rows[has], _INDEX["cust_projected_delay"]] = projected[has]
        # Same season: issued within 31 days of this day-of-year in an earlier year (and > 300 days ago).
        days = (issue_day - _EPOCH).astype("datetime64[D]")
        year = days.astype("datetime64[Y]")
        doy = (days - year).astype(np.int64) + 1
        near_n = np.zeros(len(rows), dtype=np.int64)
        near_sum = np.zeros(len(rows), dtype=np.int64)
        last_day = issue_day - 301  # strictly before issue_day - 300
        first_year = int(self._si_issue[idx].min()) if len(idx) else int(issue_day.min())
        y0 = date.fromordinal(first_year).year
        for y_ in range(y0, int(year.max().astype(np.int64)) + 1970 + 1):
            jan1 = date(y_, 1, 1).toordinal()
            length = date(y_ + 1, 1, 1).toordinal() - jan1
            for lo_doy, hi_doy in ((np.maximum(1, doy - 31), np.minimum(length, doy + 31)),
                                   (doy + 334, np.full(len(rows), length)), (np.ones(len(rows), int), doy - 334)):
                lo_day = jan1 + lo_doy - 1
                hi_day = np.minimum(jan1 + hi_doy - 1, last_day)
                ok = (lo_doy <= hi_doy) & (lo_day <= hi_day)
                a = first(np.where(ok, lo_day, 0))
                b = first(np.where(ok, hi_day, 0), "right")
                near_n += np.where(ok, count[b] - count[a], 0)
                near_sum += np.where(ok, sy[b] - sy[a], 0)
        season = _ratio(near_sum.astype(np.float64), near_n)
        out[rows[has], _INDEX["cust_same_season_delay"]] = season[has]

    def _typical(self, customers: IntArray, t: int) -> FloatArray:
        """Median amount of each customer's invoices issued strictly before ``t``."""
        start = self._i_start[customers]
        m = np.searchsorted(self._i_key, customers * _KEY + t) - start
        idx, seg, offs = _segments(start, m)
        ranks = len(self._i_amount_rank)
        amounts = self._i_amount_sorted[np.sort(seg * ranks + self._i_amount_rank[idx]) % max(ranks, 1)]
        typical = np.full(len(customers), np.nan)
        some = m > 0
        typical[some] = (amounts[offs[some] + (m[some] - 1) // 2] + amounts[offs[some] + m[some] // 2]) / 2
        return typical

    def _open_book(self, snap: Snapshots, rows: IntArray, local: IntArray, customers: IntArray, t: int,
                   typical: FloatArray, out: Matrix) -> None:
        """Each customer's other open invoices on day ``t``: issued by then and not settled before it."""
        start = self._i_start[customers]
        m = np.searchsorted(self._i_key, customers * _KEY + t, side="right") - start
        idx, seg, _ = _segments(start, m)
        is_open = self._i_paid[idx] >= t
        overdue = is_open & (self._i_due[idx] < t)
        count = np.bincount(seg[is_open], minlength=len(customers))
        # Sum each customer's open amounts as one contiguous array (the same summation as np.sum).
        open_amounts = self._i_amount[idx][is_open]
        bounds = np.concatenate(([0], np.cumsum(count))).tolist()
        amount = np.array([open_amounts[a:b].sum() for a, b in itertools.pairwise(bounds)], dtype=np.float64)
        o_seg, o_due = seg[overdue], self._i_due[idx][overdue]
        o_order = np.lexsort((o_due, o_seg))
        o_seg, o_due = o_seg[o_order], o_due[o_order]
        n_over = np.bincount(o_seg, minlength=len(customers))
        o_first = np.searchsorted(o_seg, np.arange(len(customers)))
        oldest = np.where(n_over > 0, o_due[np.minimum(o_first, len(o_due) - 1)] if len(o_due) else 0, 0)
        second = np.where(n_over > 1, o_due[np.minimum(o_first + 1, len(o_due) - 1)] if len(o_due) else 0, 0)
        count_r, amount_r, over_r = count[local], amount[local], n_over[local]
        oldest_r, second_r = oldest[local], second[local]
        # The scored invoice is not part of its own "other open invoices".
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
