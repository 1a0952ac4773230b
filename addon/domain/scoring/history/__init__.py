"""The risk model's history: the input record (``record``), the history CSV format (``csv_format``) and
the same history as numpy columns (``frame``).

The names are re-exported here so ``from addon.domain.scoring.history import ...`` stays the one import
path for callers (it was a single module before it was split by job).
"""

from __future__ import annotations

from addon.domain.scoring.history.csv_format import (
    FIRST_DATE,
    LAST_DATE,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    HistoryFormatError,
    read_history_csv,
    write_history_csv,
)
from addon.domain.scoring.history.frame import (
    NO_DATE,
    OPEN_STATE,
    BoolArray,
    FloatArray,
    HistoryFrame,
    IntArray,
    InvoiceEvents,
    decimal_string_rank,
)
from addon.domain.scoring.history.record import HistoryInvoice, as_seen_at, last_date

__all__ = ["FIRST_DATE", "LAST_DATE", "NO_DATE", "OPEN_STATE", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "BoolArray",
           "FloatArray", "HistoryFormatError", "HistoryFrame", "HistoryInvoice", "IntArray", "InvoiceEvents",
           "as_seen_at", "decimal_string_rank", "last_date", "read_history_csv", "write_history_csv"]
