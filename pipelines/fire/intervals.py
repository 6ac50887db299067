"""Inspections due at an interval: the monthly full inspection and the fire drill.

Childcare fire-safety standard ch. 6: a full inspection (kind `monthly`) at least every
`full_inspection_days` days → `fire.monthly_inspection_missing`, high. MPS Order 61: a drill every
`drill_interval_days_key_unit` days in a fire-safety key unit, `drill_interval_days_other` in others
→ `fire.drill_overdue`, warning. The chain starts at the last one the registry knew of
(`last_full_inspection_on`, `last_drill_on`), else at the first day the forms show; each is due that
many days after the one before, on the first open day from then (a closed day moves it), and judged
at the end of that day. One alert per missed due date; the next one done resolves them.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta

from safecampus.pipelines.fire.board import fire_alert
from safecampus.pipelines.fire.book import InstitutionBook, local_day
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, Severity

DAY = timedelta(days=1)
MAX_MISSED = 24  # alerts per chain link: two years of missed months


class IntervalRule:
    def __init__(self, kind: str, rule: str, severity: Severity, title: str, grace_h: float) -> None:
        self.kind, self.rule, self.severity, self.title = kind, rule, severity, title
        self.grace = timedelta(hours=grace_h)

    def interval(self, facts: InstitutionFacts) -> int:
        raise NotImplementedError

    def known(self, facts: InstitutionFacts) -> date | None:
        raise NotImplementedError

    def _judged_at(self, day: date) -> datetime:
        return datetime.combine(day + DAY, time(0), SHANGHAI) + self.grace

    def _due(self, facts: InstitutionFacts, after: date) -> date | None:
        return facts.calendar.open_on_or_after(after + timedelta(days=self.interval(facts)))

    def evaluate(
        self, facts: InstitutionFacts, book: InstitutionBook, clock: datetime
    ) -> tuple[list[Alert], datetime | None]:
        """The chain's alerts at `clock`, and when it next has something to say."""
        if facts.row is None or book.first_at is None:
            return [], None
        done = book.days_of(self.kind)
        start = self.known(facts) or local_day(book.first_at)
        alerts: list[Alert] = []
        previous = start
        while True:
            due = self._due(facts, previous)
            if due is None:
                return alerts, None
            at = bisect_right(done, previous)
            following = done[at] if at < len(done) else None
            if following is not None and following <= due:
                previous = following
                continue
            judged = self._judged_at(due)
            if judged > clock:
                return alerts, judged
            alerts.append(self._alert(facts, due, judged, previous, following, book))
            if len(alerts) >= MAX_MISSED:
                return alerts, None
            previous = due

    def _alert(
        self,
        facts: InstitutionFacts,
        due: date,
        judged: datetime,
        previous: date,
        following: date | None,
        book: InstitutionBook,
    ) -> Alert:
        detail = f"上次 {previous.isoformat()}，应于 {due.isoformat()} 前完成，逾期未做"
        resolved_at = None
        if following is not None:
            day = [
                i for i in book.inspections.values() if i.kind == self.kind and local_day(i.inspected_at) == following
            ]
            resolved_at = min(i.inspected_at for i in day) if day else judged
            detail = f"上次 {previous.isoformat()}，应于 {due.isoformat()} 前完成，{following.isoformat()} 补做"
        return fire_alert(
            facts,
            rule=self.rule,
            window=due.isoformat(),
            severity=self.severity,
            occurred_at=judged,
            detected_at=resolved_at or judged,
            title=self.title,
            detail=detail,
            summary={"kind": self.kind, "due": due.isoformat(), "previous": previous.isoformat()},
            resolved=following is not None,
        )


class MonthlyInspections(IntervalRule):
    def __init__(self, days: int, grace_h: float) -> None:
        super().__init__("monthly", "fire.monthly_inspection_missing", "high", "月度防火检查缺失", grace_h)
        self.days = days

    def interval(self, facts: InstitutionFacts) -> int:
        return self.days

    def known(self, facts: InstitutionFacts) -> date | None:
        return facts.row.last_full_inspection_on if facts.row else None


class Drills(IntervalRule):
    def __init__(self, key_unit_days: int, other_days: int, grace_h: float) -> None:
        super().__init__("drill", "fire.drill_overdue", "warning", "消防演练逾期", grace_h)
        self.key_unit_days, self.other_days = key_unit_days, other_days

    def interval(self, facts: InstitutionFacts) -> int:
        return self.key_unit_days if facts.row is not None and facts.row.key_unit else self.other_days

    def known(self, facts: InstitutionFacts) -> date | None:
        return facts.row.last_drill_on if facts.row else None
