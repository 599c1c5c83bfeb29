"""Texts the domain gives its users: an English msgid and its values, translated by web/."""

from typing import Any


class Text(str):
    """A message for a user: as a `str` it is the English text (what the CLI prints and a
    log shows); `msgid` and `values` let web/ show it in the page's language through the
    message catalogs (`web.i18n.translate`). Placeholders are `%(name)s` (or `%(name)r`)."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> "Text":
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid = msgid
        text.values = values
        return text


def N_(msgid: str, **values: Any) -> Text:  # noqa: N802 (gettext's own name for "translated later")
    """Mark a domain text for the catalogs (pybabel extracts `N_`), with its values."""
    return Text(msgid, **values)
