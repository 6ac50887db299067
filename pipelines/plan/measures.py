"""What counts toward each target, from the domains and the progress records (docs/plan.md).

| measure | items | done when | from |
|---|---|---|---|
| milestones | projects of a kind | the `done_stage` reached | progress records: milestones |
| first_aiders | teachers (salted hashes) | a certificate valid on the day | progress records: certificates |
| routes_in_service | GTFS routes | a bus on it reported in the period | registry GTFS + KPI `bus_terminals_reporting` |
| bus_compliance | buses, and unregistered terminals seen | a licensed operator, registered | registry, alerts |
| canteen_disclosure | canteens with months in the period | every month published | KPI `canteen_disclosure_published` |
| canteen_subsidy | canteens with months in the period | no subsidy_missing / subsidy_short alert | canteen alerts |
| childcare_fire | childcare institutions inspected | every checklist item compliant | KPIs `fire_items_*` |
| certified_counties | counties | the scorecard passes | `pipelines/certification` |
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.certification.facts import chosen, disclosure_state, stored_kpis
from safecampus.pipelines.certification.scorecard import Certification
from safecampus.pipelines.plan.progress import Item, TargetStatus, overdue_state, target_status
from safecampus.pipelines.plan.targets import Plan, Target
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.progress import STAGE_NAMES, STAGES, FirstAidCertificateRow, MilestoneRow
from safecampus.schemas.store import AlertRow

SUBSIDY_RULES = ("canteen.subsidy_missing", "canteen.subsidy_short")
BUS_RULES = ("bus.unregistered", "bus.operator_licence_expired")


@dataclass(frozen=True)
class Sources:
    """Where the measures read from, and the period of the domains' figures."""

    engine: Engine
    registry: RegistryView
    as_of: date
    certification: Certification | None = None
    since: datetime | None = None
    until: datetime | None = None
    disclosure_day: int = 15  # [canteen] disclosure_day_of_month


def programme(plan: Plan, sources: Sources, district: str | None = None) -> list[TargetStatus]:
    """Every target's status on `sources.as_of` (items of one county only, when `district` is given)."""
    out = []
    for target in plan.targets:
        items, note = MEASURES[target.measure](target, sources)
        if district is not None:
            items = [i for i in items if i.district == district]
            target = target.model_copy(update={"number": _county_number(target, district, len(items))})
        out.append(target_status(target, items, plan, sources.as_of, note))
    return out


def _county_number(target: Target, district: str, items: int) -> float:
    """A county's number: the share itself, its quota, else its own items (the county's routes, itself)."""
    if target.percent:
        return target.number
    return target.quota.get(district, max(1, items))


def milestones(target: Target, s: Sources) -> tuple[list[Item], str]:
    with Session(s.engine) as session:
        rows = session.exec(select(MilestoneRow).where(MilestoneRow.kind == target.kind)).all()
    by_project: dict[str, list[MilestoneRow]] = defaultdict(list)
    for row in rows:
        if row.reached_on <= s.as_of:
            by_project[row.project_id].append(row)
    need = STAGES.index(target.done_stage)
    items = []
    for project, reached in sorted(by_project.items()):
        top = max(reached, key=lambda r: STAGES.index(r.stage))
        due = max((r.due_on for r in reached if r.due_on), default=target.deadline)
        at_stage = STAGE_NAMES[top.stage]
        if STAGES.index(top.stage) >= need:
            done_on = min(r.reached_on for r in reached if STAGES.index(r.stage) >= need)
            items.append(Item(project, top.district_id, "done", f"{done_on} {STAGE_NAMES[target.done_stage]}", done_on))
            continue
        state = overdue_state(s.as_of, due)
        note = f"计划 {due} {STAGE_NAMES[target.done_stage]}，现为{at_stage}（{top.reached_on}）"
        items.append(Item(project, top.district_id, state, note))
    return items, "" if rows else "无进度记录 no milestone records"


def first_aiders(target: Target, s: Sources) -> tuple[list[Item], str]:
    with Session(s.engine) as session:
        rows = session.exec(select(FirstAidCertificateRow)).all()
    by_teacher: dict[str, list[FirstAidCertificateRow]] = defaultdict(list)
    for row in rows:
        if row.issued_on <= s.as_of:
            by_teacher[row.teacher_hash].append(row)
    items = []
    for teacher, certs in sorted(by_teacher.items()):
        valid = [c for c in certs if c.issued_on <= s.as_of < c.expires_on]
        latest = max(certs, key=lambda c: c.issued_on)
        label = f"{latest.school_id} 教师 {teacher[:8]}"
        if valid:
            first = min(c.issued_on for c in valid)
            items.append(Item(label, latest.district_id, "done", f"有效期至 {max(c.expires_on for c in valid)}", first))
        else:
            items.append(Item(label, latest.district_id, "late", f"证书已于 {latest.expires_on} 过期，需复训"))
    return items, "" if rows else "无证书记录 no certificate records"


def routes_in_service(target: Target, s: Sources) -> tuple[list[Item], str]:
    kpis = stored_kpis(s.engine, ["bus_terminals_reporting"], s.since, s.until)
    served = {v.labels.get("route") for v in kpis if v.value > 0}
    district_of = {}
    for bus in s.registry.buses_by_terminal.values():
        if bus.route_id and bus.route_id not in district_of:
            district_of[bus.route_id] = s.registry.district_of_school(bus.school_id)
    items = []
    for route in sorted(s.registry.routes):
        name = s.registry.routes[route].route_short_name or route
        if route in served:
            items.append(Item(route, district_of.get(route), "done", f"{name} 在营"))
        else:
            state = overdue_state(s.as_of, target.deadline)
            items.append(Item(route, district_of.get(route), state, f"{name} 已登记，本期无校车运行数据"))
    return items, "" if kpis else "本期无校车数据 no bus figures in the period"


def _alerts(s: Sources, rules: tuple[str, ...]) -> list[AlertRow]:
    with Session(s.engine) as session:
        rows = session.exec(select(AlertRow).where(col(AlertRow.rule).in_(rules))).all()
    out = []
    for row in rows:
        at = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=UTC)
        if (s.since is None or at >= s.since) and (s.until is None or at < s.until):
            out.append(row)
    return out


def bus_compliance(target: Target, s: Sources) -> tuple[list[Item], str]:
    items = []
    for bus in sorted(s.registry.buses_by_terminal.values(), key=lambda b: b.bus_id):
        operator = s.registry.operators.get(bus.operator_id)
        district = s.registry.district_of_school(bus.school_id)
        if operator is not None and operator.licence_expires_on >= s.as_of:
            items.append(Item(bus.plate, district, "done", f"{operator.name} 许可至 {operator.licence_expires_on}"))
        else:
            why = (
                "运营企业不在登记册"
                if operator is None
                else f"{operator.name} 许可已于 {operator.licence_expires_on} 到期"
            )
            items.append(Item(bus.plate, district, overdue_state(s.as_of, target.deadline), why))
    unregistered = {a.subject: a for a in _alerts(s, ("bus.unregistered",))}
    for terminal, alert in sorted(unregistered.items()):
        items.append(Item(f"终端 {terminal}", alert.district, "late", "未登记车载终端（疑似挂靠）"))
    return items, ""


def _canteen_months(s: Sources) -> dict[str, list[tuple[str, bool]]]:
    """Per canteen, its months in the period that were due (published or late); a month not yet due is left out."""
    kpis = chosen(stored_kpis(s.engine, ["canteen_disclosure_published"], s.since, s.until))
    now = s.until or datetime.combine(s.as_of, time(23, 59, 59), SHANGHAI)
    months: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for v in kpis:
        if "canteen" in v.labels:
            state = disclosure_state(v.labels.get("month", ""), v.value, now, s.disclosure_day)
            if state is not None:
                months[v.labels["canteen"]].append((v.labels.get("month", ""), state))
    return months


def _canteen_district(s: Sources, canteen: str) -> str | None:
    row = s.registry.canteens.get(canteen)
    return s.registry.district_of_school(row.school_id) if row else None


def canteen_disclosure(target: Target, s: Sources) -> tuple[list[Item], str]:
    items = []
    for canteen, months in sorted(_canteen_months(s).items()):
        unpublished = sorted(m for m, published in months if not published)
        district = _canteen_district(s, canteen)
        if unpublished:
            state = overdue_state(s.as_of, target.deadline)
            items.append(Item(canteen, district, state, f"{'、'.join(unpublished)} 未公示"))
        else:
            items.append(Item(canteen, district, "done", f"{len(months)} 个月均已公示"))
    return items, "" if items else "本期无食堂数据 no canteen figures in the period"


def canteen_subsidy(target: Target, s: Sources) -> tuple[list[Item], str]:
    flagged: dict[str, list[str]] = defaultdict(list)
    for alert in _alerts(s, SUBSIDY_RULES):
        flagged[alert.subject].append("未到账" if alert.rule.endswith("missing") else "到账不足")
    items = []
    for canteen in sorted(_canteen_months(s)):
        row = s.registry.canteens.get(canteen)
        if row is None or row.granted_subsidy_cny <= 0:
            continue
        district = _canteen_district(s, canteen)
        if canteen in flagged:
            note = f"财政补助{'、'.join(sorted(set(flagged[canteen])))}"
            items.append(Item(canteen, district, overdue_state(s.as_of, target.deadline), note))
        else:
            items.append(Item(canteen, district, "done", f"核定 {row.granted_subsidy_cny:,.0f} 元/月 已到位"))
    return items, "" if items else "本期无食堂数据 no canteen figures in the period"


def childcare_fire(target: Target, s: Sources) -> tuple[list[Item], str]:
    kpis = chosen(stored_kpis(s.engine, ["fire_items_compliant", "fire_items_applicable"], s.since, s.until))
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for v in kpis:
        if "institution" in v.labels:
            totals[v.labels["institution"]][0 if v.metric == "fire_items_compliant" else 1] += v.value
    items = []
    for institution, (compliant, applicable) in sorted(totals.items()):
        row = s.registry.institutions.get(institution)
        district = row.district_id if row else None
        if applicable > 0 and compliant >= applicable:
            items.append(Item(institution, district, "done", "检查项全部合规"))
        else:
            gap = int(applicable - compliant)
            items.append(Item(institution, district, overdue_state(s.as_of, target.deadline), f"{gap} 项不合规"))
    return items, "" if items else "本期无消防检查数据 no inspections in the period"


def certified_counties(target: Target, s: Sources) -> tuple[list[Item], str]:
    if s.certification is None:
        return [], "未计算评分 no scorecard"
    items = []
    for county in s.certification.counties:
        if county.passed:
            items.append(Item(county.name, county.id, "done", f"得分 {county.score:.1f}"))
        else:
            lacking = "、".join(r.indicator.name for r in county.missing) or "得分未达标"
            note = f"得分 {county.score:.1f}，欠缺：{lacking}"
            items.append(Item(county.name, county.id, overdue_state(s.as_of, target.deadline), note))
    return items, ""


MEASURES = {
    "milestones": milestones,
    "first_aiders": first_aiders,
    "routes_in_service": routes_in_service,
    "bus_compliance": bus_compliance,
    "canteen_disclosure": canteen_disclosure,
    "canteen_subsidy": canteen_subsidy,
    "childcare_fire": childcare_fire,
    "certified_counties": certified_counties,
}
