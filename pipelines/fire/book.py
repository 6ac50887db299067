"""One institution's inspections, and the life cycle of each finding as a pure function of them.

`InstitutionBook` holds every inspection of one institution by id (a form sent again with the same
id replaces the earlier one only when it is later, or the same time with other content: the same
choice in any arrival order). For each checklist item it keeps what each inspection said, and
`findings(code)` walks them in inspection-time order:

    fail              opens a finding (or carries the open one on: severity, photos, a deadline)
    rectified_at      the finding was rectified then (it may be reported on a later form)
    confirmed_by      a fire-safety manager (or the fire department, the education bureau) confirmed it
                      closed at `confirmed_at` (default: the form's time); a patrol's say-so does not close
    pass              a later inspection found the item compliant: the finding is closed
    na                says nothing

A finding opened and confirmed in the same form was fixed on the spot (`on_the_spot`). Because the
walk is over the set of inspections, sorted, the outcome never depends on the order forms arrived in.
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from safecampus.schemas.common import SEVERITIES, SHANGHAI, Severity
from safecampus.schemas.fire import FireFinding, FireInspection

CONFIRMERS = frozenset({"fire_safety_manager", "fire_department", "education_bureau"})
PATROL_KINDS = frozenset({"patrol", "monthly"})  # a monthly full inspection also walks the patrol round


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def worse(a: Severity, b: Severity) -> Severity:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


@dataclass(frozen=True, slots=True)
class Observation:
    """What one inspection said about one checklist item."""

    at: datetime
    inspection_id: str
    result: str
    finding: FireFinding | None


@dataclass
class Finding:
    """One finding's life so far: found, deadline, rectified, confirmed or found compliant (closed)."""

    item_code: str
    category: str
    severity: Severity
    opened_at: datetime
    opened_by: str
    major: bool = False
    area: str | None = None
    deadline: date | None = None
    photos: list[str] = field(default_factory=list)
    rectified_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    closed_at: datetime | None = None
    closed_how: str | None = None
    closed_by: str | None = None  # the inspection that closed it
    seen: int = 0

    @property
    def window(self) -> str:
        """What tells this finding from an earlier or later one on the same item (alert windows, ledger ids)."""
        return f"{self.item_code}@{self.opened_at.isoformat()}"

    def take(self, finding: FireFinding) -> None:
        self.seen += 1
        self.severity = worse(self.severity, finding.severity or self.severity)
        self.major = self.major or finding.major
        self.area = self.area or finding.area
        self.deadline = self.deadline or finding.deadline
        for photo in finding.photos:
            if photo not in self.photos and len(self.photos) < 20:
                self.photos.append(photo)
        if finding.rectified_at is not None and self.rectified_at is None:
            self.rectified_at = max(finding.rectified_at, self.opened_at)


class ItemWalk:
    """The findings of one item, walked over its observations in (time, inspection id) order."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.findings: list[Finding] = []
        self.current: Finding | None = None
        self.last: tuple[datetime, str] | None = None

    def step(self, obs: Observation) -> None:
        self.last = (obs.at, obs.inspection_id)
        current = self.current
        if obs.result == "na":
            return
        if obs.result == "pass":
            if current is not None:
                current.closed_at, current.closed_how, current.closed_by = obs.at, "compliant", obs.inspection_id
                self.current = None
            return
        finding = obs.finding or FireFinding(item_code=self.code)
        if current is None:
            current = Finding(
                self.code, finding.category or "other", finding.severity or "warning", obs.at, obs.inspection_id
            )
            self.findings.append(current)
            self.current = current
        current.take(finding)
        if finding.confirmed_by in CONFIRMERS:
            confirmed = max(finding.confirmed_at or obs.at, current.opened_at)
            current.confirmed_at, current.confirmed_by = confirmed, finding.confirmed_by
            current.rectified_at = current.rectified_at or confirmed
            current.closed_at, current.closed_by = confirmed, obs.inspection_id
            current.closed_how = "on_the_spot" if obs.inspection_id == current.opened_by else "confirmed"
            self.current = None


def life_cycle(code: str, observations: list[Observation]) -> list[Finding]:
    """The findings of one item, from its observations in (time, inspection id) order."""
    walk = ItemWalk(code)
    for obs in observations:
        walk.step(obs)
    return walk.findings


class InstitutionBook:
    """Every inspection of one institution, indexed by item, patrol day and kind."""

    def __init__(self, institution_id: str) -> None:
        self.institution_id = institution_id
        self.inspections: dict[str, FireInspection] = {}
        self.items: dict[str, list[Observation]] = {}
        self.patrols: Counter[date] = Counter()
        self.kind_days: dict[str, list[date]] = {}
        self._first: list[datetime] = []
        self._walks: dict[str, ItemWalk] = {}

    @property
    def first_at(self) -> datetime | None:
        return self._first[0] if self._first else None

    def add(self, inspection: FireInspection) -> set[str] | None:
        """Take one inspection; the item codes it touched, or None when it changes nothing (a repeat)."""
        old = self.inspections.get(inspection.inspection_id)
        if old is not None:
            if old == inspection or _rank(old) >= _rank(inspection):
                return None
            touched = self._remove(old)
        else:
            touched = set()
        self.inspections[inspection.inspection_id] = inspection
        insort(self._first, inspection.inspected_at)
        day = local_day(inspection.inspected_at)
        if inspection.kind in PATROL_KINDS:
            self.patrols[day] += 1
        insort(self.kind_days.setdefault(inspection.kind, []), day)
        for code in touched:  # an earlier version was replaced: walk those items again
            self._walks.pop(code, None)
        findings = {f.item_code: f for f in inspection.findings}
        at, inspection_id = inspection.inspected_at, inspection.inspection_id
        for item in inspection.checklist:
            code = item.item_code
            obs = Observation(at, inspection_id, item.result, findings.get(code))
            observations = self.items.setdefault(code, [])
            newest = not observations or (observations[-1].at, observations[-1].inspection_id) < (at, inspection_id)
            if newest:
                observations.append(obs)
            else:
                insort(observations, obs, key=lambda o: (o.at, o.inspection_id))
            walk = self._walks.get(code)
            if walk is not None and newest:
                walk.step(obs)  # the usual case: the newest form of the item, one more step
            else:
                self._walks.pop(code, None)  # a late form: walk the item again from its first form
            touched.add(code)
        return touched

    def _remove(self, old: FireInspection) -> set[str]:
        self._first.remove(old.inspected_at)
        day = local_day(old.inspected_at)
        if old.kind in PATROL_KINDS:
            self.patrols[day] -= 1
        self.kind_days[old.kind].remove(day)
        codes = {item.item_code for item in old.checklist}
        for code in codes:
            self.items[code] = [o for o in self.items[code] if o.inspection_id != old.inspection_id]
        return codes

    def findings(self, code: str) -> list[Finding]:
        walk = self._walks.get(code)
        if walk is None:
            walk = self._walks[code] = ItemWalk(code)
            for obs in self.items.get(code, []):
                walk.step(obs)
        return walk.findings

    def all_findings(self) -> list[Finding]:
        return [f for code in sorted(self.items) for f in self.findings(code)]

    def latest_result(self, code: str) -> str | None:
        """The last pass or fail said about an item (not applicable says nothing)."""
        for obs in reversed(self.items.get(code, [])):
            if obs.result != "na":
                return obs.result
        return None

    def days_of(self, kind: str) -> list[date]:
        return self.kind_days.get(kind, [])


def _rank(inspection: FireInspection) -> tuple[datetime, str]:
    return inspection.inspected_at, inspection.model_dump_json()
