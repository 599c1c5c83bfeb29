"""PDF documents in Italian: a receipt for one gift, a donor's annual statement, a report."""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ledger.identity import DonorDetails
from ledger.in_words import euro_in_words
from ledger.money import format_eur
from ledger.receipt_book import DEDUCTIBLE, NOT_DEDUCTIBLE, VOID
from ledger.receipts import ReceiptDocument

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
METHOD_NAMES = {
    "cash": "contanti",
    "card": "carta di pagamento",
    "bank_transfer": "bonifico bancario",
    "sepa_debit": "addebito diretto SEPA",
    "postal": "versamento su conto corrente postale",
    "paypal": "PayPal",
    "cheque": "assegno",
}
LAW = "D.Lgs. 3 luglio 2017, n. 117 (Codice del Terzo settore)"


@dataclass(frozen=True)
class Foundation:
    """The issuer printed on every document (LEDGER_FOUNDATION_*)."""

    name: str
    tax_code: str
    address: str
    status: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Foundation":
        values = os.environ if env is None else env
        return cls(
            name=values.get("LEDGER_FOUNDATION_NAME")
            or "Fondazione Comunitaria della Provincia di Cremona ONLUS",
            # Not published in any text we could check: left for the foundation to set.
            tax_code=values.get("LEDGER_FOUNDATION_TAX_CODE", ""),
            address=values.get("LEDGER_FOUNDATION_ADDRESS")
            or "Palazzo Stanga, Via Palestro 36, 26100 Cremona (CR)",
            status=values.get("LEDGER_FOUNDATION_STATUS")
            or "Fondazione di comunità, ente del Terzo settore (ONLUS)",
        )


class _Document(FPDF):
    """A4 pages with the foundation's heading; DejaVu where installed (it has €), else
    Helvetica with the euro sign written out."""

    def __init__(self, foundation: Foundation, title: str) -> None:
        super().__init__(format="A4")
        self.foundation = foundation
        self.set_title(title)
        self.set_author(foundation.name)
        self.set_auto_page_break(auto=True, margin=18)
        if (FONT_DIR / "DejaVuSans.ttf").exists():
            self.add_font("Body", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("Body", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.body_font = "Body"
        else:
            self.body_font = "Helvetica"
        self.add_page()

    def text_of(self, text: str) -> str:
        if self.body_font == "Body":
            return text
        return text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        issuer = self.foundation
        self.set_font(self.body_font, "B", 13)
        self.cell(0, 7, self.text_of(issuer.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.body_font, "", 9)
        tax = issuer.tax_code or "da configurare (LEDGER_FOUNDATION_TAX_CODE)"
        for line in (issuer.address, f"Codice fiscale {tax}", issuer.status):
            self.cell(0, 4.5, self.text_of(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y() + 2, self.w - self.r_margin, self.get_y() + 2)
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body_font, "", 8)
        self.cell(
            0, 5, self.text_of(f"{self.foundation.name} · pagina {self.page_no()}"), align="C"
        )

    def heading(self, text: str) -> None:
        self.set_font(self.body_font, "B", 14)
        self.multi_cell(0, 8, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def paragraph(self, text: str, size: float = 10.5, bold: bool = False) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)
        self.multi_cell(0, size * 0.55, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def row(
        self,
        cells: Sequence[str],
        widths: Sequence[float],
        bold: bool = False,
        aligns: Sequence[str] | None = None,
    ) -> None:
        self.set_font(self.body_font, "B" if bold else "", 9)
        for index, (text, width) in enumerate(zip(cells, widths, strict=True)):
            align = aligns[index] if aligns else "L"
            self.cell(width, 6, self.text_of(text), border="B", align=align)  # type: ignore[arg-type]
        self.ln(6)

    def stamp(self, text: str) -> None:
        self.set_font(self.body_font, "B", 20)
        self.set_text_color(180, 0, 0)
        self.cell(0, 12, self.text_of(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def bytes(self) -> bytes:
        return bytes(self.output())


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def donor_lines(donor: DonorDetails | None) -> list[str]:
    if donor is None:
        return ["Dati personali cancellati su richiesta dell'interessato (GDPR art. 17)"]
    place = " ".join(
        p
        for p in (donor.postcode, donor.city, f"({donor.province})" if donor.province else "")
        if p
    )
    lines = [donor.display_name or "—"]
    lines += [line for line in (donor.address, place) if line]
    if donor.tax_code:
        lines.append(f"Codice fiscale {donor.tax_code}")
    return lines


def deductibility_text(statement: str, tax_code: str | None) -> str:
    """What the donor may claim (art. 83): companies (partita IVA) deduct only (c. 2);
    people choose a 30% detraction up to € 30.000 (c. 1) or deduction within 10% (c. 2)."""
    if statement == NOT_DEDUCTIBLE:
        return (
            "Erogazione in contanti: non detraibile/deducibile. Le agevolazioni dell'art. "
            f"83 del {LAW} spettano solo ai versamenti con mezzi tracciabili."
        )
    if statement != DEDUCTIBLE:
        return ""
    if tax_code and len(tax_code) == 11 and tax_code.isdigit():
        return (
            "Erogazione effettuata con mezzo tracciabile: deducibile dal reddito "
            f"complessivo netto nel limite del 10% ai sensi dell'art. 83, comma 2, del {LAW}."
        )
    return (
        "Erogazione effettuata con mezzo tracciabile: detraibile dall'imposta lorda nella "
        "misura del 30% per un importo complessivo non superiore a € 30.000 annui (art. "
        "83, comma 1) oppure, in alternativa, deducibile dal reddito complessivo netto nel "
        f"limite del 10% (art. 83, comma 2) del {LAW}."
    )


GIFT_NOTE = (
    "L'erogazione è liberale, senza alcuna controprestazione, e sarà utilizzata per lo "
    "svolgimento delle attività statutarie della Fondazione, di interesse generale e "
    "senza scopo di lucro."
)
STAMP_NOTE = f"Documento esente dall'imposta di bollo ai sensi dell'art. 82, comma 5, del {LAW}."


def tribute_line(tribute: dict[str, str]) -> str:
    """«In memoria di …» or «In onore di …», as the donor asked."""
    lead = "In memoria di" if tribute.get("kind") == "memory" else "In onore di"
    return f"{lead} {tribute.get('name', '')}"


def receipt_pdf(receipt: ReceiptDocument, foundation: Foundation, campaign_name: str = "") -> bytes:
    """One gift's receipt; a void receipt says so across the page, with the reason."""
    pdf = _Document(foundation, f"Ricevuta {receipt.number}")
    pdf.heading(f"Ricevuta di erogazione liberale n. {receipt.number}")
    if receipt.status == VOID:
        pdf.stamp("ANNULLATA")
        pdf.paragraph(f"Motivo dell'annullamento: {receipt.void_reason}", bold=True)
    pdf.paragraph("Donatore", size=9, bold=True)
    pdf.paragraph("\n".join(donor_lines(receipt.donor)))
    who = receipt.donor.display_name if receipt.donor else "il donatore"
    pdf.paragraph(
        f"{foundation.name} dichiara di aver ricevuto da {who or 'il donatore'} "
        f"in data {day(receipt.value_date)} la somma di {format_eur(receipt.amount_cents)} "
        f"(euro {euro_in_words(receipt.amount_cents)}) mediante "
        f"{METHOD_NAMES.get(receipt.method, receipt.method)}"
        + (f", per la campagna «{campaign_name}»" if campaign_name else "")
        + "."
    )
    if receipt.tribute:
        pdf.paragraph(tribute_line(receipt.tribute), bold=True)
    pdf.paragraph(GIFT_NOTE)
    statement = deductibility_text(
        receipt.deductibility, receipt.donor.tax_code if receipt.donor else None
    )
    if statement:
        pdf.paragraph(statement)
    pdf.paragraph(STAMP_NOTE, size=9)
    pdf.paragraph(f"Riferimento del pagamento: {receipt.source_key.removeprefix('csv:')}", size=8)
    pdf.ln(4)
    pdf.paragraph(f"Cremona, {day(receipt.issued_on)}")
    pdf.paragraph("Per la Fondazione", size=9)
    return pdf.bytes()


def statement_pdf(
    year: int,
    donor: DonorDetails | None,
    receipts: Sequence[ReceiptDocument],
    foundation: Foundation,
    issued_on: date,
) -> bytes:
    """A donor's gifts of one year with their receipt numbers and the total."""
    pdf = _Document(foundation, f"Riepilogo annuale {year}")
    pdf.heading(f"Riepilogo annuale delle erogazioni liberali {year}")
    pdf.paragraph("Donatore", size=9, bold=True)
    pdf.paragraph("\n".join(donor_lines(donor)))
    widths = (32, 28, 60, 34, 30)
    pdf.row(("Ricevuta", "Data", "Modalità", "Importo", "Detraibile"), widths, bold=True)
    total = traceable = 0
    for receipt in receipts:
        deductible = receipt.deductibility == DEDUCTIBLE
        pdf.row(
            (
                receipt.number,
                day(receipt.value_date),
                METHOD_NAMES.get(receipt.method, receipt.method),
                format_eur(receipt.amount_cents),
                "sì" if deductible else "no",
            ),
            widths,
            aligns=("L", "L", "L", "R", "C"),
        )
        total += receipt.amount_cents
        traceable += receipt.amount_cents if deductible else 0
    pdf.row(
        ("Totale", "", "", format_eur(total), ""),
        widths,
        bold=True,
        aligns=("L", "L", "L", "R", "C"),
    )
    pdf.ln(3)
    pdf.paragraph(
        f"Totale dell'anno: {format_eur(total)} (euro {euro_in_words(total)}); "
        f"di cui con mezzi tracciabili: {format_eur(traceable)}."
    )
    pdf.paragraph(GIFT_NOTE)
    if donor is not None and donor.tax_code:  # no tax code: the donor can claim nothing
        if traceable:
            pdf.paragraph(deductibility_text(DEDUCTIBLE, donor.tax_code))
        if traceable < total:
            pdf.paragraph("Le erogazioni in contanti sono non detraibili/deducibili.")
    pdf.paragraph(STAMP_NOTE, size=9)
    pdf.paragraph(f"Cremona, {day(issued_on)}")
    return pdf.bytes()


def fundraising_pdf(
    campaign_name: str,
    report: dict[str, Any],
    use_of_funds: str,
    foundation: Foundation,
    issued_on: date,
) -> bytes:
    """The rendiconto of an occasional public fundraising (art. 87 c.6 and art. 79 c.4 a
    D.Lgs. 117/2017; Linee guida DM 9 giugno 2022): income, expenses, net, explanatory note."""
    pdf = _Document(foundation, f"Rendiconto {campaign_name}")
    pdf.heading(f"Rendiconto della raccolta pubblica di fondi occasionale: {campaign_name}")
    pdf.paragraph(
        f"Redatto ai sensi dell'art. 87, comma 6, e dell'art. 79, comma 4, lettera a), "
        f"del {LAW}, secondo le Linee guida del DM 9 giugno 2022.",
        size=9,
    )
    pdf.paragraph("Entrate per banchetto e giorno", bold=True)
    widths = (70, 34, 28, 20, 32)
    pdf.row(("Banchetto", "Distretto", "Giorno", "Persone", "Importo"), widths, bold=True)
    for line in report["income"]:
        pdf.row(
            (
                line["stand"],
                line["district"] or "—",
                day(date.fromisoformat(line["day"])),
                str(line["people"]),
                format_eur(line["cents"]),
            ),
            widths,
            aligns=("L", "L", "L", "R", "R"),
        )
    pdf.row(
        ("Totale entrate", "", "", "", format_eur(report["income_cents"])),
        widths,
        bold=True,
        aligns=("L", "L", "L", "R", "R"),
    )
    if report["deposits"]:
        pdf.ln(3)
        pdf.paragraph(
            "Versamenti in banca: "
            + "; ".join(
                f"{d['reference']} del {day(date.fromisoformat(d['on']))} {format_eur(d['cents'])}"
                for d in report["deposits"]
            ),
            size=9,
        )
    pdf.ln(3)
    pdf.paragraph("Spese sostenute", bold=True)
    spend = (28, 120, 36)
    pdf.row(("Data", "Descrizione", "Importo"), spend, bold=True)
    for line in report["expenses"]:
        pdf.row(
            (day(date.fromisoformat(line["on"])), line["what"], format_eur(line["cents"])),
            spend,
            aligns=("L", "L", "R"),
        )
    pdf.row(
        ("", "Totale spese", format_eur(report["expense_cents"])),
        spend,
        bold=True,
        aligns=("L", "L", "R"),
    )
    pdf.ln(3)
    pdf.paragraph(
        f"Risultato netto della raccolta: {format_eur(report['net_cents'])}", size=12, bold=True
    )
    pdf.paragraph("Relazione illustrativa", bold=True)
    when = (
        f"dal {day(date.fromisoformat(report['first_day']))} al "
        f"{day(date.fromisoformat(report['last_day']))}"
        if report["first_day"]
        else "(nessun banchetto registrato)"
    )
    places = ", ".join(report["places"]) or "—"
    pdf.paragraph(
        f"Che cosa: raccolta pubblica di fondi occasionale «{campaign_name}», con "
        "offerta di informazioni sul programma e banchetti in piazza, in concomitanza "
        "con celebrazioni, ricorrenze o campagne di sensibilizzazione. "
        f"Dove: {places}. Quando: {when}."
    )
    pdf.paragraph(f"Impiego dei fondi raccolti: {use_of_funds.strip() or '—'}")
    pdf.paragraph(f"Cremona, {day(issued_on)}")
    return pdf.bytes()
