"""What the donor and donation exports select from the registry and the gift totals."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.identity import DETAIL_FIELDS
from projections.database import Database

DONOR_COLUMNS = (
    "donor_id",
    *DETAIL_FIELDS,
    "privacy_consent",
    "marketing_consent",
    "gifts",
    "total_cents",
    "last_gift",
)
DONATION_COLUMNS = (
    "date",
    "campaign",
    "channel",
    "method",
    "amount",
    "donors",
    "status",
    "refunded",
    "district",
    "stand",
    "reference",
    "donor_id",
    "donor",
    "email",
)


@dataclass(frozen=True)
class ExportFilters:
    """Which gifts an export covers, and which of their donors."""

    campaign: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    marketing_only: bool = False
    with_tax_code: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "marketing_only": self.marketing_only,
            "with_tax_code": self.with_tax_code,
        }


def _gift_conditions(filters: ExportFilters, alias: str) -> tuple[list[str], list[Any]]:
    conditions, params = [f"{alias}.status = 'confirmed'"], []
    if filters.campaign:
        conditions.append(f"{alias}.campaign = ?")
        params.append(filters.campaign)
    if filters.date_from:
        conditions.append(f"{alias}.value_date >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        conditions.append(f"{alias}.value_date <= ?")
        params.append(filters.date_to.isoformat())
    return conditions, params


def _donor_conditions(filters: ExportFilters) -> list[str]:
    return [
        condition
        for wanted, condition in (
            (filters.marketing_only, "d.marketing_consent = 1"),
            (filters.with_tax_code, "d.tax_code <> ''"),
        )
        if wanted
    ]


def donors_query(filters: ExportFilters) -> tuple[str, list[Any]]:
    """One row per donor (DONOR_COLUMNS) with their confirmed gifts' count, sum and last day."""
    conditions, params = _gift_conditions(filters, "g")
    conditions += ["d.erased = 0", *_donor_conditions(filters)]
    sql = (
        "SELECT d.donor_id, d.first_name, d.last_name, d.organization, d.email, d.phone, "
        "d.address, d.postcode, d.city, d.province, d.tax_code, d.privacy_consent, "
        "d.marketing_consent, COUNT(*), SUM(g.amount_cents), MAX(g.value_date) "
        "FROM registry_donors d JOIN registry_gifts g ON g.donor_id = d.donor_id "
        f"WHERE {' AND '.join(conditions)} GROUP BY d.donor_id, d.first_name, d.last_name, "
        "d.organization, d.email, d.phone, d.address, d.postcode, d.city, d.province, "
        "d.tax_code, d.privacy_consent, d.marketing_consent ORDER BY d.last_name, d.donor_id"
    )
    return sql, params


def donations_query(filters: ExportFilters) -> tuple[str, list[Any]]:
    """One row per confirmed gift (DONATION_COLUMNS), with its donor when identified."""
    conditions, params = _gift_conditions(filters, "v")
    conditions += _donor_conditions(filters)
    sql = (
        "SELECT v.value_date, v.campaign, v.channel, v.method, v.amount_cents, v.people, "
        "v.status, v.refunded_cents, v.district, v.stand, v.source_key, "
        "COALESCE(d.donor_id, ''), COALESCE(d.display_name, ''), COALESCE(d.email, '') "
        "FROM gifts_view v LEFT JOIN registry_gifts g ON g.donation_id = v.donation_id "
        "LEFT JOIN registry_donors d ON d.donor_id = g.donor_id "
        f"WHERE {' AND '.join(conditions)} ORDER BY v.value_date, v.source_key"
    )
    return sql, params


def count_rows(database: Database, sql: str, params: list[Any]) -> int:
    """How many rows an export query selects (recorded in the audit trail before it runs);
    its ORDER BY, which comes last, changes nothing to the count and is left out."""
    unordered = sql.rpartition(" ORDER BY ")[0] or sql
    with database.reading() as session:
        return int(session.scalar(f"SELECT COUNT(*) FROM ({unordered}) counted", params, default=0))


def computed_columns(sql: str, expressions: list[str]) -> str:
    """A query whose columns are `expressions` over the columns of `sql`, named c0, c1, … in
    order (so that the database formats the rows of an export itself)."""
    names = ", ".join(f"c{i}" for i in range(len(expressions)))
    return f"SELECT {', '.join(expressions)} FROM ({sql}) AS exported ({names})"
