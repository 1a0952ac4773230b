"""The ``customer_history`` baseline the model must beat: each customer's own smoothed past record.

P(late) is the customer's smoothed late rate; the payment day is the median of the customer's past
delays, with the 10th/90th percentiles as the 80% interval (the organisation's when the customer has
fewer than three settled invoices). All from invoices settled before the scoring day; the median goes to
a whole day by the same rule as the model's p50 (``calibration.whole_day_p50``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from addon.domain.scoring.calibration import whole_day_p50
from addon.domain.scoring.features import FeatureBuilder, FeatureMatrix, feature_index
from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.metrics import Predictions

MIN_OWN = 3


def baseline_predictions(builder: FeatureBuilder, snapshots: Sequence[tuple[HistoryInvoice, date]],
                         features: FeatureMatrix | None = None) -> Predictions:
    """Baseline P(late) and p10/p50/p90 days for (invoice, as_of) pairs; ``features``: the snapshots'
    feature matrix when the caller already built it."""
    late = (builder.matrix(snapshots) if features is None else features).values[:, feature_index("cust_late_rate")]
    rows = []
    for n, (inv, as_of) in enumerate(snapshots):
        t = as_of.toordinal()
        delays = builder.settled_delays(inv.customer_id, t)
        if len(delays) < MIN_OWN:
            delays = builder.org_delays[: int(np.searchsorted(builder.org_paid, t))]
        q = np.percentile(delays, [10, 50, 90]) if len(delays) else np.zeros(3)
        rows.append((float(late[n]), *q))
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    q = whole_day_p50(arr[:, 1:])  # the same rule as the model's p50
    return Predictions(arr[:, 0], q[:, 0], q[:, 1], q[:, 2])
