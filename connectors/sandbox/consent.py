"""Reading an emulator's consent page the way a browser would (tests, the demo, sandbox scripts)."""

from __future__ import annotations

from html.parser import HTMLParser


class ConsentForm(HTMLParser):
    """The first form of a page: its ``action`` and the values of its named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name") and values.get("type") != "radio":
            self.fields.setdefault(values["name"], values.get("value", ""))


def read_consent_form(html: str) -> ConsentForm:
    """Parse ``html`` and return its first form (``action`` is None when there is none)."""
    form = ConsentForm()
    form.feed(html)
    return form
