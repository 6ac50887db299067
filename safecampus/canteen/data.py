"""What the canteen reports, pages and API show, read from the store: the audit, names, and the two audiences.

`CanteenData.load(url)` runs the audit over the canteen records the pipeline stored (cached while
the store's canteen records are unchanged). `statement_view(..., audience)` is the one place a
statement becomes what a reader gets: the public (parents, the open data) sees published months
only, red flags without evidence rows, and nothing that names a person (`scrub`); auditors see
every month and every red flag with the rows behind it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView, registry_at
from safecampus.connectors.store import open_store
from safecampus.pipelines.canteen.audit import Audit, run_audit
from safecampus.pipelines.canteen.book import CanteenBook, stored_book
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen_forms import CATEGORY_TITLES
from safecampus.schemas.canteen_statement import MonthlyStatement
from safecampus.schemas.store import EventRow

Audience = Literal["public", "auditor"]
RULE_TITLES = {
    "canteen.red_flag.staff_meals": "职工餐费计入食堂",
    "canteen.red_flag.hospitality": "招待费计入食堂",
    "canteen.red_flag.bonus": "奖金计入食堂",
    "canteen.single_person_acceptance": "验收人数不足",
    "canteen.surplus_rate": "结余率过高",
    "canteen.subsidy_missing": "财政补助未到账",
    "canteen.subsidy_short": "财政补助到账不足",
    "canteen.subsidy_excess": "财政补助多于核定",
    "canteen.duplicate_invoice": "发票重复入账",
    "canteen.price_outlier": "采购单价偏高",
    "canteen.supplier_concentration": "供应商过于集中",
    "canteen.disclosure_missing": "未按期公示",
    "canteen.disclosure_late": "逾期公示",
    "canteen.survey_missing": "未开展满意度调查",
    "canteen.statement_reopened": "公示后补录",
}
INCOME_TITLES = {k: CATEGORY_TITLES[k] for k in ("meal_fee", "fiscal_subsidy", "other_income")}
# Keys that could carry a person: operators' names or ids, free comments. Never in a public answer.
PERSONAL_KEYS = frozenset({"operator_id", "comment", "name", "staff_name", "student_name", "note", "acknowledged_by"})


class NotFound(LookupError):
    """A canteen or month the reader may not see or that does not exist; str() says which."""


def scrub(value: Any) -> Any:
    """A copy without personal keys, at any depth (the public audience's guard)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


@dataclass
class CanteenData:
    audit: Audit
    book: CanteenBook
    registry: RegistryView
    loaded_at: datetime

    @classmethod
    def of(cls, book: CanteenBook, registry: RegistryView, settings: Settings | None = None) -> CanteenData:
        rules = (settings or Settings()).canteen
        return cls(run_audit(book, registry, rules), book, registry, datetime.now(UTC))

    @classmethod
    def load(cls, url: str, settings: Settings | None = None) -> CanteenData:
        key = (url, _store_version(url))
        with _lock:
            cached = _cache.get(url)
            if cached is not None and cached[0] == key:
                return cached[1]
        data = cls.of(stored_book(url), registry_at(url), settings)
        with _lock:
            _cache[url] = (key, data)
        return data

    # --- names a person reads -------------------------------------------------------------
    def canteen_name(self, canteen_id: str) -> str:
        canteen = self.registry.canteens.get(canteen_id)
        school = self.registry.schools.get(canteen.school_id) if canteen else None
        if canteen is not None and canteen.kind == "central_kitchen":
            return f"中央厨房 {canteen_id}" + (f"（{school.name}）" if school else "")
        return f"{school.name}食堂" if school else f"食堂 {canteen_id}"

    def district_name(self, canteen_id: str) -> str:
        canteen = self.registry.canteens.get(canteen_id)
        district_id = self.registry.district_of_school(canteen.school_id) if canteen else None
        district = self.registry.districts.get(district_id or "")
        return district.name if district else ""

    # --- what an audience may see ---------------------------------------------------------
    def canteen_ids(self) -> list[str]:
        return sorted(self.registry.canteens)

    def statements(self, canteen_id: str, audience: Audience) -> list[MonthlyStatement]:
        if canteen_id not in self.registry.canteens:
            raise NotFound(f"没有食堂 {canteen_id} no such canteen")
        found = [s for s in self.audit.statements if s.canteen_id == canteen_id]
        return [s for s in found if audience == "auditor" or s.status != "draft"]

    def statement(self, canteen_id: str, month: str, audience: Audience) -> MonthlyStatement:
        for s in self.statements(canteen_id, audience):
            if s.month == month:
                return s
        if audience == "public" and self.audit.statement(canteen_id, month) is not None:
            raise NotFound(f"食堂 {canteen_id} 的 {month} 收支尚未公示 not published yet")
        raise NotFound(f"食堂 {canteen_id} 没有 {month} 的账目 no ledger for that month")

    def red_flags(self, canteen_id: str | None, month: str | None) -> list[Alert]:
        return self.audit.red_flags(canteen_id, month)

    def surveys(self, canteen_id: str) -> list[dict[str, Any]]:
        rows = [s for s in self.book.surveys if s.canteen_id == canteen_id]
        return [
            {"semester": s.semester, "respondents": s.respondents, "satisfaction": float(s.satisfaction),
             "responses": s.responses, "surveyed_on": s.surveyed_on.isoformat()}
            for s in sorted(rows, key=lambda s: (s.semester, s.respondents))
        ]  # fmt: skip

    def ratings(self, canteen_id: str) -> list[dict[str, Any]]:
        rows = [r for r in self.book.ratings if r.canteen_id == canteen_id]
        return [
            {"semester": r.semester, "supplier_id": r.supplier_id, "score": float(r.score)}
            for r in sorted(rows, key=lambda r: (r.semester, r.supplier_id))
        ]

    def last_months(self, canteen_id: str, month: str, audience: Audience, n: int = 12) -> list[MonthlyStatement]:
        return [s for s in self.statements(canteen_id, audience) if s.month <= month][-n:]


def flag_view(alert: Alert, audience: Audience) -> dict[str, Any]:
    view: dict[str, Any] = {
        "rule": alert.rule,
        "rule_title": RULE_TITLES.get(alert.rule, alert.rule),
        "severity": alert.severity,
        "title": alert.title,
        "detail": alert.detail,
        "occurred_at": alert.occurred_at.isoformat(),
        "fingerprint": alert.fingerprint,
    }
    if audience == "auditor":
        view["evidence"] = alert.evidence
    else:
        view["evidence"] = [e for e in alert.evidence if e.get("kind") in ("statement", "city_median", "semester")]
    return view if audience == "auditor" else scrub(view)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def statement_view(data: CanteenData, statement: MonthlyStatement, audience: Audience) -> dict[str, Any]:
    """The JSON form of a statement other tools can check (see README)."""
    s = statement
    flags = [flag_view(a, audience) for a in data.red_flags(s.canteen_id, s.month)]
    view = {
        "canteen": s.canteen_id,
        "canteen_name": data.canteen_name(s.canteen_id),
        "school_id": s.school_id,
        "district": s.district,
        "kind": s.kind,
        "month": s.month,
        "status": s.status,
        "published_at": s.published_at.isoformat() if s.published_at else None,
        "income_cny": _money(s.income_cny),
        "income_by_source": {k: str(v) for k, v in s.income_by_source.items()},
        "cost_cny": _money(s.cost_cny),
        "cost_by_category": {k: str(v) for k, v in s.cost_by_category.items()},
        "kitchen_id": s.kitchen_id,
        "kitchen_cost_cny": _money(s.kitchen_cost_cny),
        "surplus_cny": _money(s.surplus_cny),
        "surplus_rate": _money(s.surplus_rate),
        "meal_fee_cny": _money(s.meal_fee_cny),
        "ingredients_cny": _money(s.ingredients_cny),
        "ingredient_share": _money(s.ingredient_share),
        "carried_surplus_cny": _money(s.carried_surplus_cny),
        "meals_served": s.meals_served,
        "subsidy_granted_cny": _money(s.subsidy_granted_cny),
        "subsidy_received_cny": _money(s.subsidy_received_cny),
        "entries": s.entries,
        "late_entries": s.late_entries if audience == "auditor" else len(s.late_entries),
        "red_flags": flags,
        "audience": audience,
    }
    return view if audience == "auditor" else scrub(view)


_cache: dict[str, tuple[tuple[str, tuple[int, str]], CanteenData]] = {}  # url → (store version, data)
_lock = threading.Lock()


def _store_version(url: str) -> tuple[int, str]:
    """How many canteen records the store holds, the latest one's time and their bodies' total length:
    a changed store (a new or corrected record) is audited again."""
    columns = (func.count(), func.max(EventRow.occurred_at), func.sum(func.length(EventRow.body)))
    with Session(open_store(url)) as session:
        n, latest, size = session.exec(select(*columns).where(EventRow.domain == "canteen")).one()  # type: ignore[call-overload]
    return int(n), f"{latest}/{size}"
