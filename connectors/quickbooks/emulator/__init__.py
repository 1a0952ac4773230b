"""A local, wire-faithful QuickBooks Online emulator (OAuth 2.0 + OpenID discovery, v3 API, webhooks).

Build one with ``testing.start_qbo_emulator`` (tests, demo) or ``cashline emulator qbo`` (CLI).
"""
