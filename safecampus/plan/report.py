"""The bureau's two reports from the store: the certification scorecard and the plan's progress.

cert = build_certification("sqlite:///out/safecampus.db", Settings())
plan = build_plan("sqlite:///out/safecampus.db", Settings(), as_of=date(2026, 9, 1))
plan_kpis(plan)   # the same figures as KPI records, for the exporter (out/plan/kpis.jsonl)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from safecampus.config import Settings
from safecampus.connectors.registry import EmptyRegistryError, RegistryView, load_view
from safecampus.connectors.store import open_store
from safecampus.pipelines.certification.facts import gather
from safecampus.pipelines.certification.indicators import load_indicators
from safecampus.pipelines.certification.scorecard import Certification, certify
from safecampus.pipelines.plan.measures import Sources, programme
from safecampus.pipelines.plan.progress import TargetStatus
from safecampus.pipelines.plan.targets import Plan, load_targets
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.kpi import Kpi
from safecampus.schemas.store import EventRow


class ReportError(ValueError):
    """A report that cannot be made; str() is one plain line."""


def district_id(registry: RegistryView, given: str | None) -> str | None:
    """A district by id (zhonglou) or name (钟楼区); `ReportError` when the registry has no such district."""
    if given is None:
        return None
    for d in registry.districts.values():
        if given in (d.district_id, d.name):
            return d.district_id
    names = "、".join(d.name for d in registry.districts.values())
    raise ReportError(f"没有这个区 no district {given!r}; one of {names}")


def _registry(store_url: str) -> tuple[Any, RegistryView]:
    engine = open_store(store_url)
    registry = load_view(engine)
    if registry.is_empty():
        raise EmptyRegistryError("登记册为空 the store has no registry; load it first: safecampus registry load DIR")
    return engine, registry


def _path(setting: str, given: Path | None) -> Path | None:
    return given or (Path(setting) if setting else None)


def build_certification(
    store_url: str,
    settings: Settings,
    district: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    indicators: Path | None = None,
) -> Certification:
    engine, registry = _registry(store_url)
    card = load_indicators(_path(settings.plan.indicators, indicators))
    now = datetime.combine(latest_day(store_url), time(23, 59, 59), SHANGHAI)  # the replayed city's today
    facts = gather(engine, registry, since, until, now, settings.canteen.disclosure_day_of_month)
    return certify(card, facts, district_id(registry, district))


@dataclass(frozen=True)
class PlanReport:
    plan: Plan
    as_of: date
    district: str | None
    district_names: dict[str, str]
    statuses: tuple[TargetStatus, ...]
    certification: Certification

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.name,
            "as_of": self.as_of.isoformat(),
            "district": self.district,
            "district_names": self.district_names,
            "targets": [s.as_json() for s in self.statuses],
        }


def latest_day(store_url: str) -> date:
    """The day of the newest event in the store (local time): what "today" is for a replayed city."""
    engine = open_store(store_url)
    with Session(engine) as session:
        newest = session.exec(select(func.max(EventRow.occurred_at))).one()
    if newest is None:
        return datetime.now(SHANGHAI).date()
    moment = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).date()


def build_plan(
    store_url: str,
    settings: Settings,
    district: str | None = None,
    as_of: date | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Path | None = None,
    indicators: Path | None = None,
) -> PlanReport:
    engine, registry = _registry(store_url)
    plan = load_targets(_path(settings.plan.targets, targets))
    chosen = district_id(registry, district)
    day = as_of or latest_day(store_url)
    cert = build_certification(store_url, settings, None, since, until, indicators)
    sources = Sources(engine, registry, day, cert, since, until, settings.canteen.disclosure_day_of_month)
    statuses = tuple(programme(plan, sources, chosen))
    names = {d.district_id: d.name for d in registry.districts.values()}
    return PlanReport(plan, day, chosen, names, statuses, cert)


def plan_kpis(report: PlanReport) -> list[Kpi]:
    """The programme and the scorecard as KPI records (domain `plan`), window = the report's day."""
    start = datetime.combine(report.as_of, time(), SHANGHAI)
    end = datetime.combine(report.as_of, time(23, 59, 59), SHANGHAI)
    out: list[Kpi] = []

    def add(metric: str, value: float, **labels: str) -> None:
        out.append(Kpi(domain="plan", metric=metric, labels=labels, value=float(value),
                       window_start=start, window_end=end))  # fmt: skip

    for s in report.statuses:
        target = s.target.id
        add("plan_target_goal", s.target.number, target=target)
        add("plan_target_done", s.done, target=target)
        add("plan_target_forecast", s.forecast, target=target)
        add("plan_target_late_items", s.total.late, target=target)
        add("plan_target_in_progress_items", s.total.in_progress, target=target)
        for district, tally in s.by_district.items():
            add("plan_target_done", tally.done, target=target, district=district)
            add("plan_target_late_items", tally.late, target=target, district=district)
    for county in report.certification.counties:
        add("certification_score", county.score, district=county.id)
        add("certification_passed", float(county.passed), district=county.id)
        for r in county.results:
            if r.passed is not None:
                add("certification_indicator_passed", float(r.passed), district=county.id, indicator=r.indicator.id)
    add("certification_score", report.certification.city.score)
    return out


def parse_moment(text: str | None, what: str) -> datetime | None:
    """A --since / --until value: a date (local midnight) or an ISO time with its offset."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{what} {text!r} 不是日期 is not a date such as 2026-09-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
