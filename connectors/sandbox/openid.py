"""OpenID Connect id_tokens for the emulators: RS256-signed JWTs and the JWKS that verifies them.

Real Xero and Intuit sign id_tokens with RSA keys published at their ``jwks_uri``; the emulators do the
same so the app's sign-in path (signature, issuer, audience, expiry, nonce) is exercised for real.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

_KEY_LOCK = threading.Lock()
_SHARED_KEY: RSAKey | None = None


def _shared_key() -> RSAKey:
    # Generating a 2048-bit key costs ~0.1 s; tests start many emulators, so one key per process.
    global _SHARED_KEY
    with _KEY_LOCK:
        if _SHARED_KEY is None:
            _SHARED_KEY = RSAKey.generate_key(2048, parameters={"kid": "emulator-1", "use": "sig", "alg": "RS256"})
        return _SHARED_KEY


class IdTokenSigner:
    """Signs id_tokens for one emulator; ``jwks()`` is what its ``jwks_uri`` serves."""

    def __init__(self, key: RSAKey | None = None, lifetime: int = 3600) -> None:
        self._key = key or _shared_key()
        self._lifetime = lifetime

    def jwks(self) -> dict[str, Any]:
        """The public key set (no private parts)."""
        return {"keys": [self._key.as_dict(private=False)]}

    def sign(self, *, issuer: str, audience: str, subject: str, nonce: str | None = None,
             **claims: Any) -> str:
        """An RS256 id_token with the standard claims plus ``claims``."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": subject, "iat": now, "exp": now + self._lifetime,
                   "auth_time": now, **claims}
        if nonce:
            payload["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": self._key.kid}, payload, self._key)
