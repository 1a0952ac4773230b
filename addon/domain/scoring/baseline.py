"""The ``customer_history`` baseline the model must beat: each customer's own smoothed past record.

P(late) is the customer's smoothed late rate; the payment day is the median of the customer's past
delays, with the 10th/90th percentiles as the 80% interval (the organisation's when the customer has
fewer than three settled invoices). All from invoices settled before the scoring day.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date

import numpy as np

from addon.domain.scoring.features import FeatureBuilder, feature_index
from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.metrics import Predictions

MIN_OWN = 3


def baseline_predictions(builder: FeatureBuilder, snapshots: Sequence[tuple[HistoryInvoice, date]]
                         ) -> Predictions:
    """Baseline P(late) and p10/p50/p90 days for (invoice, as_of) pairs."""
    late_col = feature_index("cust_late_rate")
    org_delays = np.array([builder.org_cum_delay[k + 1] - builder.org_cum_delay[k]
                           for k in range(len(builder.org_paid))])
    rows = []
    for inv, as_of in snapshots:
        t = as_of.toordinal()
        p = float(builder.row(inv, as_of)[late_col])
        delays = _customer_delays(builder, inv.customer_id, t)
        if len(delays) < MIN_OWN:
            delays = org_delays[: bisect_left(builder.org_paid, t)]
        q = np.percentile(delays, [10, 50, 90]) if len(delays) else np.zeros(3)
        rows.append((p, *q))
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    return Predictions(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def _customer_delays(builder: FeatureBuilder, customer_id: str, t: int) -> np.ndarray:  # type: ignore[type-arg]
    cust = builder.customers.get(customer_id)
    if cust is None:
        return np.zeros(0)
    return cust.s_delay[: cust.settled_before(t)]
