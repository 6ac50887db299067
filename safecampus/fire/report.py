"""The fire-safety report: the remediation ledger (整改台账) per district, compliance, and open findings over time.

Made from what the store holds (the fire inspections a replay or the streaming runner upserted, and
the registry), through the pipeline's own ledger (pipelines/fire/ledger.py): the same inspections
give the same ledger in the report as in `replay fire`'s `ledger.jsonl`, whatever order they came in.

    report = build_fire_report(store_url, Settings(), district="钟楼区")
    report.as_json()        # per district compliance_rate, open_findings, overdue_findings, ledger rows

No personal data: inspectors and confirmers appear by role, institutions by name and id.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import make_url
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.fire.checklist import load_checklist
from safecampus.connectors.registry import RegistryView, registry_at
from safecampus.connectors.store import engine_for
from safecampus.pipelines.fire import institution_ledger
from safecampus.pipelines.fire.book import InstitutionBook, local_day
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.fire import FireInspection, FireLedger, FireLedgerRow
from safecampus.schemas.store import EventRow

UNREGISTERED = "unregistered"


class ReportError(ValueError):
    """A report that cannot be made; str() says why in one line."""


@dataclass
class DistrictReport:
    district_id: str
    name: str
    ledgers: list[FireLedger] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # institution id → name

    @property
    def rows(self) -> list[FireLedgerRow]:
        rows = [r for ledger in self.ledgers for r in ledger.rows]
        return sorted(rows, key=lambda r: (r.closed_at is not None, -r.days_overdue, r.found_at, r.finding_id))

    @property
    def compliance_rate(self) -> float | None:
        applicable = sum(ledger.items_applicable for ledger in self.ledgers)
        return sum(ledger.items_compliant for ledger in self.ledgers) / applicable if applicable else None

    @property
    def open_findings(self) -> int:
        return sum(1 for r in self.rows if r.closed_at is None)

    @property
    def overdue_findings(self) -> int:
        return sum(1 for r in self.rows if r.closed_at is None and r.rectified_at is None and r.days_overdue > 0)

    def mean_days(self, what: str) -> float | None:
        """Mean days from found to rectified (`rectify`), or from rectified to confirmed (`confirm`)."""
        spans: list[float] = []
        for r in self.rows:
            if r.rectified_at is None or r.closed_how == "on_the_spot":
                continue
            if what == "rectify":
                spans.append((r.rectified_at - r.found_at).total_seconds() / 86400)
            elif r.confirmed_at is not None and r.closed_how == "confirmed":
                spans.append((r.confirmed_at - r.rectified_at).total_seconds() / 86400)
        return round(sum(spans) / len(spans), 2) if spans else None


@dataclass
class FireReport:
    as_of: datetime
    districts: list[DistrictReport]
    open_by_day: list[tuple[date, int]]

    @property
    def ranked(self) -> list[DistrictReport]:
        """Districts by compliance, best first; without inspections, then unregistered institutions, last."""
        return sorted(
            self.districts,
            key=lambda d: (d.district_id == UNREGISTERED, d.compliance_rate is None, -(d.compliance_rate or 0), d.name),
        )

    def as_json(self) -> dict[str, Any]:
        everyone = DistrictReport("city", "全市", [x for d in self.districts for x in d.ledgers])
        return {
            "report": "fire_remediation_ledger",
            "title": "托育机构消防安全整改台账",
            "as_of": self.as_of.isoformat(),
            "city": _summary(everyone),
            "districts": [
                {
                    "district_id": d.district_id,
                    "name": d.name,
                    **_summary(d),
                    "ledger": [
                        {**r.model_dump(mode="json"), "institution_name": d.names.get(r.institution_id)} for r in d.rows
                    ],
                }
                for d in self.ranked
            ],
            "open_findings_by_day": [{"day": day.isoformat(), "open": n} for day, n in self.open_by_day],
        }


def _summary(d: DistrictReport) -> dict[str, Any]:
    rate = d.compliance_rate
    return {
        "compliance_rate": round(rate, 4) if rate is not None else None,
        "institutions": len(d.ledgers),
        "findings": len(d.rows),
        "open_findings": d.open_findings,
        "overdue_findings": d.overdue_findings,
        "mean_days_to_rectify": d.mean_days("rectify"),
        "mean_days_to_confirm": d.mean_days("confirm"),
    }


def stored_inspections(store_url: str) -> list[FireInspection]:
    with Session(engine_for(store_url)) as session:
        bodies = session.exec(select(EventRow.body).where(EventRow.domain == "fire")).all()
    return [FireInspection.model_validate_json(body) for body in bodies]


def build_fire_report(
    store_url: str, settings: Settings, district: str | None = None, as_of: datetime | None = None
) -> FireReport:
    """The report over the store's inspections and registry; `district` is an id (zhonglou) or a name (钟楼区)."""
    registry = registry_at(store_url)
    inspections = stored_inspections(store_url)
    if as_of is None:
        if not inspections:
            shown = make_url(store_url).render_as_string(hide_password=True)
            raise ReportError(
                f"库中没有消防检查记录 the store {shown} holds no fire inspections; replay some: safecampus replay fire"
            )
        as_of = max(i.inspected_at for i in inspections)
    return report_of(registry, inspections, settings, as_of, _district_id(registry, district))


def _district_id(registry: RegistryView, district: str | None) -> str | None:
    if district is None:
        return None
    for row in registry.districts.values():
        if district in (row.district_id, row.name):
            return row.district_id
    known = "、".join(f"{d.name} {d.district_id}" for d in registry.districts.values())
    raise ReportError(f"没有这个区 no district {district!r}; the registry has: {known}")


def report_of(
    registry: RegistryView,
    inspections: list[FireInspection],
    settings: Settings,
    as_of: datetime,
    district: str | None = None,
) -> FireReport:
    checklist = load_checklist(settings.fire.checklist)
    books: dict[str, InstitutionBook] = {}
    for inspection in inspections:
        if inspection.inspected_at <= as_of:
            books.setdefault(inspection.institution_id, InstitutionBook(inspection.institution_id)).add(inspection)
    districts = {d.district_id: DistrictReport(d.district_id, d.name) for d in registry.districts.values()}
    districts[UNREGISTERED] = DistrictReport(UNREGISTERED, "未登记机构")
    for institution_id in sorted(set(registry.institutions) | set(books)):
        facts = InstitutionFacts.of(institution_id, registry)
        book = books.get(institution_id) or InstitutionBook(institution_id)
        place = districts[facts.district or UNREGISTERED]
        place.ledgers.append(institution_ledger(facts, book, checklist, as_of, settings.fire.max_floor))
        place.names[institution_id] = facts.row.name if facts.row else institution_id
    chosen = [d for d in districts.values() if d.ledgers and (district is None or d.district_id == district)]
    rows = [r for d in chosen for r in d.rows]
    return FireReport(as_of, chosen, open_by_day(rows, as_of))


def open_by_day(rows: list[FireLedgerRow], as_of: datetime) -> list[tuple[date, int]]:
    """How many findings were open at the end of each day, from the first finding to `as_of`."""
    if not rows:
        return []
    first, last = min(local_day(r.found_at) for r in rows), local_day(as_of)
    counts: dict[date, int] = defaultdict(int)
    day = first
    while day <= last:
        end = datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)
        counts[day] = sum(1 for r in rows if r.found_at < end and (r.closed_at is None or r.closed_at >= end))
        day += timedelta(days=1)
    return sorted(counts.items())
