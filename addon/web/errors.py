"""What a user sees when a request is refused before any view answers: an expired form, a page that is
not there or not theirs, an upload that is too large. Pages get a page in the app's layout that says what
happened and that nothing was saved; the JSON API gets ``{"error": ...}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("Request refused", "Cashline could not read what was sent. Nothing was saved."),
    403: ("Not allowed", "Only an admin of this organisation can do that. Nothing was changed."),
    404: ("Page not found", "There is no such page (it may have just been deleted, by you in another tab or by "
                            "another admin), or it belongs to an organisation you are not a member of."),
    413: ("Too large", "What was sent is larger than Cashline accepts (a statement file is at most 20 MB). "
                       "Nothing was imported."),
}
CSRF_MESSAGE = ("This form could not be checked (it was opened before you last signed in, or sent from "
                "another site), so nothing was saved. Go back, reload the page and send it again.")


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return _answer(400, "Form expired", CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code not in MESSAGES:
            return exc  # Werkzeug's own answer (405 keeps its Allow header)
        title, message = MESSAGES[exc.code]
        return _answer(exc.code, title, message)


def _answer(status: int, title: str, message: str) -> Any:
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), status
    return render_template("error.html", title=title, message=message), status
