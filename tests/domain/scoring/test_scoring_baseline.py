"""The ``customer_history`` baseline: the customer's own record, its median on a whole day like the model's p50."""

from __future__ import annotations

import numpy as np

from addon.domain.scoring.baseline import baseline_predictions
from addon.domain.scoring.features import FeatureBuilder

from .conftest import inv


def test_baseline_days_are_the_customer_s_own_percentiles_with_a_whole_day_median() -> None:
    # Four settled invoices paid 1, 2, 10 and 20 days late: the median is 6 (between 2 and 10).
    history = [inv(f"P{k}", issued=k * 40, paid=d) for k, d in enumerate((1, 2, 10, 20))]
    new = inv("NEW", issued=400)
    builder = FeatureBuilder([*history, new])
    base = baseline_predictions(builder, [(new, new.issue_date)])
    p10, p50, p90 = np.percentile([1, 2, 10, 20], [10, 50, 90])  # 1.3, 6.0, 17.0
    np.testing.assert_allclose([base.p10[0], base.p50[0], base.p90[0]], [p10, p50, p90])
    # An even count can put the median between two days: it goes to a whole day as the model's does.
    history += [inv("P4", issued=200, paid=5), inv("P5", issued=240, paid=8)]  # 1, 2, 5, 8, 10, 20: median 6.5
    builder = FeatureBuilder([*history, new])
    base = baseline_predictions(builder, [(new, new.issue_date)])
    assert base.p50[0] == np.round(6.5) == 6.0
    # Settled only after the scoring day: not part of the record.
    late = inv("LATE", issued=300, paid=200)
    assert late.paid_date is not None
    assert late.paid_date > new.issue_date
    builder = FeatureBuilder([*history, late, new])
    assert baseline_predictions(builder, [(new, new.issue_date)]).p50[0] == 6.0
