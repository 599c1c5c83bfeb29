"""The donor registry (anagrafica): identified gifts joined into donors by their shared keys."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ledger.donation import Donation
from ledger.identity import DonorDetails
from ledger.keys import natural_id
from ledger.privacy import unseal
from projections.database import Session
from projections.runner import Projection
from projections.vault import fetch_keys

DETAIL_COLUMNS = ("first_name", "last_name", "organization", "email", "phone", "address",
                  "postcode", "city", "province", "tax_code")


class Registry(Projection):
    """Union–find over identity keys: a gift sharing any key with a donor joins that donor,
    and a gift that links two donors merges them (the older one stays, the other redirects)."""

    name = "registry"
    version = 1
    tables = ("registry_donors", "registry_keys", "registry_gifts", "registry_aliases")

    def __init__(self) -> None:
        self._keys: dict[UUID, bytes] = {}

    def create_tables(self, session: Session) -> None:
        details = ",\n".join(f"{column} TEXT NOT NULL DEFAULT ''" for column in DETAIL_COLUMNS)
        session.execute(f"""CREATE TABLE registry_donors (
            donor_id TEXT PRIMARY KEY,
            first_position BIGINT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            {details},
            privacy_consent INTEGER NOT NULL DEFAULT 0,
            marketing_consent INTEGER NOT NULL DEFAULT 0,
            consent_on TEXT NOT NULL DEFAULT '',
            consent_how TEXT NOT NULL DEFAULT ''
        )""")
        session.execute("""CREATE TABLE registry_keys (
            identity_key TEXT PRIMARY KEY,
            donor_id TEXT NOT NULL
        )""")
        session.execute("CREATE INDEX registry_keys_donor ON registry_keys (donor_id)")
        session.execute("""CREATE TABLE registry_gifts (
            donation_id TEXT PRIMARY KEY,
            donor_id TEXT NOT NULL,
            campaign TEXT NOT NULL,
            value_date TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            status TEXT NOT NULL
        )""")
        session.execute("CREATE INDEX registry_gifts_donor ON registry_gifts (donor_id)")
        session.execute("CREATE INDEX registry_gifts_campaign ON registry_gifts (campaign)")
        session.execute("""CREATE TABLE registry_aliases (
            old_id TEXT PRIMARY KEY,
            donor_id TEXT NOT NULL
        )""")

    def prepare(self, session: Session, events: Sequence[Any]) -> None:
        sealed = [e.originator_id for e in events
                  if isinstance(e, Donation.Received) and e.identified and e.sealed_donor]
        self._keys = fetch_keys(session, sealed) if sealed else {}

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, Donation.Received) and event.identified and event.sealed_donor:
            sealed = unseal(self._keys.get(event.originator_id), event.originator_id,
                            event.sealed_donor)
            if sealed is not None:
                self._register(session, event, position, sealed)
        elif isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
            status = "confirmed" if isinstance(event, Donation.PaymentConfirmed) else "failed"
            session.execute("UPDATE registry_gifts SET status = ? WHERE donation_id = ?",
                            (status, str(event.originator_id)))

    def _register(self, session: Session, event: Any, position: int,
                  sealed: dict[str, Any]) -> None:
        details = DonorDetails.from_dict(sealed["donor"])
        keys = details.identity_keys()
        marks = ",".join("?" * len(keys))
        owners = {row[0] for row in session.query(
            f"SELECT DISTINCT donor_id FROM registry_keys WHERE identity_key IN ({marks})", keys)}
        if owners:
            ranked = session.query(
                f"SELECT donor_id FROM registry_donors WHERE donor_id IN "
                f"({','.join('?' * len(owners))}) ORDER BY first_position", sorted(owners))
            donor_id = ranked[0][0]
            for (other,) in ranked[1:]:
                self._merge(session, other, donor_id)
        else:
            donor_id = str(natural_id("donor", keys[0] + f"@{position}"))
            session.execute("INSERT INTO registry_donors (donor_id, first_position) VALUES (?, ?)",
                            (donor_id, position))
        session.executemany(
            "INSERT INTO registry_keys (identity_key, donor_id) VALUES (?, ?) "
            "ON CONFLICT (identity_key) DO NOTHING", [(key, donor_id) for key in keys])
        self._update_details(session, donor_id, details, sealed, event)
        session.execute(
            "INSERT INTO registry_gifts (donation_id, donor_id, campaign, value_date, "
            "amount_cents, status) VALUES (?, ?, ?, ?, ?, ?)",
            (str(event.originator_id), donor_id, event.campaign, event.value_date.isoformat(),
             event.amount_cents, event.status),
        )

    def _update_details(self, session: Session, donor_id: str, details: DonorDetails,
                        sealed: dict[str, Any], event: Any) -> None:
        """The newest gift's non-blank details win; consent is as the newest gift gave it."""
        known: dict[str, str] = {
            column: value for column, value in details.to_dict().items() if value}
        assignments = [f"{column} = ?" for column in known]
        values: list[Any] = list(known.values())
        first, last, organization = session.one(
            "SELECT first_name, last_name, organization FROM registry_donors WHERE donor_id = ?",
            (donor_id,)) or ("", "", "")
        merged = DonorDetails(first_name=known.get("first_name") or first,
                              last_name=known.get("last_name") or last,
                              organization=known.get("organization") or organization)
        assignments += ["display_name = ?", "privacy_consent = ?", "marketing_consent = ?",
                        "consent_on = ?", "consent_how = ?"]
        values += [merged.display_name, int(bool(sealed.get("privacy_consent"))),
                   int(bool(sealed.get("marketing_consent"))), event.value_date.isoformat(),
                   f"{event.channel}:{event.source_key}"]
        session.execute(f"UPDATE registry_donors SET {', '.join(assignments)} WHERE donor_id = ?",
                        (*values, donor_id))

    def _merge(self, session: Session, other: str, into: str) -> None:
        """`other` turns out to be `into`: move its keys and gifts, keep its id as an alias."""
        blanks = session.one(
            f"SELECT {', '.join(DETAIL_COLUMNS)} FROM registry_donors WHERE donor_id = ?",
            (other,))
        if blanks is not None:
            fill = ", ".join(f"{c} = CASE WHEN {c} = '' THEN ? ELSE {c} END"
                             for c in DETAIL_COLUMNS)
            session.execute(f"UPDATE registry_donors SET {fill} WHERE donor_id = ?",
                            (*blanks, into))
        for table in ("registry_keys", "registry_gifts"):
            session.execute(f"UPDATE {table} SET donor_id = ? WHERE donor_id = ?", (into, other))
        session.execute("UPDATE registry_aliases SET donor_id = ? WHERE donor_id = ?",
                        (into, other))
        session.execute("INSERT INTO registry_aliases (old_id, donor_id) VALUES (?, ?)",
                        (other, into))
        session.execute("DELETE FROM registry_donors WHERE donor_id = ?", (other,))
