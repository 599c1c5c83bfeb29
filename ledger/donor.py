"""Donor: a registry entry's own history (merges, consents, erasure); its gifts are Donations."""

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import check_date, check_text
from ledger.dates import years_after
from ledger.errors import ConflictError, InvalidInputError
from ledger.texts import N_

# Italian bookkeeping (art. 2220 c.c.) and the tax rules on deductible gifts: ten years.
RETENTION_YEARS = 10


def retention_reason(has_tax_code: bool, last_gift_on: date | None, today: date) -> str | None:
    """Why a donor's data must still be kept, or None when it may be erased."""
    if not has_tax_code or last_gift_on is None:
        return None
    keep_until = years_after(last_gift_on, RETENTION_YEARS)
    if today < keep_until:
        return N_(
            "the data of a donor with a tax code are kept %(years)s years after the last gift, "
            "until %(day)s",
            years=RETENTION_YEARS,
            day=keep_until,
        )
    return None


class Donor(Aggregate):
    """Created on the first thing staff do with a registry entry; id = the registry's id."""

    class Opened(Aggregate.Created):
        pass

    class MergedInto(Aggregate.Event):
        other: str
        by: str

    class Unmerged(Aggregate.Event):
        """A merge undone: the entry is itself again, as if it had never been merged."""

        other: str
        by: str

    class ConsentChanged(Aggregate.Event):
        privacy: bool
        marketing: bool
        how: str
        on: date
        by: str

    class Erased(Aggregate.Event):
        donations: list[str]
        reason: str
        forced: bool
        by: str

    @event(Opened)
    def __init__(self) -> None:
        self.merged_into: str | None = None
        self.erased = False

    def _require_active(self) -> None:
        if self.erased:
            raise ConflictError(N_("this donor was erased"))
        if self.merged_into:
            raise ConflictError(N_("this donor was merged into %(other)s", other=self.merged_into))

    def merge_into(self, other: UUID, by: str) -> None:
        self._require_active()
        if other == self.id:
            raise InvalidInputError(
                N_("a donor cannot be merged into itself"), {"other": [N_("choose another donor")]}
            )
        self._merged(other=str(other), by=by)

    @event(MergedInto)
    def _merged(self, other: str, by: str) -> None:
        self.merged_into = other

    def unmerge(self, by: str) -> str:
        """Undo the merge; returns the id of the donor it had been merged into."""
        if self.erased:
            raise ConflictError("this donor was erased")
        if not self.merged_into:
            raise ConflictError("this donor is not merged into another")
        other = self.merged_into
        self._unmerged(other=other, by=by)
        return other

    @event(Unmerged)
    def _unmerged(self, other: str, by: str) -> None:
        self.merged_into = None

    def change_consent(self, privacy: bool, marketing: bool, how: str, on: date, by: str) -> None:
        self._require_active()
        check_text("how", how)
        check_date("on", on)
        if not how.strip():
            raise InvalidInputError(
                N_("say how the consent was given or withdrawn"),
                {"how": [N_("e.g. e-mail of 3 March, signed form")]},
            )
        self._consent_changed(privacy=privacy, marketing=marketing, how=how.strip(), on=on, by=by)

    @event(ConsentChanged)
    def _consent_changed(self, privacy: bool, marketing: bool, how: str, on: date, by: str) -> None:
        pass

    def erase(self, donations: list[str], reason: str, forced: bool, by: str) -> None:
        if self.erased:
            return
        if self.merged_into:
            raise ConflictError(
                N_("erase the donor this one was merged into (%(other)s)", other=self.merged_into)
            )
        check_text("reason", reason, multiline=True)
        if not reason.strip():
            raise InvalidInputError(N_("an erasure needs its reason"), {"reason": [N_("required")]})
        self._erased(donations=sorted(donations), reason=reason.strip(), forced=forced, by=by)

    @event(Erased)
    def _erased(self, donations: list[str], reason: str, forced: bool, by: str) -> None:
        self.erased = True
