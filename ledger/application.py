"""LedgerApplication: the commands that record what happened, and the queries of the write side."""

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from ledger.audit import AuditEntry
from ledger.bounds import (
    MAX_TARGET_CENTS,
    amount_problem,
    check,
    date_problem,
    text_problem,
)
from ledger.campaign import Campaign, check_campaign, check_campaign_day, target_problem
from ledger.dates import today as foundation_today
from ledger.donation import DISTRICTS, Donation, Gift
from ledger.donor import Donor, retention_reason
from ledger.errors import ChangedMeanwhileError, ConflictError, InvalidInputError, NotFoundError
from ledger.event_store import one_transaction
from ledger.identity import DonorDetails
from ledger.payments import (
    CONFIRMED,
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    FAILED,
    METHOD,
    REFUND_FAILED,
    REFUNDED,
    ParkedNotices,
    PaymentLink,
    PaymentNotice,
    RecurringGift,
)
from ledger.privacy import KeyVault, MemoryKeyVault, new_key, seal, unseal
from ledger.receipt_book import ReceiptBook
from ledger.set_aside import SetAsideEvents
from ledger.stand import CLOSED, BankDeposit, NamedGift, StandCollection, invalid_field
from ledger.user import (
    ROLES,
    TOKEN_DAYS,
    User,
    hash_password,
    spend_password_work,
    token_reference,
    user_email,
)

# Saving many aggregates in one save() is one transaction and one table lock on PostgreSQL.
SAVE_BATCH = 200


class DateAsISO(Transcoding):
    type = date
    name = "date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def store_env(database_url: str, create_table: bool = True) -> dict[str, str]:
    """The eventsourcing environment for `sqlite:///path` or `postgresql://user@host:port/db`."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy writes them.
        path = unquote(url.path)[1:]
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path or ":memory:",
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    if url.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            # eventsourcing insists on a password even where the server trusts local users.
            "POSTGRES_PASSWORD": unquote(url.password or "trust"),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "5",
            "POSTGRES_LOCK_TIMEOUT": "30",
            # No pre-ping: when the server cuts every connection (restart, pg_terminate_backend)
            # the pool's check waits 1, 2, 4, 8… s per dead connection it meets, ~30 s for a
            # pool of five; the recorder's own retry (10 tries, 0.2 s apart) drops one dead
            # connection per try and recovers in about a second.
            "POSTGRES_PRE_PING": "n",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    raise InvalidInputError(
        f"LEDGER_DATABASE_URL must be sqlite:///path or postgresql://user@host:port/db, "
        f"not {database_url!r}"
    )


def needs_sealing(gift: Gift) -> bool:
    """Whether the gift carries personal data (consents included) to seal with its own key."""
    return gift.details.has_any_personal_data or gift.privacy_consent or gift.marketing_consent


@dataclass(frozen=True)
class CampaignInfo:
    id: UUID
    slug: str
    name: str
    target_cents: int
    starts_on: date | None
    ends_on: date | None
    is_open: bool


@dataclass(frozen=True)
class UserInfo:
    id: UUID
    email: str
    role: str
    session_generation: int = 0


def _user_info(user: User) -> UserInfo:
    return UserInfo(user.id, user.email, user.role, user.session_generation)


@dataclass(frozen=True)
class TokenInfo:
    """A token as it is listed: never its secret, which only its holder has."""

    reference: str
    issued_at: datetime
    expires_at: datetime
    state: str


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a batch of gifts did: new ones added, resends recognised."""

    added: int
    already_recorded: int


class LedgerApplication(Application[UUID]):
    """One per process. Commands read load → call → save; ids are natural keys."""

    name = "Ledger"

    def __init__(self, env: dict[str, str] | None = None, vault: KeyVault | None = None) -> None:
        super().__init__(env=env)
        self.vault: KeyVault = vault if vault is not None else MemoryKeyVault()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # Campaigns

    def start_campaign(self, slug: str, name: str, target_cents: int,
                       starts_on: date | None = None, ends_on: date | None = None) -> UUID:
        """Start a campaign; the same command again is a no-op, a different one a conflict."""
        check_campaign(slug, name, target_cents, starts_on, ends_on)
        try:
            existing = self.get_campaign(slug)
        except NotFoundError:
            campaign = Campaign(slug, name.strip(), target_cents, starts_on, ends_on)
            self._save_new(campaign)
            return campaign.id
        if (existing.name, existing.target_cents, existing.starts_on, existing.ends_on) != (
            name.strip(), target_cents, starts_on, ends_on
        ):
            raise ConflictError(f"campaign {slug!r} already exists with other details")
        return existing.id

    def change_target(self, slug: str, target_cents: int) -> None:
        check("target", target_problem(target_cents))
        campaign = self._campaign(slug)
        if campaign.target_cents != target_cents:
            campaign.change_target(target_cents)
            self.save(campaign)

    def end_campaign(self, slug: str, on: date) -> None:
        check_campaign_day("on", on)
        campaign = self._campaign(slug)
        if campaign.is_open:
            campaign.end(on)
            self.save(campaign)

    def get_campaign(self, slug: str) -> CampaignInfo:
        campaign = self._campaign(slug)
        return CampaignInfo(campaign.id, campaign.slug, campaign.name, campaign.target_cents,
                            campaign.starts_on, campaign.ends_on, campaign.is_open)

    def _campaign(self, slug: str) -> Campaign:
        try:
            campaign: Campaign = self.repository.get(Campaign.create_id(slug))
        except AggregateNotFoundError:
            raise NotFoundError(f"unknown campaign {slug!r}") from None
        return campaign

    # Gifts

    def find_donation(self, source_key: str) -> Donation | None:
        try:
            donation: Donation = self.repository.get(Donation.create_id(source_key))
        except AggregateNotFoundError:
            return None
        return donation

    def check_resend(self, gift: Gift) -> bool:
        """True when `gift` is already recorded as it is; a ConflictError when it differs."""
        donation = self.find_donation(gift.source_key)
        if donation is None:
            return False
        if not donation.same_money_as(gift):
            raise ConflictError(
                f"{gift.source_key!r} is already recorded with other figures "
                f"({donation.amount_cents} cents on {donation.value_date.isoformat()})"
            )
        return True

    def record_gifts(self, gifts: Sequence[Gift]) -> RecordOutcome:
        """Record gifts in few transactions; a resent gift is recognised and left as it was.

        A key given twice in `gifts` is one gift when both say the same, and a ConflictError
        before anything is saved when they differ. New gifts are saved optimistically, a batch
        at a time; only a batch that meets an existing id is checked gift by gift, so the
        common case costs no reads.
        """
        donations = self.donations_for(gifts)
        first_of: dict[UUID, Gift] = {}
        for gift in gifts:
            first_of.setdefault(gift.donation_id, gift)
        added = 0
        for start in range(0, len(donations), SAVE_BATCH):
            batch = donations[start:start + SAVE_BATCH]
            try:
                self._save_new(*batch)
            except IntegrityError:
                added += sum(self._record_one(first_of[donation.id]) for donation in batch)
                continue
            added += len(batch)
        return RecordOutcome(added, len(gifts) - added)

    def record_in_one_transaction(self, batches: Iterable[Sequence[Gift]]) -> int:
        """Record every gift of every batch in one database transaction: all, or none on any
        error or a kill. Only one batch is held at a time, so any number of gifts fits in flat
        memory. Every gift must be new and its sealing key already in the vault (make them
        first with `sealing_keys`: on SQLite the vault cannot write while this transaction
        holds the database). A gift recorded meanwhile by another process fails the whole
        transaction with eventsourcing's IntegrityError. Returns how many were recorded."""
        known_campaigns: set[str] = set()
        added = 0
        with one_transaction(self.recorder) as append:
            for batch in batches:
                donations = self.donations_for(batch, known_campaigns, make_keys=False)
                append([self.mapper.to_stored_event(event)
                        for donation in donations for event in donation.collect_events()])
                added += len(donations)
        return added

    def record_gift(self, gift: Gift) -> bool:
        """Record one gift; False when it was a resend."""
        return self.record_gifts([gift]).added == 1

    def _record_one(self, gift: Gift) -> bool:
        if self.check_resend(gift):
            return False
        try:
            self._save_new(*self.donations_for([gift], set()))
        except IntegrityError:
            self.check_resend(gift)  # recorded meanwhile by another process: same, or conflict
            return False
        return True

    def donations_for(self, gifts: Sequence[Gift], known_campaigns: set[str] | None = None,
                      make_keys: bool = True) -> list[Donation]:
        """New, unsaved Donations for `gifts` (their keys already in the vault), to be saved by
        the caller, possibly with other aggregates in the same transaction. With `make_keys`
        off, a missing key is an error instead of a write to the vault."""
        known = known_campaigns if known_campaigns is not None else set()
        ids = [gift.donation_id for gift in gifts]  # a uuid5 each: computed once
        subjects = [subject for subject, gift in zip(ids, gifts, strict=True)
                    if needs_sealing(gift)]
        keys = self.sealing_keys(subjects) if make_keys else self.vault.keys_for(subjects)
        if len(keys) < len(set(subjects)):
            raise ConflictError("a sealing key went missing meanwhile (an erasure?): try again")
        donations: dict[UUID, Donation] = {}
        for donation_id, gift in zip(ids, gifts, strict=True):
            if donation_id in donations:
                first = donations[donation_id]
                if not first.same_money_as(gift):
                    raise ConflictError(
                        f"{gift.source_key!r} is given twice with other figures "
                        f"({first.amount_cents} cents on {first.value_date.isoformat()}, then "
                        f"{gift.amount_cents} cents on {gift.value_date.isoformat()})")
                continue
            if gift.campaign not in known:
                self._campaign(gift.campaign)
                known.add(gift.campaign)
            sealed = None
            if donation_id in keys:
                sealed = seal(keys[donation_id], donation_id, {
                    "donor": gift.details.to_dict(),
                    "privacy_consent": gift.privacy_consent,
                    "marketing_consent": gift.marketing_consent,
                })
            donations[donation_id] = Donation(
                source_key=gift.source_key, campaign=gift.campaign,
                amount_cents=gift.amount_cents, donors=gift.donors, identified=gift.identified,
                channel=gift.channel, method=gift.method, value_date=gift.value_date,
                district=gift.district, stand=gift.stand, status=gift.status,
                sealed_donor=sealed,
            )
        return list(donations.values())

    def sealing_keys(self, subjects: Sequence[UUID]) -> dict[UUID, bytes]:
        """The key each subject's personal data is sealed with, made where missing.

        Keys are stored before any event that uses them (a crash leaves an unused key, never
        unreadable data), and read back: when two processes make a key for the same subject at
        once, the vault keeps the first, and both must seal with that one."""
        if not subjects:
            return {}
        keys = self.vault.keys_for(subjects)
        missing = {subject: new_key() for subject in subjects if subject not in keys}
        if missing:
            self.vault.store(missing)
            keys = self.vault.keys_for(subjects)
        return keys

    def donor_of(self, donation: Donation) -> dict[str, Any] | None:
        """The sealed personal data of a gift, or None when it has none or it was erased."""
        if donation.sealed_donor is None:
            return None
        key = self.vault.keys_for([donation.id]).get(donation.id)
        return unseal(key, donation.id, donation.sealed_donor)

    def details_of(self, donation: Donation) -> DonorDetails | None:
        sealed = self.donor_of(donation)
        return DonorDetails.from_dict(sealed["donor"]) if sealed else None

    def _donation(self, source_key: str) -> Donation:
        donation = self.find_donation(source_key)
        if donation is None:
            raise NotFoundError(f"no gift recorded under {source_key!r}")
        return donation

    def refund(self, source_key: str, refund_id: str, amount_cents: int, on: date,
               reason: str = "") -> bool:
        donation = self._donation(source_key)
        self._require_no_receipt(donation)
        if donation.refund(refund_id, amount_cents, on, reason):
            self.save(donation)
            return True
        return False

    def _require_no_receipt(self, donation: Donation) -> None:
        """A receipted gift changes only once its receipt is voided (it is receipted anew
        afterwards), so that no receipt in force states an amount the ledger no longer holds."""
        try:
            book: ReceiptBook = self.repository.get(
                ReceiptBook.create_id(donation.value_date.year))
        except AggregateNotFoundError:
            return
        entry = book.receipt_for(donation.id)
        if entry is not None:
            raise ConflictError(f"la donazione ha la ricevuta {entry.number}: annullala prima "
                                f"(void receipt {entry.number} first)")

    def record_fee(self, source_key: str, fee_cents: int, source: str) -> bool:
        donation = self._donation(source_key)
        if donation.record_fee(fee_cents, source):
            self.save(donation)
            return True
        return False

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save, turning a lost race into a conflict the user can retry."""
        try:
            return super().save(*objs, **kwargs)
        except ChangedMeanwhileError:
            raise
        except IntegrityError as error:
            raise ChangedMeanwhileError(
                "il dato è stato modificato nel frattempo da un'altra richiesta: riprova "
                "(changed meanwhile by another request; try again)") from error

    def _save_new(self, *aggregates: Aggregate) -> None:
        if aggregates:
            self.save(*aggregates)

    # Users

    def add_user(self, email: str, role: str, password: str) -> UserInfo:
        problems: dict[str, list[str]] = {}
        try:
            address = user_email(email)
        except InvalidInputError as error:
            address, problems = "", dict(error.fields)
        if role not in ROLES:
            problems["role"] = [f"one of {', '.join(ROLES)}"]
        if problems:
            raise InvalidInputError(
                "; ".join(f"{k}: {m}" for k, ms in problems.items() for m in ms), problems)
        user = User(address, role, hash_password(password))
        try:
            self.save(user)
        except IntegrityError:
            raise ConflictError(f"a user {address} already exists") from None
        return _user_info(user)

    def _user(self, email: str) -> User:
        try:
            user: User = self.repository.get(User.create_id(email))
        except AggregateNotFoundError:
            raise NotFoundError(f"no user {email.strip().lower()}") from None
        return user

    def get_user(self, user_id: UUID) -> UserInfo | None:
        try:
            user: User = self.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        return _user_info(user) if user.active else None

    def authenticate(self, email: str, password: str) -> UserInfo | None:
        try:
            user = self._user(email)
        except NotFoundError:
            spend_password_work(password)
            return None
        return _user_info(user) if user.check_password(password) else None

    def set_password(self, email: str, password: str) -> None:
        """A new password; every session of the user ends with the old one."""
        user = self._user(email)
        user.change_password(hash_password(password))
        self.save(user)

    def deactivate_user(self, email: str) -> None:
        """The user can no longer sign in, nor use any token or session; the history stays."""
        user = self._user(email)
        if user.active:
            user.deactivate()
            self.save(user)

    def issue_token(self, email: str, days: int = TOKEN_DAYS, now: datetime | None = None) -> str:
        """A new personal API token, valid for `days`; it is shown only now."""
        user = self._user(email)
        token = user.issue_token(now or datetime.now(UTC), days)
        self.save(user)
        return token

    def user_tokens(self, email: str, now: datetime | None = None) -> list[TokenInfo]:
        user = self._user(email)
        moment = now or datetime.now(UTC)
        return [TokenInfo(token_reference(user.id, token.token_id), token.issued_at,
                          token.expires_at, token.state(moment))
                for token in sorted(user.tokens.values(), key=lambda t: t.issued_at)]

    def _token_parts(self, token: str) -> tuple[User, str, str] | None:
        """A `fondo_<user>_<id>.<secret>` token (or its reference, without `.<secret>`) split
        into its user, token id and secret."""
        try:
            _prefix, user_hex, rest = token.strip().split("_", 2)
            token_id, _dot, secret = rest.partition(".")
            user: Aggregate = self.repository.get(UUID(hex=user_hex))
        except (ValueError, AggregateNotFoundError):
            return None
        return (user, token_id, secret) if isinstance(user, User) else None

    def user_for_token(self, token: str, now: datetime | None = None) -> UserInfo | None:
        """The user a token belongs to, while it is valid (not expired nor revoked, user
        active)."""
        parts = self._token_parts(token)
        if parts is None or not parts[0].accepts_token(parts[1], parts[2],
                                                       now or datetime.now(UTC)):
            return None
        return _user_info(parts[0])

    def revoke_token(self, token_or_reference: str) -> bool:
        """Revoke a token named by its reference (`ledger users tokens`) or given whole;
        False when it was revoked already."""
        parts = self._token_parts(token_or_reference)
        if parts is None:
            raise NotFoundError("no such token: give the token or its id from "
                                "`ledger users tokens EMAIL`")
        user, token_id, _secret = parts
        if not user.revoke_token(token_id):
            return False
        self.save(user)
        return True

    # Stands

    def open_stand(self, campaign: str, place: str, comune: str, district: str, day: date,
                   volunteers: list[str]) -> UUID:
        """Open a stand; the same opening sent again returns the same stand."""
        problems: dict[str, list[str]] = {}
        if not place.strip():
            problems["place"] = ["where is the stand? (piazza)"]
        if not comune.strip():
            problems["comune"] = ["which comune?"]
        if district not in DISTRICTS:
            problems["district"] = [f"one of {', '.join(DISTRICTS)}"]
        names = [v.strip() for v in volunteers if v.strip()]
        if not names:
            problems["volunteers"] = ["at least one volunteer"]
        for field, problem in [("campaign", text_problem(campaign)),
                               ("place", text_problem(place)),
                               ("comune", text_problem(comune)), ("day", date_problem(day)),
                               *(("volunteers", text_problem(v)) for v in volunteers)]:
            if problem:
                problems[field] = [problem]
        if problems:
            raise InvalidInputError(
                "; ".join(f"{k}: {m}" for k, ms in problems.items() for m in ms), problems)
        self._campaign(campaign).check_gift_day(day)
        stand = StandCollection(campaign, place.strip(), comune.strip(), district, day, names)
        # Already opened: the natural key makes a resent opening a no-op.
        with contextlib.suppress(IntegrityError):
            self.save(stand)
        return stand.id

    def get_stand(self, stand_id: UUID) -> StandCollection:
        try:
            stand: Aggregate = self.repository.get(stand_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no stand {stand_id}") from None
        if not isinstance(stand, StandCollection):
            raise NotFoundError(f"no stand {stand_id}")
        return stand

    def _change_stand(self, stand_id: UUID, change: Any) -> Any:
        stand = self.get_stand(stand_id)
        result = change(stand)
        try:
            self.save(stand)
        except IntegrityError:
            raise ConflictError(
                "il banchetto è stato modificato da un altro telefono: riprova "
                "(changed meanwhile by another phone)") from None
        return result

    def tally_gift(self, stand_id: UUID, entry_id: str, amount_cents: int | None = None) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.tally(entry_id, amount_cents)))

    def undo_tally(self, stand_id: UUID, entry_id: str) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.undo_tally(entry_id)))

    def log_named_gift(self, stand_id: UUID, gift: NamedGift) -> bool:
        """A giver who wants a receipt or news: sealed with the key of the gift-to-be."""
        if not gift.privacy_consent:
            raise invalid_field("privacy_consent",
                           "serve il consenso privacy per tenere il contatto; altrimenti usa +1")
        if not gift.details.is_identified:
            raise invalid_field("email", "an e-mail, a phone or a codice fiscale is needed")
        stand = self.get_stand(stand_id)
        subject = Donation.create_id(stand.gift_key(gift.entry_id))
        key = self.sealing_keys([subject])[subject]
        sealed = seal(key, subject, {"donor": gift.details.to_dict(),
                                     "privacy_consent": gift.privacy_consent,
                                     "marketing_consent": gift.marketing_consent})
        return bool(self._change_stand(stand_id, lambda s: s.log_named_gift(
            gift.entry_id, gift.amount_cents, gift.details.is_identified, sealed)))

    def count_cash(self, stand_id: UUID, counter: str, denominations: dict[int, int]) -> int:
        return int(self._change_stand(stand_id, lambda s: s.count_cash(counter, denominations)))

    def close_stand(self, stand_id: UUID) -> dict[str, Any]:
        """Close and record the gifts in the same transaction: the named ones, and one
        anonymous tally of (counted − named) cash from the tallied givers, whichever of the
        two is zero (see Gift.tally)."""
        stand = self.get_stand(stand_id)
        anonymous_cents, tallied = stand.close()
        subjects = {entry: Donation.create_id(stand.gift_key(entry)) for entry in stand.named}
        keys = self.vault.keys_for(subjects.values())
        gifts = []
        for entry_id, (amount, _identified, sealed) in stand.named.items():
            subject = subjects[entry_id]
            # None once erased: the money is still a gift, from nobody we know.
            donor = unseal(keys.get(subject), subject, sealed) or {"donor": {}}
            gifts.append(Gift(
                source_key=stand.gift_key(entry_id), campaign=stand.campaign,
                amount_cents=amount, value_date=stand.day, channel="stand", method="cash",
                details=DonorDetails.from_dict(donor["donor"]),
                privacy_consent=bool(donor.get("privacy_consent")),
                marketing_consent=bool(donor.get("marketing_consent")),
                district=stand.district, stand=stand.place))
        if anonymous_cents or tallied:
            gifts.append(Gift(source_key=stand.tally_key, campaign=stand.campaign,
                              amount_cents=anonymous_cents, value_date=stand.day,
                              channel="stand", method="cash", donors=tallied, tally=True,
                              district=stand.district, stand=stand.place))
        try:
            self.save(stand, *self.donations_for(gifts))
        except IntegrityError:
            raise ConflictError("il banchetto è già stato chiuso da un altro telefono "
                                "(already closed from another phone)") from None
        return stand.state()

    def record_deposit(self, reference: str, amount_cents: int, on: date,
                       stand_ids: list[UUID]) -> UUID:
        """Record a bank deposit once; the same reference again with other figures conflicts."""
        problems: dict[str, list[str]] = {}
        if problem := text_problem(reference):
            problems["reference"] = [problem]
        elif not reference.strip():
            problems["reference"] = ["the bank's reference (CRO/TRN) of the deposit"]
        # One deposit may pool the cash of many stands: bounded like a campaign's target.
        if problem := amount_problem(amount_cents, most=MAX_TARGET_CENTS):
            problems["amount_cents"] = [problem]
        if problem := date_problem(on):
            problems["on"] = [problem]
        if not stand_ids:
            problems["stands"] = ["choose the stands whose cash was deposited"]
        if problems:
            raise InvalidInputError(
                "; ".join(f"{k}: {m}" for k, ms in problems.items() for m in ms), problems)
        for stand in (self.get_stand(stand_id) for stand_id in stand_ids):
            if stand.status != CLOSED:
                raise ConflictError(f"close the stand {stand.place} before its deposit")
        deposit = BankDeposit(reference.strip(), amount_cents, on,
                              sorted(str(stand_id) for stand_id in stand_ids))
        try:
            self.save(deposit)
        except IntegrityError:
            existing: BankDeposit = self.repository.get(deposit.id)
            if (existing.amount_cents, existing.stands) != (deposit.amount_cents, deposit.stands):
                raise ConflictError(
                    f"deposit {reference} is already recorded with other figures") from None
        return deposit.id

    # Online payments

    def receive_payment(self, gift: Gift, *notices: PaymentNotice) -> bool:
        """Record an online gift (a resend is a no-op), then apply the notices that came with
        it and those that arrived before it; False when the gift was already recorded."""
        added = self.record_gift(gift)
        self._release_parked(gift.source_key)
        for notice in notices:
            self.notify_payment(gift.source_key, notice)
        return added

    def settle_payment(self, gift: Gift, notice: PaymentNotice) -> bool:
        """A delayed payment (SEPA) succeeded or failed: the notice applies to the payment's key
        whatever the gift first recorded there says, and `gift` is recorded only when nothing
        is, so a field read differently from a later copy of the session never loses the
        outcome. False when the gift was already recorded."""
        added = self._record_if_absent(gift)
        self._release_parked(gift.source_key)
        self.notify_payment(gift.source_key, notice)
        return added

    def _record_if_absent(self, gift: Gift) -> bool:
        if self.find_donation(gift.source_key) is not None:
            return False
        try:
            self._save_new(*self.donations_for([gift]))
        except IntegrityError:  # recorded meanwhile by another delivery
            return False
        return True

    def link_payment(self, payment_key: str, gift_key: str) -> bool:
        """The payment under `payment_key` is the money of the gift under `gift_key` (a month
        of a monthly gift): its notices go to that gift from now on, parked ones included.
        False when the link was already known."""
        link = PaymentLink(payment_key, gift_key)
        added = True
        try:
            self.save(link)
        except IntegrityError:
            known: PaymentLink = self.repository.get(link.id)
            if known.gift_key != gift_key:
                raise ConflictError(f"{payment_key} already pays {known.gift_key}, "
                                    f"not {gift_key}") from None
            added = False
        self._release_parked(payment_key)
        return added

    def gift_key_for(self, key: str) -> str:
        """Where notices about `key` go: its own gift, else the gift its payment is linked to."""
        if self.find_donation(key) is not None:
            return key
        try:
            link: PaymentLink = self.repository.get(PaymentLink.create_id(key))
        except AggregateNotFoundError:
            return key
        return link.gift_key

    def notify_payment(self, source_key: str, notice: PaymentNotice) -> bool:
        """Apply a notice to its payment's gift, or park it until the gift is recorded (and,
        for a refund or a lost dispute, confirmed, with room for it). True when it was
        applied now."""
        target = self.gift_key_for(source_key)
        if self._apply_notice(target, notice):
            return True
        self._park(target, notice)
        # The gift, its confirmation or its link may have been recorded meanwhile by another
        # process, which did not see this notice yet: look again, so one of the two applies it.
        self._release_parked(target)
        parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(target))
        return not parked.is_waiting(notice)

    def _apply_notice(self, source_key: str, notice: PaymentNotice) -> bool:
        """Apply a notice to the gift under `source_key`; False when there is no gift yet, or
        when the notice takes money back that must wait (see Donation.money_back_waits)."""
        for attempt in range(3):
            donation = self.find_donation(source_key)
            if donation is None or (notice.takes_money_back and donation.money_back_waits(
                    notice.reference, notice.amount_cents)):
                return False
            was_confirmed = donation.money_can_leave
            if notice.kind == CONFIRMED:
                donation.confirm_payment(notice.on)
            elif notice.kind == FAILED:
                donation.fail_payment(notice.on, notice.reason)
            elif notice.kind == REFUNDED:
                donation.refund(notice.reference, notice.amount_cents, notice.on, notice.reason)
            elif notice.kind == REFUND_FAILED:
                donation.fail_refund(notice.reference, notice.on)
            elif notice.kind == DISPUTE_OPENED:
                donation.open_dispute(notice.reference, notice.amount_cents, notice.on)
            elif notice.kind == DISPUTE_CLOSED:
                donation.close_dispute(notice.reference, notice.outcome, notice.amount_cents,
                                       notice.on)
            elif notice.kind == METHOD:
                donation.learn_method(notice.reference)
            else:
                raise InvalidInputError(f"unknown payment notice {notice.kind!r}")
            changed = bool(donation.pending_events)
            try:
                self.save(donation)
            except IntegrityError:
                if attempt == 2:
                    raise ChangedMeanwhileError(
                        f"{source_key} keeps changing; try again") from None
                continue
            if changed and (notice.kind == REFUND_FAILED or
                            (donation.money_can_leave and not was_confirmed)):
                # Refunds that waited for the confirmation, or for the room a failed one left.
                self._release_parked(source_key)
            return True
        return False  # pragma: no cover - the loop returns or raises

    def _park(self, source_key: str, notice: PaymentNotice) -> None:
        for _attempt in range(3):
            try:
                parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(source_key))
            except AggregateNotFoundError:
                parked = ParkedNotices(source_key)
            if parked.is_waiting(notice):
                return
            parked.park(notice.to_dict())
            try:
                self.save(parked)
                return
            except IntegrityError:
                continue
        raise ChangedMeanwhileError(f"notices for {source_key} keep changing; try again")

    def _release_parked(self, source_key: str) -> None:
        """Apply the notices parked under `source_key` that can apply now; when the key turned
        out to be a payment linked to another gift, they move to that gift."""
        try:
            parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(source_key))
        except AggregateNotFoundError:
            return
        waiting = parked.waiting()
        if not waiting:
            return
        target = self.gift_key_for(source_key)
        kept = []
        conflicts: list[ConflictError] = []
        for notice in waiting:
            try:
                if target != source_key:
                    self.notify_payment(target, notice)
                elif not self._apply_notice(source_key, notice):
                    kept.append(notice)
            except ChangedMeanwhileError:
                # Lost a race, not a contradiction: it waits for the next release, or for
                # Stripe's next delivery of its own event.
                kept.append(notice)
            except ConflictError as conflict:
                # It contradicts the ledger now and would for ever: reported, not kept.
                conflicts.append(conflict)
        parked.release(kept)
        # Another process may have released them too: the notices are idempotent, so a
        # clash here changes nothing that matters.
        with contextlib.suppress(IntegrityError):
            self.save(parked)
        if conflicts:
            raise conflicts[0]

    def start_recurring(self, source_key: str, campaign: str, amount_cents: int,
                        on: date) -> bool:
        """A monthly gift begins (each paid month arrives as its own payment)."""
        self._campaign(campaign)
        try:
            self.save(RecurringGift(source_key, campaign, amount_cents, on))
        except IntegrityError:
            return False
        return True

    def cancel_recurring(self, source_key: str, campaign: str, amount_cents: int,
                         on: date) -> bool:
        """A monthly gift ends; it is started first if its start has not arrived yet."""
        self.start_recurring(source_key, campaign, amount_cents, on)
        recurring: RecurringGift = self.repository.get(RecurringGift.create_id(
            source_key, campaign, amount_cents, on))
        if recurring.cancel(on):
            self.save(recurring)
            return True
        return False

    # Back office: corrections, the registry, audit

    def correct_gift(self, source_key: str, amount_cents: int, value_date: date, reason: str,
                     by: str) -> None:
        donation = self._donation(source_key)
        self._require_no_receipt(donation)
        donation.correct(amount_cents, value_date, reason, by)
        self.save(donation)

    def _registry_entry(self, donor_id: UUID) -> Donor:
        try:
            donor: Donor = self.repository.get(donor_id)
        except AggregateNotFoundError:
            donor = Donor._create(Donor.Opened, id=donor_id)
        return donor

    def merge_donors(self, donor_id: UUID, into: UUID, by: str) -> None:
        """Two registry entries are one person: the first redirects to the second from now on."""
        if self._registry_entry(into).erased:
            raise ConflictError("cannot merge into an erased donor")
        donor = self._registry_entry(donor_id)
        donor.merge_into(into, by)
        self.save(donor)

    def change_consent(self, donor_id: UUID, privacy: bool, marketing: bool, how: str,
                       on: date, by: str) -> None:
        donor = self._registry_entry(donor_id)
        donor.change_consent(privacy, marketing, how, on, by)
        self.save(donor)

    def erase_donor(self, donor_id: UUID, donations: list[UUID], has_tax_code: bool,
                    last_gift_on: date | None, reason: str, by: str, force: bool = False,
                    today: date | None = None) -> int:
        """Make the donor's personal data unreadable everywhere (their gifts' keys are
        destroyed); refused while the law wants it kept, unless forced (admins only, a
        reason recorded). Returns how many keys were destroyed."""
        keep = retention_reason(has_tax_code, last_gift_on, today or foundation_today())
        if keep and not force:
            raise ConflictError(f"cancellazione rifiutata: {keep}")
        donor = self._registry_entry(donor_id)
        if donor.erased:  # recorded before, maybe without reaching the vault: finish it
            return self.vault.destroy(donations)
        donor.erase([str(d) for d in donations], reason, bool(keep and force), by)
        self.save(donor, AuditEntry("erasure", by, {
            "donor": str(donor_id), "reason": reason.strip(), "forced": bool(keep and force),
            "retention": keep or ""}, len(donations)))
        return self.vault.destroy(donations)

    def record_audit(self, action: str, who: str, details: dict[str, Any], rows: int) -> None:
        self.save(AuditEntry(action, who, details, rows))

    # Events set aside from the read models

    def set_aside_event(self, position: int, reason: str, by: str) -> bool:
        """Tell every read model to skip the notification at `position` (an event accepted by
        mistake that a read model cannot apply); the event itself stays as it was recorded.
        False when it was already set aside."""
        found = self.recorder.select_notifications(start=position, limit=1) if (
            isinstance(position, int) and position >= 1) else []
        if not found or found[0].id != position:
            raise NotFoundError(f"no event at position {position}")
        if found[0].topic.endswith(":SetAsideEvents.EventSetAside"):
            raise InvalidInputError("a set-aside is never set aside itself",
                                    {"position": ["choose the event a read model stopped at"]})
        for _attempt in range(3):
            try:
                register: SetAsideEvents = self.repository.get(SetAsideEvents.create_id())
            except AggregateNotFoundError:
                register = SetAsideEvents()
            if not register.set_aside(position, reason, by):
                return False
            try:
                self.save(register)
                return True
            except IntegrityError:
                continue
        raise ConflictError("the events set aside keep changing; try again")

    def set_aside_positions(self) -> frozenset[int]:
        """The notifications every read model skips."""
        try:
            register: SetAsideEvents = self.repository.get(SetAsideEvents.create_id())
        except AggregateNotFoundError:
            return frozenset()
        return register.positions
