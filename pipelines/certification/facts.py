"""The scorecard's inputs for a period, read from what the domains already put in the store.

KPI records whose window overlaps the period (`KpiRow`, labels read back from the natural key), the
registry, and the plan's alarm-test records. A figure the registry decides (4个100%, devices, police
linkage) or an institution's checklist compliance is taken from the newest window; counts (stop
visits, distance, overspeed) are summed over every window; a canteen's months are each their own window.

| measure | from |
|---|---|
| four_100.* | KPI `security_four_100_met{school, indicator}` |
| security.police_linkage | KPIs `security_police_linked_devices` / `security_police_linkable_devices` by school |
| security.device_uptime | KPIs `security_devices_reporting` / `security_devices` by school |
| alarm.tested_months, alarm.arrival_minutes | alarm-test progress records (`AlarmTestRow`) |
| canteen.disclosure, canteen.surplus_rate | KPIs `canteen_disclosure_published`, `canteen_surplus_rate` |
| bus.on_time, bus.overspeed_per_100km | KPIs `bus_stop_visits[_on_time]`, `bus_overspeed_events`, `bus_distance_km` |
| fire.compliance | KPIs `fire_items_compliant` / `fire_items_applicable` by institution |
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen.calendar_checks import disclosure_deadline
from safecampus.pipelines.certification.scorecard import Facts
from safecampus.schemas.progress import AlarmTestRow
from safecampus.schemas.store import KpiRow

LABEL = re.compile(r'(\w+)="([^"]*)"')
LATEST = {
    "security_four_100_met",
    "security_police_linked_devices",
    "security_police_linkable_devices",
    "security_devices_reporting",
    "security_devices",
    "fire_items_compliant",
    "fire_items_applicable",
}
SUMMED = {
    "bus_stop_visits",
    "bus_stop_visits_on_time",
    "bus_overspeed_events",
    "bus_distance_km",
    "bus_terminals_reporting",
}
MONTHLY = {"canteen_disclosure_published", "canteen_surplus_rate"}


@dataclass(frozen=True)
class KpiValue:
    metric: str
    labels: dict[str, str]
    value: float
    window_start: datetime
    window_end: datetime


def labels_of(key: str) -> dict[str, str]:
    """The labels of a KPI's natural key `metric{a="x",b="y"}`."""
    return dict(LABEL.findall(key.partition("{")[2]))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stored_kpis(
    engine: Engine, metrics: Iterable[str], since: datetime | None, until: datetime | None
) -> list[KpiValue]:
    """The KPI records of these metrics whose window overlaps [since, until)."""
    with Session(engine) as session:
        rows = session.exec(select(KpiRow).where(col(KpiRow.metric).in_(list(metrics)))).all()
    found = []
    for row in rows:
        start, end = _aware(row.window_start), _aware(row.window_end)
        if (until is not None and start >= until) or (since is not None and end < since):
            continue
        found.append(KpiValue(row.metric, labels_of(row.key), row.value, start, end))
    return found


def chosen(values: list[KpiValue]) -> list[KpiValue]:
    """Per metric: the newest window of a state figure, every window of a count or a month."""
    newest: dict[str, datetime] = {}
    for v in values:
        if v.metric in LATEST:
            newest[v.metric] = max(newest.get(v.metric, v.window_start), v.window_start)
    return [v for v in values if v.metric not in LATEST or v.window_start == newest[v.metric]]


def disclosure_state(month: str, published: float, now: datetime, day_of_month: int = 15) -> bool | None:
    """A canteen month published (True), unpublished past its deadline (False) or not yet due (None)."""
    if published >= 1.0:
        return True
    return False if now >= disclosure_deadline(month, day_of_month) else None


def gather(
    engine: Engine,
    registry: RegistryView,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    disclosure_day: int = 15,
) -> Facts:
    """Every measure of the scorecard for the period (None: unbounded); `now` judges which canteen months
    were due (default: the period's end, else the clock)."""
    facts = Facts(
        districts={d.district_id: d.name for d in registry.districts.values()},
        schools={s.school_id: s.district_id for s in registry.schools.values()},
        since=since,
        until=until,
    )
    kpis = chosen(stored_kpis(engine, LATEST | SUMMED | MONTHLY, since, until))
    _security(facts, kpis)
    _canteen(facts, kpis, registry, until or now or datetime.now(UTC), disclosure_day)
    _bus(facts, kpis, registry)
    _fire(facts, kpis, registry)
    _alarm_tests(facts, engine, since, until)
    return facts


def _per(kpis: list[KpiValue], metric: str, by: str, only: set[str] | None = None) -> dict[str, float]:
    """Sum of a metric's values by one label (records with exactly the labels `only`, when given)."""
    out: dict[str, float] = defaultdict(float)
    for v in kpis:
        if v.metric == metric and by in v.labels and (only is None or set(v.labels) == only):
            out[v.labels[by]] += v.value
    return out


def _ratio(num: dict[str, float], den: dict[str, float]) -> dict[str, float]:
    return {k: num.get(k, 0.0) / d for k, d in den.items() if d > 0}


def _security(facts: Facts, kpis: list[KpiValue]) -> None:
    for v in kpis:
        if v.metric == "security_four_100_met" and "school" in v.labels and "indicator" in v.labels:
            facts.school.setdefault(f"four_100.{v.labels['indicator']}", {})[v.labels["school"]] = v.value
    linked = _per(kpis, "security_police_linked_devices", "school")
    facts.school["security.police_linkage"] = _ratio(linked, _per(kpis, "security_police_linkable_devices", "school"))
    reporting = _per(kpis, "security_devices_reporting", "school")
    facts.school["security.device_uptime"] = _ratio(reporting, _per(kpis, "security_devices", "school"))


def _canteen(facts: Facts, kpis: list[KpiValue], registry: RegistryView, now: datetime, day: int) -> None:
    school_of = {c.canteen_id: c.school_id for c in registry.canteens.values()}
    months: dict[str, list[float]] = defaultdict(list)
    surplus: dict[str, float] = {}
    for v in kpis:
        school = school_of.get(v.labels.get("canteen", ""))
        if school is None:
            continue
        if v.metric == "canteen_disclosure_published":
            state = disclosure_state(v.labels.get("month", ""), v.value, now, day)
            if state is not None:  # a month not yet due is neither published nor late
                months[school].append(1.0 if state else 0.0)
        elif v.metric == "canteen_surplus_rate":
            surplus[school] = max(surplus.get(school, v.value), v.value)  # the worst month counts
    facts.school["canteen.disclosure"] = {s: sum(m) / len(m) for s, m in months.items() if m}
    facts.school["canteen.surplus_rate"] = surplus


def _bus(facts: Facts, kpis: list[KpiValue], registry: RegistryView) -> None:
    routes: dict[str, set[str]] = defaultdict(set)  # school → the routes its buses run
    for bus in registry.buses_by_terminal.values():
        if bus.school_id and bus.route_id:
            routes[bus.school_id].add(bus.route_id)
    visits = _per(kpis, "bus_stop_visits", "route", {"route"})
    on_time = _per(kpis, "bus_stop_visits_on_time", "route", {"route"})
    overspeed = _per(kpis, "bus_overspeed_events", "route", {"route"})
    km = _per(kpis, "bus_distance_km", "route", {"route"})
    punctual, safety = {}, {}
    for school, served in routes.items():
        seen = sum(visits.get(r, 0.0) for r in served)
        if seen > 0:
            punctual[school] = sum(on_time.get(r, 0.0) for r in served) / seen
        driven = sum(km.get(r, 0.0) for r in served)
        if driven > 0:
            safety[school] = 100 * sum(overspeed.get(r, 0.0) for r in served) / driven
    facts.school["bus.on_time"] = punctual
    facts.school["bus.overspeed_per_100km"] = safety


def _fire(facts: Facts, kpis: list[KpiValue], registry: RegistryView) -> None:
    compliant = _per(kpis, "fire_items_compliant", "institution")
    applicable = _per(kpis, "fire_items_applicable", "institution")
    facts.subjects["fire.compliance"] = _ratio(compliant, applicable)
    facts.subject_district = {i.institution_id: i.district_id for i in registry.institutions.values()}
    pooled: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for institution, total in applicable.items():
        district = facts.subject_district.get(institution)
        for place in (district, None):
            pooled[place or ""][0] += compliant.get(institution, 0.0)
            pooled[place or ""][1] += total
    facts.district["fire.compliance"] = {d: c / a for d, (c, a) in pooled.items() if d and a > 0}
    city = pooled.get("")
    if city and city[1] > 0:
        facts.city["fire.compliance"] = city[0] / city[1]


def months_between(first: date, last: date) -> list[str]:
    out, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _alarm_tests(facts: Facts, engine: Engine, since: datetime | None, until: datetime | None) -> None:
    with Session(engine) as session:
        tests = session.exec(select(AlarmTestRow)).all()
    tests = [
        t for t in tests
        if (since is None or t.tested_on >= since.date()) and (until is None or t.tested_on < until.date())
    ]  # fmt: skip
    if not tests:
        return  # no alarm-test records at all: the indicators have no data, they do not fail
    first = since.date() if since else min(t.tested_on for t in tests)
    last = until.date() if until else max(t.tested_on for t in tests)
    months = months_between(first, last)
    tested: dict[str, set[str]] = defaultdict(set)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for t in tests:
        if t.received:
            tested[t.school_id].add(f"{t.tested_on:%Y-%m}")
        if t.arrival_minutes is not None:
            arrivals[t.school_id].append(t.arrival_minutes)
    facts.school["alarm.tested_months"] = {s: len(tested[s] & set(months)) / len(months) for s in facts.schools}
    facts.school["alarm.arrival_minutes"] = {s: sum(a) / len(a) for s, a in arrivals.items()}
