"""What the registry says about one institution: where it is, its class, and the days it is open.

The opening calendar is the institution's weekly days (`open_weekdays`, ISO 1–7) with exceptions,
as GTFS calendar_dates: `childcare_calendar_dates.csv` rows for one institution or for every one
("*"), a holiday closed, a make-up working day open. Patrols, monthly inspections and drills are
judged only over open days: a closed day owes no patrol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from safecampus.connectors.registry import RegistryView
from safecampus.schemas.registry import ChildcareInstitution

LOOK_AHEAD_DAYS = 400  # an institution closed for longer than a year has no next open day


@dataclass(frozen=True)
class OpeningCalendar:
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    exceptions: dict[date, bool] = field(default_factory=dict)

    def is_open(self, day: date) -> bool:
        return self.exceptions.get(day, day.isoweekday() in self.weekdays)

    def open_on_or_after(self, day: date) -> date | None:
        for n in range(LOOK_AHEAD_DAYS):
            candidate = day + timedelta(days=n)
            if self.is_open(candidate):
                return candidate
        return None


@dataclass(frozen=True)
class InstitutionFacts:
    """The registry row of an institution (None when it is not registered), its district and calendar."""

    institution_id: str
    row: ChildcareInstitution | None
    calendar: OpeningCalendar

    @property
    def district(self) -> str | None:
        return self.row.district_id if self.row else None

    @classmethod
    def of(cls, institution_id: str, registry: RegistryView) -> InstitutionFacts:
        row = registry.institutions.get(institution_id)
        weekdays = frozenset(int(c) for c in (row.open_weekdays if row else "12345") if c in "1234567")
        exceptions = {**registry.childcare_dates.get("*", {}), **registry.childcare_dates.get(institution_id, {})}
        return cls(institution_id, row, OpeningCalendar(weekdays, exceptions))
