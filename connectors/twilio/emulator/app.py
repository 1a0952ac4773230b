"""Twilio's Messages API, the part Cashline uses: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

Wire format as Twilio documents it ("Create a Message resource"): a form-encoded body (``To``, ``From``,
``Body``), HTTP basic auth with the Account SID and auth token, a 201 with the Message as JSON (``sid``
``SM`` + 32 hex, ``status`` ``queued``, ``num_segments`` as a string, RFC 2822 dates). Errors come in
Twilio's shape ``{"code", "message", "more_info", "status"}``:

* 20003 (401) the credentials do not match the account in the URL;
* 21604 / 21603 / 21602 (400) To / From / Body missing; 21617 the body is over 1600 characters;
* 21211 (400) To is not a valid phone number (E.164: ``+`` and 8-15 digits, no leading zero);
* 21606 (400) From is not one of the account's numbers;
* 21610 (400) the recipient replied STOP to that sender (``EmulatorState.stop``);
* 20503 (503) a provider outage (``EmulatorState.outages``: the next N requests fail).

Twilio's magic test numbers answer as Twilio's test credentials do: To +15005550001 is invalid (21211),
+15005550004 has replied STOP (21610), +15005550009 cannot receive SMS (21614).

Sent messages are kept in ``EmulatorState.messages`` for tests and the demo; ``GET .../Messages.json`` and
``GET .../Messages/{sid}.json`` read them back.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from addon.domain.sms_segments import segments

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "emulator-auth-token"  # noqa: S105 - the emulator's own, not a secret
DEFAULT_FROM = "+15005550006"  # Twilio's magic "valid" test sender
API_VERSION = "2010-04-01"
MAX_BODY = 1600
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAGIC_TO = {"+15005550001": (21211, "Invalid 'To' Phone Number: +15005550001"),
            "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
            "+15005550009": (21614, "'To' number is not a valid mobile number")}


@dataclass
class EmulatorState:
    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    numbers: set[str] = field(default_factory=lambda: {DEFAULT_FROM})  # the account's senders
    messages: list[dict[str, Any]] = field(default_factory=list)
    stopped: set[tuple[str, str]] = field(default_factory=set)  # (recipient, sender) pairs that replied STOP
    outages: int = 0  # answer this many coming requests with a 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, recipient: str, sender: str = DEFAULT_FROM) -> None:
        """The recipient replies STOP to ``sender``: Twilio refuses further texts with 21610."""
        with self.lock:
            self.stopped.add((recipient, sender))

    def sent_to(self, recipient: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["to"] == recipient]


def error(status: int, code: int, message: str) -> tuple[Response, int]:
    return jsonify({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}), status


def create_app(state: EmulatorState | None = None) -> Flask:
    state = state or EmulatorState()
    app = Flask("twilio-emulator")
    app.config["state"] = state
    base = f"/{API_VERSION}/Accounts/<account_sid>"

    def authorised(account_sid: str) -> bool:
        auth = request.authorization
        return bool(auth and auth.username == state.account_sid == account_sid
                    and auth.password == state.auth_token)

    @app.post(f"{base}/Messages.json")
    def create_message(account_sid: str) -> Any:
        if not authorised(account_sid):
            return error(401, 20003, "Authenticate")
        with state.lock:
            if state.outages > 0:
                state.outages -= 1
                return error(503, 20503, "Service Unavailable")
        form = request.form
        to, sender, body = form.get("To", "").strip(), form.get("From", "").strip(), form.get("Body", "")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not _E164.match(to):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in MAGIC_TO:
            return error(400, *MAGIC_TO[to])
        if sender not in state.numbers:
            return error(400, 21606, f"The From phone number {sender} is not a valid, SMS-capable inbound "
                                     "phone number or short code for your account.")
        with state.lock:
            if (to, sender) in state.stopped:
                return error(400, 21610, "Attempt to send to unsubscribed recipient")
            message = _message(state.account_sid, to, sender, body)
            state.messages.append(message)
        return jsonify(message), 201

    @app.get(f"{base}/Messages.json")
    def list_messages(account_sid: str) -> Any:
        if not authorised(account_sid):
            return error(401, 20003, "Authenticate")
        with state.lock:
            return jsonify({"messages": list(reversed(state.messages)), "page": 0,
                            "page_size": len(state.messages), "next_page_uri": None,
                            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"})

    @app.get(f"{base}/Messages/<sid>.json")
    def get_message(account_sid: str, sid: str) -> Any:
        if not authorised(account_sid):
            return error(401, 20003, "Authenticate")
        with state.lock:
            found = next((m for m in state.messages if m["sid"] == sid), None)
        if found is None:
            return error(404, 20404, f"The requested resource /{API_VERSION}/Accounts/{account_sid}"
                                     f"/Messages/{sid}.json was not found")
        return jsonify(found)

    return app


def _message(account_sid: str, to: str, sender: str, body: str) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=False)
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {"sid": sid, "account_sid": account_sid, "to": to, "from": sender, "body": body, "status": "queued",
            "num_segments": str(segments(body)), "num_media": "0", "direction": "outbound-api",
            "api_version": API_VERSION, "date_created": now, "date_updated": now, "date_sent": None,
            "messaging_service_sid": None, "price": None, "price_unit": "USD", "error_code": None,
            "error_message": None, "uri": f"{uri}.json", "subresource_uris": {"media": f"{uri}/Media.json"}}
