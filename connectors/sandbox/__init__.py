"""Deterministic sandbox companies shared by the Xero and QuickBooks emulators, tests and benchmarks."""
