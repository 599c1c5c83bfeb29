"""The Agenzia delle Entrate donations file: its record layout as one table, and the records.

Sources (see docs/receipts.md for the full citations):
  [DM]    DM 3 febbraio 2021 as amended by DM 1 marzo 2024: who sends, what (gifts of
          natural persons, by traceable means, per donor and year; refunds with the year of the
          refunded gift), the donor's right to oppose.
  [P18]   Provvedimento AdE 9 febbraio 2018 n. 34431, punto 1.1: per donor the yearly amount and
          identification; refunds with the year of the refunded gift. Provvedimento 4 marzo 2024
          n. 83793 keeps the technical specification of 2018 (allegato 1).
  [FAM]   Not confirmed: the positions below follow the layout shared by the AdE "comunicazioni
          per la precompilata" (fixed records of 1798 printable characters then CR LF, record
          "0" header, detail records, "9" trailer, "A" at the last position). The text of
          allegato 1 was not available to check them: every field marked `confirmed=False`
          must be checked against it before the first real transmission.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from ledger.errors import InvalidInputError
from ledger.keys import natural_id

RECORD_LENGTH = 1798
END = "\r\n"
# [DM]: the entities that send the data; the codes are [FAM], not confirmed.
ENTITY_TYPES = {
    "onlus": "1",
    "aps": "2",
    "beni-culturali": "3",
    "ricerca-scientifica": "4",
    "ets": "5",
}


@dataclass(frozen=True)
class Field:
    """One field of a record: 1-based start, length, AN (text, left, spaces) or NU (digits,
    right, zeros), the source that defines it, and whether that source was checked."""

    record: str
    name: str
    start: int
    length: int
    kind: str
    source: str
    confirmed: bool

    @property
    def end(self) -> int:
        return self.start + self.length - 1


LAYOUT: tuple[Field, ...] = (
    # Header: the sending entity and the year [P18 1.1; DM]
    Field("0", "tipo_record", 1, 1, "AN", "[FAM] record di testa '0'", False),
    Field("0", "codice_fornitura", 2, 5, "AN", "[FAM] identifier of the supply", False),
    Field("0", "codice_fiscale_ente", 7, 16, "AN", "[P18 1.1] the entity that sends", False),
    Field("0", "denominazione_ente", 23, 60, "AN", "[P18 1.1] the entity's name", False),
    Field("0", "anno_riferimento", 83, 4, "NU", "[DM] the year of the gifts", False),
    Field("0", "tipologia_ente", 87, 1, "NU", "[DM] kind of entity (code [FAM])", False),
    Field("0", "filler", 88, 1710, "AN", "[FAM] spaces", False),
    Field("0", "fine_record", 1798, 1, "AN", "[FAM] 'A'", False),
    # One per donor: tax code and the year's traceable gifts [DM; P18 1.1]
    Field("1", "tipo_record", 1, 1, "AN", "[FAM] record di dettaglio erogazioni '1'", False),
    Field("1", "codice_fiscale_erogante", 2, 16, "AN", "[P18 1.1] donor's tax code", False),
    Field(
        "1",
        "importo_erogazioni",
        18,
        15,
        "NU",
        "[P18 1.1] yearly amount, euro cents without separator ([FAM])",
        False,
    ),
    Field("1", "filler", 33, 1765, "AN", "[FAM] spaces", False),
    Field("1", "fine_record", 1798, 1, "AN", "[FAM] 'A'", False),
    # One per refund: who, how much, the year of the refunded gift [P18 1.1; DM]
    Field("2", "tipo_record", 1, 1, "AN", "[FAM] record di dettaglio rimborsi '2'", False),
    Field("2", "codice_fiscale_rimborsato", 2, 16, "AN", "[P18 1.1] refunded donor", False),
    Field("2", "importo_rimborso", 18, 15, "NU", "[P18 1.1] refunded amount, cents", False),
    Field(
        "2", "anno_erogazione_rimborsata", 33, 4, "NU", "[P18 1.1] year of the refunded gift", False
    ),
    Field("2", "filler", 37, 1761, "AN", "[FAM] spaces", False),
    Field("2", "fine_record", 1798, 1, "AN", "[FAM] 'A'", False),
    # Trailer: the counts, so that a truncated file is refused [FAM]
    Field("9", "tipo_record", 1, 1, "AN", "[FAM] record di coda '9'", False),
    Field("9", "numero_record_erogazioni", 2, 9, "NU", "[FAM] count of records '1'", False),
    Field("9", "numero_record_rimborsi", 11, 9, "NU", "[FAM] count of records '2'", False),
    Field("9", "filler", 20, 1778, "AN", "[FAM] spaces", False),
    Field("9", "fine_record", 1798, 1, "AN", "[FAM] 'A'", False),
)
SUPPLY_CODE = "EROLI"  # [FAM] placeholder until allegato 1 is checked


def fields_of(record: str) -> tuple[Field, ...]:
    return tuple(f for f in LAYOUT if f.record == record)


def render(record: str, values: dict[str, str | int]) -> str:
    """One record, every field in its place, ending in CR LF. Text is upper-cased ASCII
    (the AdE files admit the printable ASCII range only)."""
    line = []
    for field in fields_of(record):
        value = values.get(
            field.name,
            record if field.name == "tipo_record" else "A" if field.name == "fine_record" else "",
        )
        if field.kind == "NU":
            text = str(int(value or 0))
            if len(text) > field.length or int(value or 0) < 0:
                raise InvalidInputError(f"{field.name} does not fit {field.length} digits")
            line.append(text.rjust(field.length, "0"))
        else:
            ascii_text = (
                str(value).upper().encode("ascii", "replace").decode("ascii").replace("?", " ")
            )
            line.append(ascii_text[: field.length].ljust(field.length))
    text = "".join(line)
    assert len(text) == RECORD_LENGTH, (record, len(text))
    return text + END


@dataclass(frozen=True)
class DonorTotal:
    tax_code: str
    gifts_cents: int


@dataclass(frozen=True)
class Refund:
    tax_code: str
    amount_cents: int
    gift_year: int


def agenzia_file(
    year: int,
    tax_code: str,
    name: str,
    entity_type: str,
    donors: Sequence[DonorTotal],
    refunds: Sequence[Refund],
) -> str:
    """The whole file: header, one record per donor, one per refund, trailer."""
    if not tax_code:
        raise InvalidInputError(
            "the foundation's tax code is needed: set LEDGER_FOUNDATION_TAX_CODE",
            {"tax_code": ["LEDGER_FOUNDATION_TAX_CODE"]},
        )
    if entity_type not in ENTITY_TYPES:
        raise InvalidInputError(
            f"unknown entity type {entity_type!r} (one of {', '.join(ENTITY_TYPES)})"
        )
    lines = [
        render(
            "0",
            {
                "codice_fornitura": SUPPLY_CODE,
                "codice_fiscale_ente": tax_code,
                "denominazione_ente": name,
                "anno_riferimento": year,
                "tipologia_ente": ENTITY_TYPES[entity_type],
            },
        )
    ]
    lines += [
        render("1", {"codice_fiscale_erogante": d.tax_code, "importo_erogazioni": d.gifts_cents})
        for d in donors
    ]
    lines += [
        render(
            "2",
            {
                "codice_fiscale_rimborsato": r.tax_code,
                "importo_rimborso": r.amount_cents,
                "anno_erogazione_rimborsata": r.gift_year,
            },
        )
        for r in refunds
    ]
    lines.append(
        render(
            "9", {"numero_record_erogazioni": len(donors), "numero_record_rimborsi": len(refunds)}
        )
    )
    return "".join(lines)


class TransmissionChoice(Aggregate):
    """A donor's opposition to sending their gifts of one year to the Agenzia delle Entrate
    ([DM]), or its withdrawal; one aggregate per registry donor and year."""

    class Opened(Aggregate.Created):
        donor_id: str
        year: int

    class Changed(Aggregate.Event):
        opposed: bool
        how: str
        by: str

    @staticmethod
    def create_id(donor_id: str, year: int) -> UUID:  # type: ignore[override]
        return natural_id("ade_transmission", f"{donor_id}:{year}")

    @event(Opened)
    def __init__(self, donor_id: str, year: int) -> None:
        self.donor_id = donor_id
        self.year = year
        self.opposed = False

    def change(self, opposed: bool, how: str, by: str) -> bool:
        if not how.strip():
            raise InvalidInputError(
                "say how the donor asked (e-mail, form, …)", {"how": ["required"]}
            )
        if opposed == self.opposed and self.version > 1:
            return False
        self._changed(opposed=opposed, how=how.strip(), by=by)
        return True

    @event(Changed)
    def _changed(self, opposed: bool, how: str, by: str) -> None:
        self.opposed = opposed


def choose_transmission(
    app: Application[UUID], donor_id: str, year: int, opposed: bool, how: str, by: str
) -> bool:
    """Record that the donor opposes (or no longer opposes) sending `year`; False when it
    already stood so."""
    try:
        choice: TransmissionChoice = app.repository.get(
            TransmissionChoice.create_id(donor_id, year)
        )
    except AggregateNotFoundError:
        choice = TransmissionChoice(donor_id, year)
    if not choice.change(opposed, how, by):
        return False
    app.save(choice)
    return True


# An opposition stated on a gift (a row of an import) names the gift, not a registry entry:
# which donor gave it is the registry's business, and it is known only once the gift is in.
GIFT_PREFIX = "gift:"


def oppose_on_gift(donation_id: UUID, year: int, how: str, by: str) -> TransmissionChoice:
    """The unsaved opposition of the donor of one gift to sending `year`; the AdE file counts
    it for whichever registry donor the gift belongs to."""
    choice = TransmissionChoice(f"{GIFT_PREFIX}{donation_id}", year)
    choice.change(True, how, by)
    return choice


def opposition_recorded(app: Application[UUID], donation_id: UUID, year: int) -> bool:
    """Whether the gift's opposition to sending `year` is recorded already."""
    try:
        choice: TransmissionChoice = app.repository.get(
            TransmissionChoice.create_id(f"{GIFT_PREFIX}{donation_id}", year)
        )
    except AggregateNotFoundError:
        return False
    return choice.opposed
