"""Italian first, English second: the language of a page, its message catalogs, and the filters
that format numbers and dates for it.

Texts are English msgids translated through Flask-Babel (`_()` in Python and templates, catalogs
in web/translations); the domain's texts (`ledger.texts.Text`) are translated here too."""

import logging
import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from flask import Flask, request, session
from flask_babel import Babel, gettext

from ledger.errors import InvalidInputError, LedgerError, summary
from ledger.money import format_eur
from ledger.texts import Text

LANGUAGES = ("it", "en")
TRANSLATIONS = Path(__file__).parent / "translations"
log = logging.getLogger(__name__)


def language() -> str:
    """`?lang=en` switches and is remembered; Italian otherwise."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    return kept if kept in LANGUAGES else "it"


def translate(text: str) -> str:
    """A domain text in the page's language; any other string as it is."""
    if isinstance(text, Text):
        return gettext(text.msgid, **{name: _shown(v) for name, v in text.values.items()})
    return text


def _shown(value: Any) -> Any:
    """A domain text's value as the page shows it: a text translated, a date formatted."""
    if isinstance(value, Text):
        return translate(value)
    if isinstance(value, date):
        return day(value)
    return value


def translate_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """An error's `fields` (field → messages) in the page's language."""
    return {
        field: [translate(m) for m in messages] if isinstance(messages, list) else messages
        for field, messages in fields.items()
    }


def error_text(error: LedgerError) -> str:
    """A domain error's message in the page's language: its own text, or the one built from
    its fields by `ledger.errors.invalid_input`."""
    message = error.args[0] if error.args else ""
    if isinstance(message, Text):
        return translate(message)
    if isinstance(error, InvalidInputError) and message == summary(error.fields):
        return summary(translate_fields(error.fields))
    return str(error)


def in_language(text: str, language: str) -> str:
    """A domain text in `language` whatever the page's (exports are read in Italian), read
    from the catalog itself: no request, no app and no compiled catalog needed. Its values
    are filled in as they are (`translate` formats dates for the page)."""
    if not isinstance(text, Text):
        return text
    message = _catalog(language).get(text.msgid)
    said = message.string if message is not None and message.string else text.msgid
    return str(said) % text.values if text.values else str(said)


@cache
def _catalog(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


def _locale() -> str:
    return "it_IT" if language() == "it" else "en_GB"


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


def compile_catalogs(directory: Path = TRANSLATIONS) -> None:
    """Compile each .po whose .mo is missing or older, so that a fresh checkout or an installed
    package serves its texts without a build step (scripts/_bootstrap compiles them too)."""
    for po in directory.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            partial = mo.with_name(f".{mo.name}.{os.getpid()}")
            with partial.open("wb") as target:
                write_mo(target, catalog)
            os.replace(partial, mo)  # whole or not at all, even with workers racing
        except OSError as error:
            log.warning("message catalog %s not compiled: %s", po, error)


def init_app(app: Flask) -> None:
    compile_catalogs()
    Babel(app, default_locale="it", locale_selector=language)
    app.jinja_env.filters.update(eur=eur, number=number, percent=percent, day=day)

    @app.context_processor
    def language_helpers() -> dict[str, Any]:
        return {"lang": language()}
