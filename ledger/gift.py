"""Gifts as commands receive them, checked on construction (a `Gift`; a `NamedGift` logged at
a stand), and the words that describe any gift: channels, methods, districts, payment status,
months of a monthly gift, dedications."""

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from uuid import UUID

from ledger.bounds import (
    MAX_DONORS,
    amount_problem,
    check_amount,
    check_text,
    count_problem,
    date_problem,
    text_problem,
)
from ledger.errors import invalid_field, raise_problems
from ledger.identity import DonorDetails
from ledger.keys import natural_id
from ledger.texts import N_

CHANNELS = ("stand", "online", "bank", "event", "other")
METHODS = ("cash", "card", "bank_transfer", "sepa_debit", "postal", "paypal", "cheque")
DISTRICTS = ("Cremona", "Crema", "Casalmaggiore")
CONFIRMED, PENDING, FAILED = "confirmed", "pending", "failed"
# Which month of a monthly gift a gift is: the first, a later one, or none (a one-off gift).
FIRST_MONTH, LATER_MONTH = "first", "later"
INSTALMENTS = ("", FIRST_MONTH, LATER_MONTH)
# A gift given in memory or in honour of someone names them; the name is sealed with the
# donor's own data (it is personal data too, and goes with an erasure).
IN_MEMORY, IN_HONOUR = "memory", "honour"
TRIBUTES = ("", IN_MEMORY, IN_HONOUR)
MAX_TRIBUTE_NAME = 120


def clean_tribute_name(text: str | None) -> str:
    """One line, spaces collapsed, at most MAX_TRIBUTE_NAME characters (else an error)."""
    name = " ".join((text or "").split())
    problems: dict[str, list[str]] = {}
    if problem := text_problem(name):
        problems["tribute_name"] = [problem]
    elif len(name) > MAX_TRIBUTE_NAME:
        problems["tribute_name"] = [f"at most {MAX_TRIBUTE_NAME} characters"]
    raise_problems(problems)
    return name


@dataclass(frozen=True)
class Gift:
    """A gift as a command receives it, checked on construction (all problems at once)."""

    source_key: str
    campaign: str
    amount_cents: int
    value_date: date
    channel: str
    method: str
    donors: int = 1
    details: DonorDetails = field(default_factory=DonorDetails)
    privacy_consent: bool = False
    marketing_consent: bool = False
    district: str = ""
    stand: str = ""
    status: str = CONFIRMED
    # The anonymous tally of a closed stand: the cash beyond the named gifts and the people
    # tapped. Either may be zero (every coin came from named givers; nobody was tapped), so
    # that closing never drops a tallied person nor invents one; both zero is no gift.
    tally: bool = False
    instalment: str = ""
    # Part of amount_cents the donor added to cover the processor's fee (already included).
    covered_fee_cents: int = 0
    tribute_kind: str = ""
    tribute_name: str = ""
    # The town shown on the public list of latest gifts, only with the donor's consent
    # (one of DISTRICTS: towns large enough that naming them identifies nobody).
    public_place: str = ""

    def __post_init__(self) -> None:
        problems: dict[str, list[str]] = {}
        least = 0 if self.tally else 1  # a stand's tally may be no cash, or nobody tapped
        if problem := amount_problem(self.amount_cents, least=least):
            problems["amount"] = [problem]
        if problem := date_problem(self.value_date):
            problems["date"] = [problem]
        for name in ("source_key", "campaign", "stand"):
            if problem := text_problem(getattr(self, name)):
                problems["reference" if name == "source_key" else name] = [problem]
        if self.tally:
            problems.update(self._tally_problems())
        if problem := count_problem(self.donors, least, MAX_DONORS):
            problems["donors"] = [N_("the people behind one gift go %(problem)s", problem=problem)]
        elif self.donors > 1 and self.details.has_any_personal_data:
            problems["donors"] = [
                N_("more than one donor only on anonymous rows (no identity fields)")
            ]
        if self.channel not in CHANNELS:
            problems["channel"] = [
                N_(
                    "unknown channel %(value)r (one of %(choices)s)",
                    value=self.channel,
                    choices=", ".join(CHANNELS),
                )
            ]
        if self.method not in METHODS:
            problems["method"] = [
                N_(
                    "unknown method %(value)r (one of %(choices)s)",
                    value=self.method,
                    choices=", ".join(METHODS),
                )
            ]
        if self.district and self.district not in DISTRICTS:
            problems["district"] = [
                N_(
                    "unknown district %(value)r (one of %(choices)s)",
                    value=self.district,
                    choices=", ".join(DISTRICTS),
                )
            ]
        if self.instalment not in INSTALMENTS:
            problems["instalment"] = [N_("the first or a later month of a monthly gift, or blank")]
        if self.covered_fee_cents and (
            amount_problem(self.covered_fee_cents) or self.covered_fee_cents >= self.amount_cents
        ):
            problems["covered_fee"] = [
                N_("a covered fee is part of the gift, less than its amount")
            ]
        if self.tribute_kind not in TRIBUTES:
            problems["tribute_kind"] = [N_("in memory, in honour, or blank")]
        elif bool(self.tribute_kind) != bool(self.tribute_name.strip()):
            problems["tribute_name"] = [N_("a gift in memory or in honour names the person")]
        elif problem := text_problem(self.tribute_name):
            problems["tribute_name"] = [problem]
        elif len(self.tribute_name) > MAX_TRIBUTE_NAME:
            problems["tribute_name"] = [N_("at most %(count)s characters", count=MAX_TRIBUTE_NAME)]
        if self.public_place and self.public_place not in DISTRICTS:
            problems["public_place"] = [
                N_("one of %(choices)s, or blank", choices=", ".join(DISTRICTS))
            ]
        if self.status not in (CONFIRMED, PENDING):
            problems["status"] = [N_("a new gift is either confirmed or pending")]
        if not self.source_key:
            problems["reference"] = [N_("a gift needs a key that makes a resend a no-op")]
        raise_problems(problems)

    def _tally_problems(self) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if self.amount_cents == 0 and self.donors == 0:
            problems["amount"] = [N_("a tally of nobody and no cash is no gift")]
        if (self.channel, self.method) != ("stand", "cash") or (self.details.has_any_personal_data):
            problems["donors"] = [N_("a tally is the anonymous cash of a stand")]
        return problems

    @cached_property
    def donation_id(self) -> UUID:
        return donation_id(self.source_key)

    @property
    def identified(self) -> bool:
        return self.details.is_identified


def donation_id(source_key: str) -> UUID:
    """The id of the Donation a gift becomes: the same key always finds the same donation,
    which makes every resend a no-op."""
    return natural_id("donation", source_key)


@dataclass(frozen=True)
class NamedGift:
    entry_id: str
    details: DonorDetails
    amount_cents: int
    privacy_consent: bool
    marketing_consent: bool

    def __post_init__(self) -> None:
        check_text("entry_id", self.entry_id)
        check_amount("amount_cents", self.amount_cents)

    def check_contact(self) -> None:
        """A named gift is kept only to stay in touch: with consent, and a way to reach them."""
        if not self.privacy_consent:
            raise invalid_field(
                "privacy_consent",
                N_("privacy consent is needed to keep the contact; otherwise use +1"),
            )
        if not self.details.is_identified:
            raise invalid_field("contact", N_("an e-mail, a phone or a codice fiscale is needed"))
