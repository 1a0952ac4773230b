"""Signed unsubscribe tokens for the List-Unsubscribe header and the link in every reminder."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "cashline-unsubscribe"


class InvalidUnsubscribeTokenError(ValueError):
    """The token was tampered with or signed with another secret."""


@dataclass(frozen=True, slots=True)
class UnsubscribeTokens:
    """Tokens never expire: a link in an old reminder must still work (RFC 8058 one-click)."""

    secret: str

    def make(self, tenant_key: str, customer_id: str) -> str:
        """A URL-safe token naming the tenant and customer."""
        return str(URLSafeSerializer(self.secret, salt=_SALT).dumps([tenant_key, customer_id]))

    def read(self, token: str) -> tuple[str, str]:
        """(tenant key, customer id) from a token, or InvalidUnsubscribeTokenError."""
        try:
            tenant_key, customer_id = URLSafeSerializer(self.secret, salt=_SALT).loads(token)
        except (BadSignature, ValueError, TypeError) as exc:
            raise InvalidUnsubscribeTokenError("invalid unsubscribe token") from exc
        return str(tenant_key), str(customer_id)

    def url(self, base_url: str, tenant_key: str, customer_id: str) -> str:
        """The one-click link: ``{base_url}/unsubscribe/{token}``."""
        return f"{base_url.rstrip('/')}/unsubscribe/{self.make(tenant_key, customer_id)}"
