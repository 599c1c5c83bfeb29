"""The donor registry (anagrafica): identified gifts joined into donors by their shared keys."""

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from ledger.donation import Donation
from ledger.donor import Donor
from ledger.errors import InvalidInputError
from ledger.identity import DETAIL_FIELDS, DonorDetails, display_name, identity_keys
from ledger.keys import natural_id
from ledger.privacy import unseal
from projections.database import Session
from projections.day_sums import (
    create_first_days,
    refresh_donors,
    refresh_first_day,
    refresh_first_days,
    refresh_gift_donor,
)
from projections.runner import Projection
from vault.keys import fetch_keys

DETAIL_COLUMNS = DETAIL_FIELDS


class Registry(Projection):
    """Union–find over identity keys: a gift sharing any key with a donor joins that donor,
    and a gift that links two donors merges them (the older one stays, the other redirects)."""

    name = "registry"
    version = 6
    tables = (
        "registry_donors",
        "registry_keys",
        "registry_gifts",
        "registry_aliases",
        "registry_consents",
        "registry_merges",
        "registry_firsts",
        "registry_new_donors",
    )

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
            consent_how TEXT NOT NULL DEFAULT '',
            erased INTEGER NOT NULL DEFAULT 0
        )""")
        session.execute("""CREATE TABLE registry_consents (
            position BIGINT NOT NULL,
            donor_id TEXT NOT NULL,
            on_date TEXT NOT NULL,
            privacy INTEGER NOT NULL,
            marketing INTEGER NOT NULL,
            how TEXT NOT NULL,
            by_whom TEXT NOT NULL,
            is_change INTEGER NOT NULL
        )""")
        session.execute("CREATE INDEX registry_consents_donor ON registry_consents (donor_id)")
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
        # A donor's gifts in one campaign (first days): the campaign alone would scan them all.
        session.execute(
            "CREATE INDEX registry_gifts_donor ON registry_gifts (donor_id, campaign, value_date)"
        )
        session.execute("CREATE INDEX registry_gifts_campaign ON registry_gifts (campaign)")
        session.execute("""CREATE TABLE registry_aliases (
            old_id TEXT PRIMARY KEY,
            donor_id TEXT NOT NULL
        )""")
        session.execute("""CREATE TABLE registry_merges (
            merged_id TEXT PRIMARY KEY,
            into_id TEXT NOT NULL,
            snapshot TEXT NOT NULL
        )""")
        create_first_days(session)

    def prepare(self, session: Session, events: Sequence[Any]) -> None:
        sealed = [
            e.originator_id
            for e in events
            if isinstance(e, Donation.Received) and e.identified and e.sealed_donor
        ]
        self._keys = fetch_keys(session, sealed) if sealed else {}

    def apply_batch(self, session: Session, events: Sequence[tuple[int, Any]]) -> None:
        """The batch's gifts joined in memory and written set-based; merges, consent changes,
        erasures and a gift that links two donors go through `apply`, between two flushes."""
        self.prepare(session, [event for _, event in events])
        work: list[tuple[int, Any, dict[str, Any] | None, tuple[str, ...]]] = []
        for position, event in events:
            sealed: dict[str, Any] | None = None
            keys: tuple[str, ...] = ()
            if _sealed_gift(event):
                sealed = unseal(
                    self._keys.get(event.originator_id), event.originator_id, event.sealed_donor
                )
                if sealed is not None:
                    keys = identity_keys(sealed["donor"])
            work.append((position, event, sealed, keys))
        batch = _Batch(session, (key for *_, keys in work for key in keys))
        for index, (position, event, sealed, keys) in enumerate(work):
            if _sealed_gift(event):
                if sealed is None:
                    batch.register_erased(event, position)
                    continue
                if batch.register(event, position, sealed, keys):
                    continue
            elif isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
                status = "confirmed" if isinstance(event, Donation.PaymentConfirmed) else "failed"
                batch.change_gift(str(event.originator_id), status=status)
                continue
            elif isinstance(event, Donation.Corrected):
                batch.change_gift(
                    str(event.originator_id),
                    amount_cents=event.amount_cents,
                    value_date=event.value_date.isoformat(),
                )
                continue
            elif not isinstance(
                event, Donor.MergedInto | Donor.Unmerged | Donor.ConsentChanged | Donor.Erased
            ):
                continue
            batch.flush()
            self.apply(session, event, position)
            batch = _Batch(session, (key for *_, keys in work[index + 1 :] for key in keys))
        batch.flush()

    def apply(self, session: Session, event: Any, position: int) -> None:
        """One event at a time: the reference `apply_batch` must agree with."""
        if _sealed_gift(event):
            sealed = unseal(
                self._keys.get(event.originator_id), event.originator_id, event.sealed_donor
            )
            if sealed is not None:
                self._register(session, event, position, sealed)
            else:
                self._register_erased(session, event, position)
        elif isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
            status = "confirmed" if isinstance(event, Donation.PaymentConfirmed) else "failed"
            session.execute(
                "UPDATE registry_gifts SET status = ? WHERE donation_id = ?",
                (status, str(event.originator_id)),
            )
            refresh_gift_donor(session, str(event.originator_id))
        elif isinstance(event, Donation.Corrected):
            session.execute(
                "UPDATE registry_gifts SET amount_cents = ?, value_date = ? WHERE donation_id = ?",
                (event.amount_cents, event.value_date.isoformat(), str(event.originator_id)),
            )
            refresh_gift_donor(session, str(event.originator_id))
        elif isinstance(event, Donor.MergedInto):
            merged, into = (
                resolve(session, str(event.originator_id)),
                resolve(session, event.other),
            )
            if merged != into:
                _remember_merge(session, merged, into)
                self._merge(session, merged, into)
        elif isinstance(event, Donor.Unmerged):
            _undo_merge(session, str(event.originator_id))
        elif isinstance(event, Donor.ConsentChanged):
            donor_id = resolve(session, str(event.originator_id))
            self._consent_given(
                session,
                position,
                donor_id,
                event.on.isoformat(),
                event.privacy,
                event.marketing,
                event.how,
                event.by,
                is_change=True,
            )
        elif isinstance(event, Donor.Erased):
            self._erase(session, event, position)

    def _register_erased(self, session: Session, event: Any, position: int) -> None:
        """A gift whose personal data was erased before this read model saw it (a rebuild):
        it stays a gift of somebody, alone until the erasure event joins it to its donor."""
        donor_id = f"erased:{event.originator_id}"
        session.execute(
            "INSERT INTO registry_donors (donor_id, first_position, erased) VALUES (?, ?, 1)",
            (donor_id, position),
        )
        _add_gift(session, event, donor_id)

    def _erase(self, session: Session, event: Any, position: int) -> None:
        """Blank the donor's personal data and forget their keys; their gifts stay theirs."""
        donor_id = resolve(session, str(event.originator_id))
        if session.one("SELECT 1 FROM registry_donors WHERE donor_id = ?", (donor_id,)) is None:
            session.execute(
                "INSERT INTO registry_donors (donor_id, first_position) VALUES (?, ?)",
                (donor_id, position),
            )
        for donation in event.donations:
            previous = session.scalar(
                "SELECT donor_id FROM registry_gifts WHERE donation_id = ?", (donation,)
            )
            if previous is not None and previous != donor_id:
                # Rebuilt from events it cannot read: the gift stood alone until now.
                first = session.scalar(
                    "SELECT first_position FROM registry_donors WHERE donor_id = ?", (previous,)
                )
                session.execute(
                    "UPDATE registry_donors SET first_position = ? WHERE "
                    "donor_id = ? AND first_position > ?",
                    (first, donor_id, first),
                )
                session.execute(
                    "UPDATE registry_gifts SET donor_id = ? WHERE donation_id = ?",
                    (donor_id, donation),
                )
                refresh_donors(session, previous, donor_id)
                if not session.one("SELECT 1 FROM registry_gifts WHERE donor_id = ?", (previous,)):
                    session.execute("DELETE FROM registry_donors WHERE donor_id = ?", (previous,))
        blanks = ", ".join(f"{column} = ''" for column in DETAIL_COLUMNS)
        session.execute(
            f"UPDATE registry_donors SET {blanks}, display_name = '', erased = 1, "
            "privacy_consent = 0, marketing_consent = 0, consent_on = '', "
            "consent_how = '' WHERE donor_id = ?",
            (donor_id,),
        )
        for table in ("registry_keys", "registry_consents"):
            session.execute(f"DELETE FROM {table} WHERE donor_id = ?", (donor_id,))

    def _consent_given(
        self,
        session: Session,
        position: int,
        donor_id: str,
        on: str,
        privacy: bool,
        marketing: bool,
        how: str,
        by: str,
        is_change: bool,
    ) -> None:
        """Keep a consent fact (a gift's, or a change staff recorded) in the history, then let
        the donor's consent follow time."""
        session.execute(
            "INSERT INTO registry_consents (position, donor_id, on_date, privacy, marketing, "
            "how, by_whom, is_change) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (position, donor_id, on, int(privacy), int(marketing), how, by, int(is_change)),
        )
        _follow_consent(session, donor_id)

    def _register(
        self, session: Session, event: Any, position: int, sealed: dict[str, Any]
    ) -> None:
        details = DonorDetails.from_dict(sealed["donor"])
        keys = details.identity_keys()
        marks = ",".join("?" * len(keys))
        owners = {
            row[0]
            for row in session.query(
                f"SELECT DISTINCT donor_id FROM registry_keys WHERE identity_key IN ({marks})", keys
            )
        }
        if owners:
            ranked = session.query(
                f"SELECT donor_id FROM registry_donors WHERE donor_id IN "
                f"({','.join('?' * len(owners))}) ORDER BY first_position",
                sorted(owners),
            )
            donor_id = ranked[0][0]
            for (other,) in ranked[1:]:
                self._merge(session, other, donor_id)
        else:
            donor_id = str(natural_id("donor", keys[0] + f"@{position}"))
            session.execute(
                "INSERT INTO registry_donors (donor_id, first_position) VALUES (?, ?)",
                (donor_id, position),
            )
        session.executemany(
            "INSERT INTO registry_keys (identity_key, donor_id) VALUES (?, ?) "
            "ON CONFLICT (identity_key) DO NOTHING",
            [(key, donor_id) for key in keys],
        )
        self._update_details(session, donor_id, details, sealed, event, position)
        _add_gift(session, event, donor_id)

    def _update_details(
        self,
        session: Session,
        donor_id: str,
        details: DonorDetails,
        sealed: dict[str, Any],
        event: Any,
        position: int,
    ) -> None:
        """The newest gift's non-blank details win; its consent joins the donor's history."""
        known: dict[str, str] = {
            column: value for column, value in details.to_dict().items() if value
        }
        assignments = [f"{column} = ?" for column in known]
        values: list[Any] = list(known.values())
        first, last, organization = session.one(
            "SELECT first_name, last_name, organization FROM registry_donors WHERE donor_id = ?",
            (donor_id,),
        ) or ("", "", "")
        merged = DonorDetails(
            first_name=known.get("first_name") or first,
            last_name=known.get("last_name") or last,
            organization=known.get("organization") or organization,
        )
        assignments.append("display_name = ?")
        values.append(merged.display_name)
        session.execute(
            f"UPDATE registry_donors SET {', '.join(assignments)} WHERE donor_id = ?",
            (*values, donor_id),
        )
        self._consent_given(
            session,
            position,
            donor_id,
            event.value_date.isoformat(),
            bool(sealed.get("privacy_consent")),
            bool(sealed.get("marketing_consent")),
            consent_source(event.channel, event.source_key),
            "",
            is_change=False,
        )

    def _merge(self, session: Session, other: str, into: str) -> None:
        """`other` turns out to be `into`: move its keys and gifts, keep its id as an alias."""
        blanks = session.one(
            f"SELECT {', '.join(DETAIL_COLUMNS)} FROM registry_donors WHERE donor_id = ?", (other,)
        )
        if blanks is not None:
            fill = ", ".join(
                f"{c} = CASE WHEN {c} = '' THEN ? ELSE {c} END" for c in DETAIL_COLUMNS
            )
            session.execute(
                f"UPDATE registry_donors SET {fill} WHERE donor_id = ?", (*blanks, into)
            )
        for table in ("registry_keys", "registry_gifts", "registry_consents"):
            session.execute(f"UPDATE {table} SET donor_id = ? WHERE donor_id = ?", (into, other))
        refresh_donors(session, other, into)
        session.execute(
            "UPDATE registry_aliases SET donor_id = ? WHERE donor_id = ?", (into, other)
        )
        session.execute(
            "INSERT INTO registry_aliases (old_id, donor_id) VALUES (?, ?)", (other, into)
        )
        session.execute("DELETE FROM registry_donors WHERE donor_id = ?", (other,))
        _follow_consent(session, into)


def _gift_row(event: Any, donor_id: str) -> dict[str, Any]:
    """The registry's row of a received gift (GIFT_ROW), joined to its donor."""
    return {
        "donation_id": str(event.originator_id),
        "donor_id": donor_id,
        "campaign": event.campaign,
        "value_date": event.value_date.isoformat(),
        "amount_cents": event.amount_cents,
        "status": event.status,
    }


def _add_gift(session: Session, event: Any, donor_id: str) -> None:
    """Write the gift's row, then the donor's first day in its campaign."""
    gift = _gift_row(event, donor_id)
    session.execute(
        f"INSERT INTO registry_gifts ({', '.join(GIFT_ROW)}) "
        f"VALUES ({', '.join('?' * len(GIFT_ROW))})",
        tuple(gift[column] for column in GIFT_ROW),
    )
    refresh_first_day(session, donor_id, event.campaign)


def consent_source(channel: str, source_key: str) -> str:
    """Where a gift's consent was given: its channel and key, the channel said once (a bank
    transfer's key already starts with `bank:`)."""
    return source_key if source_key.startswith(f"{channel}:") else f"{channel}:{source_key}"


def _sealed_gift(event: Any) -> bool:
    return isinstance(event, Donation.Received) and event.identified and bool(event.sealed_donor)


ROW_COLUMNS = (
    "donor_id",
    "first_position",
    "display_name",
    *DETAIL_COLUMNS,
    "privacy_consent",
    "marketing_consent",
    "consent_on",
    "consent_how",
    "erased",
)


def _remember_merge(session: Session, merged: str, into: str) -> None:
    """What a merge staff asked for moves, kept so that undoing it restores both entries."""
    select = f"SELECT {', '.join(ROW_COLUMNS)} FROM registry_donors WHERE donor_id = ?"
    merged_row, into_row = session.one(select, (merged,)), session.one(select, (into,))

    def column(table: str, name: str) -> list[Any]:
        return [
            row[0]
            for row in session.query(
                f"SELECT {name} FROM {table} WHERE donor_id = ? ORDER BY {name}", (merged,)
            )
        ]

    snapshot = {
        "merged": list(merged_row) if merged_row else None,
        "into": list(into_row) if into_row else None,
        "keys": column("registry_keys", "identity_key"),
        "gifts": column("registry_gifts", "donation_id"),
        "consents": column("registry_consents", "position"),
        "aliases": column("registry_aliases", "old_id"),
    }
    session.execute("DELETE FROM registry_merges WHERE merged_id = ?", (merged,))
    session.execute(
        "INSERT INTO registry_merges (merged_id, into_id, snapshot) VALUES (?, ?, ?)",
        (merged, into, json.dumps(snapshot)),
    )


def _undo_merge(session: Session, merged: str) -> None:
    """Give the merged entry back what it brought: its row, keys, gifts, consents and
    aliases; the survivor loses the details it only had from it."""
    found = session.one(
        "SELECT into_id, snapshot FROM registry_merges WHERE merged_id = ?", (merged,)
    )
    holder = resolve(session, merged)
    session.execute("DELETE FROM registry_aliases WHERE old_id = ?", (merged,))
    if found is None:
        return
    into, snapshot = found[0], json.loads(found[1])
    if snapshot["merged"] is not None:
        session.execute(
            f"INSERT INTO registry_donors ({', '.join(ROW_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})",
            snapshot["merged"],
        )
        before = dict(zip(ROW_COLUMNS, snapshot["into"] or [], strict=False))
        mine = dict(zip(ROW_COLUMNS, snapshot["merged"], strict=True))
        for name in DETAIL_COLUMNS:
            if before.get(name) == "" and mine[name]:
                session.execute(
                    f"UPDATE registry_donors SET {name} = '' WHERE donor_id = ? AND {name} = ?",
                    (holder, mine[name]),
                )
    for table, name, values in (
        ("registry_keys", "identity_key", snapshot["keys"]),
        ("registry_gifts", "donation_id", snapshot["gifts"]),
        ("registry_consents", "position", snapshot["consents"]),
    ):
        session.executemany(
            f"UPDATE {table} SET donor_id = ? WHERE {name} = ? AND donor_id = ?",
            [(merged, value, holder) for value in values],
        )
    session.executemany(
        "UPDATE registry_aliases SET donor_id = ? WHERE old_id = ?",
        [(merged, old) for old in snapshot["aliases"]],
    )
    session.execute("DELETE FROM registry_merges WHERE merged_id = ?", (merged,))
    for donor_id in (merged, holder):
        _follow_consent(session, donor_id)
    refresh_donors(session, merged, holder)
    alone = session.one("SELECT 1 FROM registry_consents WHERE donor_id = ?", (holder,)) is None
    if holder == into and snapshot["into"] is not None and alone:
        session.execute(
            "UPDATE registry_donors SET privacy_consent = ?, marketing_consent = ?, "
            "consent_on = ?, consent_how = ? WHERE donor_id = ?",
            (*snapshot["into"][-5:-1], holder),
        )


GIFT_ROW = ("donation_id", "donor_id", "campaign", "value_date", "amount_cents", "status")
CONSENT_ROW = (
    "position",
    "donor_id",
    "on_date",
    "privacy",
    "marketing",
    "how",
    "by_whom",
    "is_change",
)


class _Consent:
    """The consent a donor shows, as `_follow_consent` chooses it: the first in its order
    (newest date, a change before a gift's form, a withdrawal before a grant, `how`
    descending). When two facts differ only by `how`, the database's collation settles it:
    such a donor is followed again in SQL after the flush."""

    def __init__(self) -> None:
        self.rank: tuple[str, int, int, int] | None = None
        self.hows: set[str] = set()

    def add(self, on: str, is_change: int, privacy: int, marketing: int, how: str) -> None:
        rank = (on, is_change, -marketing, -privacy)
        if self.rank is None or rank > self.rank:
            self.rank, self.hows = rank, {how}
        elif rank == self.rank:
            self.hows.add(how)

    @property
    def unsure(self) -> bool:
        return len(self.hows) > 1

    def shown(self) -> tuple[int, int, str, str]:
        assert self.rank is not None
        on, _change, marketing, privacy = self.rank
        return -privacy, -marketing, on, max(self.hows)


class _Batch:
    """The registry's rows a batch of gifts touches, read in bulk, changed in memory as the
    gifts are joined one by one, and written set-based by `flush`."""

    def __init__(self, session: Session, keys: Iterable[str]) -> None:
        self.session = session
        self.owners: dict[str, str | None] = {}
        self.donors: dict[str, dict[str, Any]] = {}
        self.consents: dict[str, _Consent] = {}
        self.new_donors: set[str] = set()
        self.changed_donors: set[str] = set()
        self.new_keys: list[tuple[str, str]] = []
        self.new_gifts: dict[str, dict[str, Any]] = {}
        self.new_consents: list[tuple[Any, ...]] = []
        # Gifts written before this batch: the columns the batch changes.
        self.changes: dict[str, dict[str, Any]] = {}
        wanted = sorted(set(keys))
        self.owners.update(dict.fromkeys(wanted))
        for condition, params in session.matching("identity_key", wanted):
            self.owners.update(
                session.query(
                    f"SELECT identity_key, donor_id FROM registry_keys WHERE {condition}", params
                )
            )
        donors = sorted({owner for owner in self.owners.values() if owner is not None})
        for condition, params in session.matching("donor_id", donors):
            for row in session.query(
                f"SELECT {', '.join(ROW_COLUMNS)} FROM registry_donors WHERE {condition}", params
            ):
                self.donors[row[0]] = dict(zip(ROW_COLUMNS, row, strict=True))
                self.consents[row[0]] = _Consent()
        for condition, params in session.matching("donor_id", sorted(self.donors)):
            for donor_id, on, is_change, privacy, marketing, how in session.query(
                "SELECT donor_id, on_date, is_change, privacy, marketing, how FROM "
                f"registry_consents WHERE {condition}",
                params,
            ):
                self.consents[donor_id].add(on, int(is_change), int(privacy), int(marketing), how)

    def register(
        self, event: Any, position: int, sealed: dict[str, Any], keys: tuple[str, ...]
    ) -> bool:
        """Join the gift to its donor as `Registry._register` does; False, with nothing
        changed, when it links two donors (a merge) or its donor is not held here."""
        owners = {self.owners[key] for key in keys} - {None}
        if len(owners) > 1 or any(owner not in self.donors for owner in owners):
            return False
        if owners:
            donor_id = str(owners.pop())
            self.changed_donors.add(donor_id)
        else:
            donor_id = str(natural_id("donor", keys[0] + f"@{position}"))
            self._new_donor(donor_id, position, erased=0)
        for key in keys:
            if self.owners[key] is None:
                self.owners[key] = donor_id
                self.new_keys.append((key, donor_id))
        donor = self.donors[donor_id]
        given = sealed["donor"]  # DonorDetails.to_dict() of the gift's details
        donor.update({column: given[column] for column in DETAIL_COLUMNS if given.get(column)})
        donor["display_name"] = display_name(
            donor["first_name"], donor["last_name"], donor["organization"]
        )
        on = event.value_date.isoformat()
        privacy = int(bool(sealed.get("privacy_consent")))
        marketing = int(bool(sealed.get("marketing_consent")))
        how = consent_source(event.channel, event.source_key)
        self.new_consents.append((position, donor_id, on, privacy, marketing, how, "", 0))
        consent = self.consents[donor_id]
        consent.add(on, 0, privacy, marketing, how)
        (
            donor["privacy_consent"],
            donor["marketing_consent"],
            donor["consent_on"],
            donor["consent_how"],
        ) = consent.shown()
        self._new_gift(event, donor_id)
        return True

    def register_erased(self, event: Any, position: int) -> None:
        """As `Registry._register_erased`: a gift of somebody whose data is gone."""
        donor_id = f"erased:{event.originator_id}"
        self._new_donor(donor_id, position, erased=1)
        self._new_gift(event, donor_id)

    def change_gift(self, donation_id: str, **columns: Any) -> None:
        """Change a gift of this batch in memory, or one already written when flushed (a
        gift the registry does not hold, an anonymous one, stays as it is)."""
        gift = self.new_gifts.get(donation_id)
        if gift is None:
            self.changes.setdefault(donation_id, {}).update(columns)
        else:
            gift.update(columns)

    def _new_donor(self, donor_id: str, position: int, erased: int) -> None:
        row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS, "")
        row.update(
            donor_id=donor_id,
            first_position=position,
            privacy_consent=0,
            marketing_consent=0,
            erased=erased,
        )
        self.donors[donor_id] = row
        self.consents[donor_id] = _Consent()
        self.new_donors.add(donor_id)

    def _new_gift(self, event: Any, donor_id: str) -> None:
        self.new_gifts[str(event.originator_id)] = _gift_row(event, donor_id)

    def flush(self) -> None:
        session = self.session
        # New donors and the donors this batch changed, written whole.
        session.replace_rows(
            "registry_donors",
            "donor_id",
            ROW_COLUMNS,
            [
                [self.donors[d][c] for c in ROW_COLUMNS]
                for d in sorted(self.new_donors | self.changed_donors)
            ],
        )
        session.insert_rows("registry_keys", ("identity_key", "donor_id"), self.new_keys)
        session.insert_rows(
            "registry_gifts",
            GIFT_ROW,
            [[gift[c] for c in GIFT_ROW] for gift in self.new_gifts.values()],
        )
        changed = []
        for condition, params in session.matching("donation_id", sorted(self.changes)):
            for row in session.query(
                f"SELECT {', '.join(GIFT_ROW)} FROM registry_gifts WHERE {condition}", params
            ):
                gift = dict(zip(GIFT_ROW, row, strict=True))
                changed.append(gift | self.changes[gift["donation_id"]])
        session.replace_rows(
            "registry_gifts", "donation_id", GIFT_ROW, [[g[c] for c in GIFT_ROW] for g in changed]
        )
        refresh_first_days(
            session,
            [(gift["donor_id"], gift["campaign"]) for gift in (*self.new_gifts.values(), *changed)],
        )
        session.insert_rows("registry_consents", CONSENT_ROW, self.new_consents)
        for donor_id in sorted(self.new_donors | self.changed_donors):
            if self.consents[donor_id].unsure:
                _follow_consent(session, donor_id)


def _follow_consent(session: Session, donor_id: str) -> None:
    """The donor's consent is the one given most recently by its own date (a gift's value
    date, a change's date), whatever order the facts were recorded or projected in. On the
    same day a change staff recorded outranks a gift's form, and then a withdrawal outranks
    a grant; the text of `how` only settles which of two equal facts is shown."""
    latest = session.one(
        "SELECT privacy, marketing, on_date, how FROM registry_consents WHERE donor_id = ? "
        "ORDER BY on_date DESC, is_change DESC, marketing ASC, privacy ASC, how DESC LIMIT 1",
        (donor_id,),
    )
    if latest is not None:
        session.execute(
            "UPDATE registry_donors SET privacy_consent = ?, marketing_consent = ?, "
            "consent_on = ?, consent_how = ? WHERE donor_id = ?",
            (*latest, donor_id),
        )


def resolve(session: Session, donor_id: str) -> str:
    """The registry entry an id stands for now (a merged id redirects)."""
    alias = session.scalar("SELECT donor_id FROM registry_aliases WHERE old_id = ?", (donor_id,))
    return str(alias) if alias else donor_id


# What the pages read of a donor: the whole row but its place in the event order.
PUBLIC_COLUMNS = tuple(column for column in ROW_COLUMNS if column != "first_position")


def _donor_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(PUBLIC_COLUMNS, row, strict=True))


_ESCAPE = "ESCAPE '\\'"


def _literal(text: str) -> str:
    """`%` and `_` typed in a search are characters to find, not LIKE wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_donors(session: Session, text: str, limit: int = 100) -> list[dict[str, Any]]:
    """By name, e-mail, phone (any way it is written) or tax code."""
    needle = " ".join(text.split()).lower()
    if not needle:
        rows = session.query(
            f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM registry_donors "
            "WHERE erased = 0 ORDER BY display_name LIMIT ?",
            (limit,),
        )
        return [_donor_dict(row) for row in rows]
    keys = []
    for normal in (
        normalize_quietly(DonorDetails.parse, phone=text),
        normalize_quietly(DonorDetails.parse, tax_code=text),
    ):
        if normal is not None:
            keys += list(normal.identity_keys())
    like = f"%{_literal(needle)}%"
    marks = ",".join("?" * len(keys)) or "''"
    rows = session.query(
        f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM registry_donors WHERE erased = 0 AND ("
        f"LOWER(display_name) LIKE ? {_ESCAPE} OR "
        f"LOWER(first_name || ' ' || last_name) LIKE ? {_ESCAPE} OR "
        f"LOWER(email) LIKE ? {_ESCAPE} OR LOWER(tax_code) LIKE ? {_ESCAPE} OR "
        f"REPLACE(phone, '+39', '') LIKE ? {_ESCAPE} "
        f"OR donor_id IN (SELECT donor_id FROM registry_keys WHERE identity_key IN ({marks})))"
        " ORDER BY display_name LIMIT ?",
        (like, like, like, like, f"%{_literal(needle.replace(' ', ''))}%", *keys, limit),
    )
    return [_donor_dict(row) for row in rows]


def normalize_quietly(parse: Any, **field: str) -> DonorDetails | None:
    try:
        details: DonorDetails = parse(**field)
    except InvalidInputError:
        return None
    return details


def donor(session: Session, donor_id: str) -> dict[str, Any] | None:
    row = session.one(
        f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM registry_donors WHERE donor_id = ?", (donor_id,)
    )
    return _donor_dict(row) if row else None


def donor_gifts(session: Session, donor_id: str) -> list[dict[str, Any]]:
    columns = ("donation_id", "campaign", "value_date", "amount_cents", "status")
    return _donor_rows(session, donor_id, "registry_gifts", columns, "value_date, donation_id")


def donor_consents(session: Session, donor_id: str) -> list[dict[str, Any]]:
    columns = ("on_date", "privacy", "marketing", "how", "by_whom")
    return _donor_rows(session, donor_id, "registry_consents", columns, "on_date, position")


def _donor_rows(
    session: Session, donor_id: str, table: str, columns: tuple[str, ...], order: str
) -> list[dict[str, Any]]:
    """A donor's rows of one of the registry's tables, as dicts, in `order`."""
    rows = session.query(
        f"SELECT {', '.join(columns)} FROM {table} WHERE donor_id = ? ORDER BY {order}",
        (donor_id,),
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def donor_keys(session: Session, donor_id: str) -> list[str]:
    return [
        row[0]
        for row in session.query(
            "SELECT identity_key FROM registry_keys WHERE donor_id = ? ORDER BY identity_key",
            (donor_id,),
        )
    ]


def suggested_duplicates(
    session: Session, limit: int = 50
) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """Pairs that may be one person: same name and comune, or e-mails alike (same name
    before the @, or one letter apart)."""
    donors = [
        _donor_dict(row)
        for row in session.query(
            f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM registry_donors WHERE erased = 0 "
            "ORDER BY first_position"
        )
    ]
    pairs: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    by_variant: dict[str, dict[str, Any]] = {}
    for entry in donors:
        name = (
            f"{entry['first_name']} {entry['last_name']}".strip().lower(),
            entry["city"].strip().lower(),
        )
        if name[0] and name[1]:
            if name in by_name:
                pairs.append((by_name[name], entry, "stesso nome e comune"))
            by_name.setdefault(name, entry)
        if entry["email"]:
            variants = _email_variants(entry["email"])
            alike = next((by_variant[v] for v in variants if v in by_variant), None)
            if alike is not None:
                pairs.append((alike, entry, "e-mail simile"))
            for variant in variants:
                by_variant.setdefault(variant, entry)
        if len(pairs) >= limit:
            break
    return pairs[:limit]


def _email_variants(email: str) -> set[str]:
    """The part before the @ without dots, and each way of dropping one letter from it: two
    addresses one typo apart (a letter changed, added, dropped or swapped) share a variant,
    so near matches are found in one pass instead of comparing every pair."""
    local = email.split("@")[0].replace(".", "")
    if len(local) < 5:  # short names ("info", "ab") are alike by chance, not by typo
        return {local}
    return {local} | {local[:i] + local[i + 1 :] for i in range(len(local))}


def erasure_facts(session: Session, donor_id: str) -> tuple[list[str], bool, str | None]:
    """What an erasure needs to know: the donor's gifts, whether a tax code is held, the last
    gift's value date."""
    gifts = donor_gifts(session, donor_id)
    entry = donor(session, donor_id)
    last = max((g["value_date"] for g in gifts), default=None)
    return [g["donation_id"] for g in gifts], bool(entry and entry["tax_code"]), last


def merge_of(session: Session, donor_id: str) -> str | None:
    """The donor a merge staff asked for sent this one into, while it can be undone."""
    into = session.scalar("SELECT into_id FROM registry_merges WHERE merged_id = ?", (donor_id,))
    return str(into) if into else None


def merged_into_donor(session: Session, donor_id: str) -> list[dict[str, Any]]:
    """The entries merged by staff into this donor, which a merge undo would bring back."""
    rows = session.query(
        "SELECT merged_id, snapshot FROM registry_merges WHERE into_id = ? ORDER BY merged_id",
        (donor_id,),
    )
    merged = []
    for merged_id, snapshot in rows:
        row = json.loads(snapshot)["merged"]
        name = dict(zip(ROW_COLUMNS, row, strict=True))["display_name"] if row else ""
        merged.append({"donor_id": merged_id, "display_name": name})
    return merged
