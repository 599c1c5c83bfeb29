"""Giving by bank transfer: the foundation's IBAN (LEDGER_IBAN), checked once at start-up."""

import os
from collections.abc import Sequence
from typing import Any

from flask import Flask
from stdnum import iban
from stdnum.exceptions import ValidationError

from ledger.errors import InvalidInputError
from web.pdf import Foundation


def checked_iban(text: str | None) -> str | None:
    """The IBAN in compact form, None when unset; a clear error when it is not valid (a
    typo here would send donors' money nowhere, so the site refuses to start with it)."""
    if not text or not text.strip():
        return None
    try:
        return str(iban.validate(text))
    except ValidationError as error:
        raise InvalidInputError(
            f"LEDGER_IBAN is not a valid IBAN ({error}): {text!r}", {"LEDGER_IBAN": [str(error)]}
        ) from None


def bank_details(app: Flask, campaigns: Sequence[Any]) -> dict[str, Any] | None:
    """What /donate shows: IBAN grouped by four, beneficiary, a reference per campaign."""
    compact = app.config.get("LEDGER_IBAN")
    if not compact:
        return None
    return {
        "iban": iban.format(compact),
        "beneficiary": Foundation.from_env().name,
        "references": [
            (c.name, f"Erogazione liberale {c.slug} - nome e codice fiscale") for c in campaigns
        ],
    }


def init_app(app: Flask) -> None:
    """LEDGER_IBAN from the app's config (tests) or the environment, checked."""
    app.config["LEDGER_IBAN"] = checked_iban(
        app.config.get("LEDGER_IBAN") or os.environ.get("LEDGER_IBAN")
    )
