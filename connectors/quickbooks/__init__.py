"""QuickBooks Online: the connector (python-quickbooks + intuit-oauth) and its local emulator.

``QuickBooksConnector`` is registered as platform "qbo". ``exchange_code`` and ``revoke`` are the
OAuth helpers the install/disconnect views use.
"""

from __future__ import annotations

from connectors.quickbooks.auth import exchange_code, revoke
from connectors.quickbooks.connector import QuickBooksConnector

__all__ = ["QuickBooksConnector", "exchange_code", "revoke"]
