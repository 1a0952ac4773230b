"""A local SMTP server for the demo: every reminder Cashline sends lands here (nothing leaves)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class DemoMailbox:
    def __init__(self, port: int) -> None:
        self._handler = _Keep()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)

    def start(self) -> DemoMailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[Message]:
        return self._handler.messages
