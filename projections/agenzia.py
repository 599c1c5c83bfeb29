"""What goes to the Agenzia delle Entrate for a year: donors' traceable gifts, refunds,
oppositions, and every amount left out with the reason (for the accountant)."""

from dataclasses import dataclass
from typing import Any

from ledger.agenzia import GIFT_PREFIX, DonorTotal, Refund, TransmissionChoice
from ledger.receipt_book import UNTRACEABLE_METHODS
from projections.database import Session
from projections.registry import resolve
from projections.runner import Projection

GIFT, REFUND = "erogazione", "rimborso"


class Oppositions(Projection):
    """Donors' choices about the transmission of a year's gifts, each with the position of
    its latest change: the latest choice about a donor wins."""

    name = "ade_oppositions"
    version = 2
    tables = ("ade_oppositions",)
    handles = (TransmissionChoice.Opened, TransmissionChoice.Changed)

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE ade_oppositions (
            choice_id TEXT PRIMARY KEY,
            donor_id TEXT NOT NULL,
            year INTEGER NOT NULL,
            opposed INTEGER NOT NULL DEFAULT 0,
            how TEXT NOT NULL DEFAULT '',
            position BIGINT NOT NULL
        )""")

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, TransmissionChoice.Opened):
            session.execute(
                "INSERT INTO ade_oppositions (choice_id, donor_id, year, position) "
                "VALUES (?, ?, ?, ?)",
                (str(event.originator_id), event.donor_id, event.year, position),
            )
        elif isinstance(event, TransmissionChoice.Changed):
            session.execute(
                "UPDATE ade_oppositions SET opposed = ?, how = ?, position = ? WHERE choice_id = ?",
                (int(event.opposed), event.how, position, str(event.originator_id)),
            )


def opposed_donors(session: Session, year: int) -> set[str]:
    """Registry ids (after merges) of the donors who oppose for `year`: a choice made on a
    gift (an import row) counts for the donor of that gift; a donor's latest choice wins."""
    latest: dict[str, tuple[int, bool]] = {}
    for donor_id, opposed, position in session.query(
        "SELECT donor_id, opposed, position FROM ade_oppositions WHERE year = ?", (year,)
    ):
        if donor_id.startswith(GIFT_PREFIX):
            donor_id = session.scalar(
                "SELECT donor_id FROM registry_gifts WHERE donation_id = ?",
                (donor_id[len(GIFT_PREFIX) :],),
            )
            if donor_id is None:
                continue  # a gift the registry does not hold (anonymous)
        donor = resolve(session, str(donor_id))
        if donor not in latest or latest[donor][0] < int(position):
            latest[donor] = (int(position), bool(opposed))
    return {donor for donor, (_position, opposed) in latest.items() if opposed}


def is_company(tax_code: str) -> bool:
    """A partita IVA / numeric tax code (11 digits): not a natural person. The
    communication covers the gifts of natural persons only."""
    return len(tax_code) == 11 and tax_code.isdigit()


@dataclass(frozen=True)
class Line:
    """One line of the accountant's CSV; `included` lines make up the AdE file."""

    kind: str
    donor_id: str
    name: str
    tax_code: str
    amount_cents: int
    gift_year: int
    included: bool
    reason: str


def _why_left_out(donor: tuple[str, str, int], method: str, opposed: bool) -> str:
    _name, tax_code, erased = donor
    if method in UNTRACEABLE_METHODS:
        return "contanti: non tracciabile"
    if erased:
        return "donatore cancellato (GDPR)"
    if not tax_code:
        return "senza codice fiscale"
    if is_company(tax_code):
        return "ente o impresa (partita IVA): solo persone fisiche"
    if opposed:
        return "il donatore si è opposto alla trasmissione"
    return ""


def agenzia_lines(session: Session, year: int) -> list[Line]:
    """Every identified gift of the year (per donor and reason) and every refund made in
    the year, each marked included or left out with the reason. A dispute lost to a
    chargeback gave the money back as a refund does, and is sent as one."""
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    donors = {
        row[0]: (row[1], row[2], row[3])
        for row in session.query(
            "SELECT donor_id, display_name, tax_code, erased FROM registry_donors"
        )
    }
    opposed = opposed_donors(session, year)
    totals: dict[tuple[str, str], int] = {}
    for donor_id, method, amount in session.query(
        "SELECT rg.donor_id, g.method, g.amount_cents FROM gifts_view g JOIN registry_gifts "
        "rg ON rg.donation_id = g.donation_id WHERE g.status = 'confirmed' AND "
        "g.value_date >= ? AND g.value_date <= ?",
        (first, last),
    ):
        reason = _why_left_out(donors.get(donor_id, ("", "", 1)), method, donor_id in opposed)
        totals[(donor_id, reason)] = totals.get((donor_id, reason), 0) + int(amount)
    lines = [
        Line(
            GIFT,
            donor_id,
            donors.get(donor_id, ("", "", 1))[0],
            donors.get(donor_id, ("", "", 1))[1],
            cents,
            year,
            not reason,
            reason,
        )
        for (donor_id, reason), cents in totals.items()
    ]
    for donor_id, method, amount, value_date in session.query(
        "SELECT rg.donor_id, g.method, m.amount_cents, g.value_date FROM money_movements m "
        "JOIN gifts_view g ON g.donation_id = m.donation_id JOIN registry_gifts rg ON "
        "rg.donation_id = m.donation_id WHERE m.kind IN ('refund', 'dispute_lost') AND "
        "m.on_date >= ? AND "
        "m.on_date <= ? ORDER BY m.on_date",
        (first, last),
    ):
        entry = donors.get(donor_id, ("", "", 1))
        gift_year = int(value_date[:4])
        reason = _why_left_out(entry, method, donor_id in opposed)
        lines.append(
            Line(REFUND, donor_id, entry[0], entry[1], int(amount), gift_year, not reason, reason)
        )
    return sorted(lines, key=lambda line: (line.kind, line.tax_code, line.name, line.reason))


def file_records(lines: list[Line]) -> tuple[list[DonorTotal], list[Refund]]:
    """The included lines as the file's records: one per donor, one per refund."""
    gifts: dict[str, int] = {}
    refunds = []
    for line in lines:
        if line.included and line.kind == GIFT:
            gifts[line.tax_code] = gifts.get(line.tax_code, 0) + line.amount_cents
        elif line.included:
            refunds.append(Refund(line.tax_code, line.amount_cents, line.gift_year))
    return [DonorTotal(code, cents) for code, cents in sorted(gifts.items())], refunds
