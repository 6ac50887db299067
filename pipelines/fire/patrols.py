"""Missing twice-daily fire patrols, judged per open day on the event-time clock.

Childcare fire-safety standard ch. 6: at least `patrols_per_day` patrols a day (a monthly full
inspection counts as one). A day is judged `patrol_grace_h` after its local midnight; a day the
institution is closed (its opening calendar) owes none. Days are judged from the first day the
institution's forms show. A late form that brings a day up to the count resolves its alert.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from safecampus.pipelines.fire.board import fire_alert
from safecampus.pipelines.fire.book import InstitutionBook, local_day
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI

DAY = timedelta(days=1)


class MissingPatrols:
    def __init__(self, per_day: int, grace_h: float) -> None:
        self.per_day, self.grace = per_day, timedelta(hours=grace_h)

    def judged_at(self, day: date) -> datetime:
        return datetime.combine(day + DAY, time(0), SHANGHAI) + self.grace

    def last_judged_day(self, clock: datetime) -> date:
        """The last day whose patrols can be judged at `clock`."""
        day = local_day(clock - self.grace) - DAY
        return day

    def alerts(self, facts: InstitutionFacts, book: InstitutionBook, day: date, clock: datetime) -> list[Alert]:
        if facts.row is None or not facts.calendar.is_open(day) or self.judged_at(day) > clock:
            return []
        done = book.patrols.get(day, 0)
        deadline = self.judged_at(day)
        ok = done >= self.per_day
        detail = f"{day.isoformat()} 开放日应防火巡查 {self.per_day} 次，实有 {done} 次"
        return [
            fire_alert(
                facts,
                rule="fire.patrol_missing",
                window=day.isoformat(),
                severity="warning",
                occurred_at=deadline,
                detected_at=deadline,
                title="防火巡查次数不足",
                detail=detail + ("；补报后已达标" if ok else ""),
                summary={"kind": "patrols", "day": day.isoformat(), "patrols": done, "required": self.per_day},
                resolved=ok,
            )
        ]
