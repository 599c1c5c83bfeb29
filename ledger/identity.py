"""Who gave: a donor's details, their normal forms and the keys that make two gifts one donor."""

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import phonenumbers
from stdnum.it import codicefiscale, iva

from ledger.bounds import text_problem
from ledger.errors import InvalidInputError, raise_problems
from ledger.texts import N_

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SPACES = re.compile(r"\s+")
# Fields a spreadsheet cell may break over lines (collapsed to spaces); the others are one line.
_MULTILINE = ("organization", "address", "city")


def normalize_email(text: str | None) -> str | None:
    """Lower-cased and trimmed; None when blank; an error when it is not an address."""
    email = (text or "").strip().lower()
    if not email:
        return None
    if not _EMAIL.fullmatch(email):
        raise InvalidInputError(N_("not an e-mail address: %(text)r", text=text))
    return email


def normalize_phone(text: str | None) -> str | None:
    """E.164 (`+393331234567`), reading numbers without a prefix as Italian; None when blank."""
    raw = (text or "").strip()
    if not raw:
        return None
    return _e164(raw, text)


@lru_cache(maxsize=4096)  # a file repeats its donors' numbers; parsing one costs ~70 µs
def _e164(raw: str, text: str | None) -> str:
    try:
        number = phonenumbers.parse(raw, "IT")
    except phonenumbers.NumberParseException as error:
        raise InvalidInputError(N_("not a phone number: %(text)r", text=text)) from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidInputError(N_("not a phone number: %(text)r", text=text))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_tax_code(text: str | None) -> str | None:
    """An upper-cased codice fiscale or partita IVA whose check digit holds; None when blank."""
    raw = _SPACES.sub("", text or "").upper()
    if not raw:
        return None
    if len(raw) == 16 and codicefiscale.is_valid(raw):
        return codicefiscale.compact(raw)
    if len(raw) in (11, 13) and iva.is_valid(raw):
        return iva.compact(raw)
    raise InvalidInputError(
        N_(
            "not a valid codice fiscale or partita IVA (check digit or format): %(text)r",
            text=text,
        )
    )


_NORMALIZERS = {
    "email": normalize_email,
    "phone": normalize_phone,
    "tax_code": normalize_tax_code,
}


def _collapse(text: str | None) -> str:
    return _SPACES.sub(" ", (text or "").strip()).lower()


@dataclass(frozen=True)
class DonorDetails:
    """What a gift says about its donor, already in normal form (see `DonorDetails.parse`)."""

    first_name: str = ""
    last_name: str = ""
    organization: str = ""
    email: str | None = None
    phone: str | None = None
    address: str = ""
    postcode: str = ""
    city: str = ""
    province: str = ""
    tax_code: str | None = None

    @classmethod
    def parse(cls, **raw: str | None) -> "DonorDetails":
        """Normalise raw input; raises InvalidInputError with every bad field named."""
        problems: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name in DETAIL_FIELDS:
            text = raw.get(name) or ""
            if not text:
                continue  # left to the field's default, the normal form of a blank
            if problem := text_problem(text, multiline=name in _MULTILINE):
                problems[name] = [problem]
            elif name in _NORMALIZERS:
                try:
                    values[name] = _NORMALIZERS[name](text)
                except InvalidInputError as error:
                    problems[name] = [error.args[0]]
            else:
                values[name] = _SPACES.sub(" ", text.strip())
        raise_problems(problems)
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DonorDetails":
        return cls(**{key: value for key, value in data.items() if key in DETAIL_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DETAIL_FIELDS}

    @property
    def has_postal_address(self) -> bool:
        return bool(self.address and self.postcode)

    @property
    def is_identified(self) -> bool:
        """A tax code, an e-mail, a phone or a postal address with postcode; a name alone is not."""
        return bool(self.tax_code or self.email or self.phone or self.has_postal_address)

    @property
    def has_any_personal_data(self) -> bool:
        return any(getattr(self, name) for name in DETAIL_FIELDS)

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.organization)

    def identity_keys(self) -> tuple[str, ...]:
        """Keys shared by every gift of one donor (DESIGN.md, Definitions)."""
        return identity_keys(self.to_dict())


def display_name(first_name: str, last_name: str, organization: str) -> str:
    """How a donor is named: the organization, else the person's names."""
    return organization or " ".join(part for part in (first_name, last_name) if part)


def identity_keys(details: dict[str, Any]) -> tuple[str, ...]:
    """`DonorDetails.identity_keys` of details as `DonorDetails.to_dict` gives them, without
    making the object (the registry reads them for every gift it joins)."""
    keys = []
    if tax_code := details.get("tax_code"):
        keys.append("tax:" + tax_code.upper())
    if email := details.get("email"):
        keys.append("email:" + email.lower())
    if phone := details.get("phone"):
        keys.append("phone:" + phone)
    address, postcode = details.get("address"), details.get("postcode")
    if address and postcode:
        who = _collapse(details.get("organization") or details.get("last_name"))
        keys.append(f"address:{who}|{_collapse(address)}|{_collapse(postcode)}")
    return tuple(keys)


# What a donor's details hold, in order: the columns of the CSV, the registry and the exports.
DETAIL_FIELDS = tuple(field.name for field in fields(DonorDetails))
