"""Xero: the connector (official xero-python SDK underneath), identity helpers, and an emulator."""

from __future__ import annotations

from connectors.xero.auth import disconnect_connection, exchange_code, list_connections, revoke
from connectors.xero.connector import XeroConnector

__all__ = ["XeroConnector", "disconnect_connection", "exchange_code", "list_connections", "revoke"]
