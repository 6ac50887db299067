"""Detection for one childcare institution: its book of inspections, the rules, the event-time clock.

`FireDetector` is the `Detector` of one institution (the pipeline's subject). Each form goes into
the book (book.py); the rules then say what the alerts of what it touched should be now, and the
board (board.py) emits what changed. Time is event time: the clock is the latest inspection time
seen, or what `expire(now)` says; deadlines (a deadline day passing, another day overdue, an
unconfirmed rectification, a day's patrols, a monthly inspection or a drill coming due) fire when
the clock passes them, and `next_deadline` tells the streaming runner when that is.

The rules, one module each, with their slice of `FireRules`:
    findings.py     the finding by category (location critical, e-bike high, video warning), area closed
    remediation.py  overdue past the deadline, escalating daily; rectified but unconfirmed
    patrols.py      fewer than two patrols on an open day
    intervals.py    the monthly full inspection and the drill, due at an interval over open days
    structural.py   the registry's location check, and an institution the registry does not know
Every alert is a function of the inspections and the clock, not of the order forms arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from safecampus.config import FireRules
from safecampus.connectors.fire.checklist import Checklist
from safecampus.pipelines.domain import Detector
from safecampus.pipelines.fire.board import AlertBoard, Group
from safecampus.pipelines.fire.book import InstitutionBook, local_day
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.pipelines.fire.findings import AreaClosed, FindingAlert
from safecampus.pipelines.fire.intervals import Drills, IntervalRule, MonthlyInspections
from safecampus.pipelines.fire.ledger import institution_ledger
from safecampus.pipelines.fire.patrols import MissingPatrols
from safecampus.pipelines.fire.remediation import Overdue, Unconfirmed
from safecampus.pipelines.fire.structural import Structural, UnknownInstitution
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.fire import FireInspection

DAY = timedelta(days=1)
MAX_STEPS = 5000  # deadlines one advance fires one by one: years of days


class FireDetector(Detector[FireInspection]):
    """Detection state of one institution. Example: `FirePipeline(settings, view).new_detector("T001")`."""

    def __init__(self, facts: InstitutionFacts, rules: FireRules, checklist: Checklist) -> None:
        self.facts, self.rules, self.checklist = facts, rules, checklist
        self.book = InstitutionBook(facts.institution_id)
        self.board = AlertBoard()
        self.clock: datetime | None = None
        self.finding_rules = (FindingAlert(), AreaClosed())
        self.overdue, self.unconfirmed = Overdue(), Unconfirmed(rules.unconfirmed_after_h)
        self.patrols = MissingPatrols(rules.patrols_per_day, rules.patrol_grace_h)
        self.intervals: dict[str, IntervalRule] = {
            "monthly": MonthlyInspections(rules.full_inspection_days, rules.patrol_grace_h),
            "drill": Drills(rules.drill_interval_days_key_unit, rules.drill_interval_days_other, rules.patrol_grace_h),
        }
        self.structural, self.unknown = Structural(rules.max_floor), UnknownInstitution()
        self.due: dict[Group, datetime] = {}  # group → when it next changes on the clock alone
        self.patrols_through: date | None = None  # the last day whose patrols were judged
        self._changed = False

    # -- the Detector interface -------------------------------------------------------------

    def observe(self, event: FireInspection) -> list[Alert]:
        alerts: list[Alert] = []
        if self.clock is not None and event.inspected_at > self.clock:
            alerts = self._advance(event.inspected_at, strict=True)  # deadlines before this form fire first
        before = self.book.first_at
        touched = self.book.add(event)
        if touched is None:
            return alerts  # the same form again (or an older version of it): nothing new
        self._changed = True
        self.clock = event.inspected_at if self.clock is None else max(self.clock, event.inspected_at)
        groups: set[Group] = {("item", code) for code in touched}
        if event.kind in self.intervals:
            groups.add(("interval", event.kind))
        day = local_day(event.inspected_at)
        if self.patrols_through is not None and day <= self.patrols_through:
            groups.add(("patrol", day))  # a late form for a day already judged
        if before is None or event.inspected_at < before:  # the first form, or a late one earlier than it
            groups |= {("registry",), *(("interval", kind) for kind in self.intervals)}
            if before is not None and self.patrols_through is not None:
                earlier = day
                while earlier < local_day(before) and earlier <= self.patrols_through:
                    groups.add(("patrol", earlier))  # days before the old first day are judged now too
                    earlier += DAY
        return alerts + self._run(groups)

    def expire(self, now: datetime) -> list[Alert]:
        if self.clock is None:
            return []
        return self._advance(now, strict=False)

    def next_deadline(self) -> datetime | None:
        if self.clock is None:
            return None
        dues = list(self.due.values())
        if self.facts.row is not None:
            dues.append(self.patrols.judged_at(self._next_patrol_day()))
        return min(dues) if dues else None

    def restore(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            group = group_of(alert)
            if group is not None:
                self.board.restore(group, alert)

    def take_records(self) -> list[Record]:
        """The institution's ledger as of the clock, when something changed since the last call."""
        if not self._changed or self.clock is None:
            return []
        self._changed = False
        return [institution_ledger(self.facts, self.book, self.checklist, self.clock, self.rules.max_floor)]

    # -- evaluation -----------------------------------------------------------------------------

    def _next_patrol_day(self) -> date:
        first = self.book.first_at
        assert first is not None
        return local_day(first) if self.patrols_through is None else self.patrols_through + DAY

    def _advance(self, target: datetime, strict: bool) -> list[Alert]:
        """Move the clock to `target` deadline by deadline, as timers would: a silent weekend still
        escalates an overdue finding once per day. `strict`: deadlines at `target` wait."""
        alerts: list[Alert] = []
        for _ in range(MAX_STEPS):
            step = self.next_deadline()
            clock = self.clock
            if step is None or clock is None or step > target or (strict and step == target) or step <= clock:
                break
            self.clock = step
            alerts += self._run(set())
        if self.clock is not None and target > self.clock:
            self.clock = target
        return alerts + self._run(set(), strict)

    def _run(self, groups: set[Group], strict: bool = False) -> list[Alert]:
        """Evaluate `groups` and every group due by the clock (before it, when `strict`)."""
        clock = self.clock
        assert clock is not None
        groups |= {group for group, at in self.due.items() if at < clock or (at == clock and not strict)}
        if self.facts.row is not None and self.book.first_at is not None:
            last = self.patrols.last_judged_day(clock)
            day = self._next_patrol_day()
            while day <= last:
                groups.add(("patrol", day))
                self.patrols_through = day
                day += DAY
        alerts: list[Alert] = []
        for group in sorted(groups, key=repr):
            self.due.pop(group, None)
            alerts.extend(self.board.offer(group, self._evaluate(group, clock)))
        if alerts:
            self._changed = True
        return alerts

    def _evaluate(self, group: Group, clock: datetime) -> list[Alert]:
        kind = group[0]
        if kind == "item":
            return self._item(str(group[1]), clock)
        if kind == "patrol":
            day = group[1]
            assert isinstance(day, date)
            return self.patrols.alerts(self.facts, self.book, day, clock)
        if kind == "interval":
            alerts, due = self.intervals[str(group[1])].evaluate(self.facts, self.book, clock)
            if due is not None:
                self.due[group] = due
            return alerts
        return [*self.structural.alerts(self.facts, self.book), *self.unknown.alerts(self.facts, self.book)]

    def _item(self, code: str, clock: datetime) -> list[Alert]:
        name = self.checklist.name_of(code)
        alerts: list[Alert] = []
        dues: list[datetime] = []
        for finding in self.book.findings(code):
            for rule in self.finding_rules:
                alerts.extend(rule.alerts(self.facts, finding, name, clock))
            for timed in (self.overdue, self.unconfirmed):
                alerts.extend(timed.alerts(self.facts, finding, name, clock))
                due = timed.next_due(finding, clock)
                if due is not None:
                    dues.append(due)
        if dues:
            self.due[("item", code)] = min(dues)
        return alerts


ITEM_KINDS = frozenset({"finding", "area_closed", "overdue", "unconfirmed"})


def group_of(alert: Alert) -> Group | None:
    """The board group a stored fire alert belongs to, from its summary (the first evidence item)."""
    summary = alert.evidence[0] if alert.evidence else {}
    kind = summary.get("kind")
    if kind in ITEM_KINDS and summary.get("item_code"):
        return ("item", str(summary["item_code"]))
    if kind == "patrols" and summary.get("day"):
        return ("patrol", date.fromisoformat(str(summary["day"])))
    if kind in ("monthly", "drill"):
        return ("interval", str(kind))
    if kind in ("registry_check", "unknown_institution"):
        return ("registry",)
    return None
