"""Italian first, English second: the language of a page and the filters that format for it."""

from datetime import date
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask import Flask, request, session

from ledger.money import format_eur

LANGUAGES = ("it", "en")


def language() -> str:
    """`?lang=en` switches and is remembered; Italian otherwise."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    return kept if kept in LANGUAGES else "it"


def _locale() -> str:
    return "it_IT" if language() == "it" else "en_GB"


def tr(italian: str, english: str) -> str:
    """The text in the page's language; both stand side by side in the template."""
    return italian if language() == "it" else english


def eur(cents: int | None) -> str:
    return format_eur(cents or 0, _locale())


def number(value: int | None) -> str:
    return format_decimal(value or 0, locale=_locale())


def percent(value: float | None) -> str:
    return format_percent(value or 0, "#,##0.0%", locale=_locale())


def day(value: date | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, "short" if language() == "en" else "dd/MM/yyyy", locale=_locale())


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(eur=eur, number=number, percent=percent, day=day)

    @app.context_processor
    def language_helpers() -> dict[str, Any]:
        return {"tr": tr, "lang": language()}
