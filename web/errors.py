"""The one place where domain errors become HTTP answers: JSON for the API, pages elsewhere."""

import sqlite3
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ledger.bounds import control_character_at
from ledger.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from projections.database import TRANSIENT_ERRORS, is_locked
from projections.runner import ReadModelStalledError
from web.i18n import error_text, translate_fields

# A stalled read model is the server's state, not the request's fault: 503, as /healthz says.
STATUS = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    ReadModelStalledError: 503,
}


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(
    status: int, message: str, fields: dict[str, Any] | None = None
) -> tuple[Response | str, int]:
    if wants_json():
        body: dict[str, Any] = {"code": status, "status": _reason(status), "message": message}
        if fields:
            body["errors"] = fields
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, fields=fields), status


def _flatten(fields: Any, prefix: str = "") -> list[str]:
    """`{"json": {"day": ["Not a valid date."]}}` → `["day: Not a valid date."]`."""
    if isinstance(fields, dict):
        return [
            line
            for key, value in fields.items()
            for line in _flatten(value, key if key not in ("json", "query", "form") else "")
        ]
    if isinstance(fields, list) and all(isinstance(item, str) for item in fields):
        return [f"{prefix}: {' '.join(fields)}" if prefix else " ".join(fields)]
    return [f"{prefix}: {fields}"]


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def _standard_description(status: int) -> str | None:
    return {
        400: _("The request could not be understood."),
        401: _("Sign in to see this page."),
        403: _("You may not see this page."),
        404: _("There is no such page."),
        405: _("This page does not take that kind of request."),
        413: _("What was sent is too large."),
        429: _("Too many requests: try again shortly."),
    }.get(status)


def _control_characters() -> dict[str, list[str]]:
    """Path parts, query parameters and form fields holding control characters (a NUL, an
    escape), by name; form fields keep tabs and line breaks (a textarea sends CRLF)."""
    problems: dict[str, list[str]] = {}
    fields: list[tuple[bool, str, Any]] = [
        *((False, name, value) for name, value in (request.view_args or {}).items()),
        *((False, name, value) for name, value in request.args.items(multi=True)),
    ]
    # Only a form body is read here: a webhook's raw JSON body stays unread for its view.
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields += [(True, name, value) for name, value in request.form.items(multi=True)]
    for multiline, name, value in fields:
        for text in (name, value):
            index = control_character_at(text, multiline) if isinstance(text, str) else None
            if index is not None:
                code = f"U+{ord(text[index]):04X}"
                problems[name.encode("unicode_escape").decode("ascii")] = [
                    _("contains a control character (%(code)s), which is not allowed", code=code)
                ]
    return problems


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def refuse_control_characters() -> tuple[Response | str, int] | None:
        """Refused before any view reads them: stored, they would stop the read models."""
        problems = _control_characters()
        if not problems:
            return None
        return error_response(
            422,
            _(
                "Invalid text: %(problems)s",
                problems="; ".join(f"{k}: {' '.join(m)}" for k, m in problems.items()),
            ),
            problems,
        )

    @app.errorhandler(LedgerError)
    def ledger_error(error: LedgerError) -> tuple[Response | str, int]:
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 422)
        fields = translate_fields(error.fields) if isinstance(error, InvalidInputError) else None
        return error_response(status, error_text(error), fields)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        fields = None
        data = getattr(error, "data", None)
        message = error.description or _reason(status)
        if message == type(error).description and not wants_json():
            # Werkzeug's own English sentence: a page says it in the page's language.
            message = _standard_description(status) or message
        if isinstance(data, dict) and "messages" in data:
            # flask-smorest / webargs validation errors: {"json": {"field": ["msg"]}}
            fields = data["messages"]
            message = _("invalid input: %(problems)s", problems="; ".join(_flatten(fields)))
        return error_response(status, message, fields)

    def database_unavailable(error: Exception) -> tuple[Response | str, int, dict[str, str]]:
        # Nothing of the request was committed (or its natural key makes a resend a no-op):
        # the sender may try again, as Stripe and the stand pages' queue do.
        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        body, status = error_response(
            503, _("Service temporarily unavailable: please try again shortly.")
        )
        return body, status, {"Retry-After": "1"}

    for kind in TRANSIENT_ERRORS:
        app.register_error_handler(kind, database_unavailable)

    @app.errorhandler(sqlite3.OperationalError)
    def sqlite_error(error: sqlite3.OperationalError) -> tuple[Response | str, int, dict[str, str]]:
        if is_locked(error):  # another writer held the lock past the wait
            return database_unavailable(error)
        body, status = unexpected(error)
        return body, status, {}

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response | str, int]:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, _("Internal error: the problem has been logged."))
