"""Xero emulator: a local, wire-faithful Xero organisation (identity + Accounting API + webhooks)."""
