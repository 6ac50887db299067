"""The audit's canteen KPIs as KPI records, for the exporter to pick up (store `kpis` table, `DIR/kpis.jsonl`).

Per canteen and month (window = the month, local time): `canteen_surplus_rate`, `canteen_ingredient_share`,
`canteen_disclosure_published` (1 published, 0.5 reopened, 0 not yet), which the scorecard and the plan read;
for the exporter the rates' numerators and denominators in yuan (`canteen_month_income_cny`,
`canteen_month_surplus_cny`, `canteen_month_meal_fee_cny`, `canteen_month_ingredients_cny`) so that
Prometheus pools them per district and city, and `canteen_disclosure_status` (1 for the month's status:
`published` by the deadline, `late` published after it, `missing` not published past it, `not_yet_due`) on
the audit's event-time clock; per rule and district over the audited period: `canteen_red_flags_total`.
Labels carry ids only (canteen, district, rule, month, status).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from safecampus.canteen.data import CanteenData
from safecampus.config import CanteenRules, Settings
from safecampus.pipelines.canteen.calendar_checks import disclosure_deadline
from safecampus.pipelines.canteen.ledger_checks import month_end
from safecampus.schemas.canteen_statement import MonthlyStatement
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.kpi import Kpi

PUBLISHED = {"published": 1.0, "reopened": 0.5, "draft": 0.0}
DISCLOSURE_STATUSES = ("published", "late", "missing", "not_yet_due")


def _month_start(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:]), 1, tzinfo=SHANGHAI)


def disclosure_status(s: MonthlyStatement, clock: datetime | None, day_of_month: int) -> str:
    """One of DISCLOSURE_STATUSES, as the audit's disclosure check judges the month at `clock` (event time)."""
    due = disclosure_deadline(s.month, day_of_month)
    if s.published_at is not None:
        return "published" if s.published_at <= due else "late"
    return "missing" if clock is not None and clock >= due else "not_yet_due"


def _amounts(s: MonthlyStatement) -> dict[str, float]:
    """The rates' numerators and denominators: surplus over income, ingredients over meal-fee income (only
    where the rate is defined, so a central kitchen without income does not pull a district's rate)."""
    amounts: dict[str, float] = {}
    if s.income_cny > 0:
        amounts |= {"canteen_month_income_cny": float(s.income_cny), "canteen_month_surplus_cny": float(s.surplus_cny)}
    if s.meal_fee_cny > 0:
        amounts |= {"canteen_month_meal_fee_cny": float(s.meal_fee_cny),
                    "canteen_month_ingredients_cny": float(s.ingredients_cny)}  # fmt: skip
    return amounts


def audit_kpis(data: CanteenData, rules: CanteenRules | None = None) -> list[Kpi]:
    day = (rules or Settings().canteen).disclosure_day_of_month
    kpis: list[Kpi] = []
    for s in data.audit.statements:
        start, end = _month_start(s.month), month_end(s.month)
        month = {"canteen": s.canteen_id, "district": s.district or "", "month": s.month}
        values: dict[str, float | None] = {
            "canteen_surplus_rate": None if s.surplus_rate is None else float(s.surplus_rate),
            "canteen_ingredient_share": None if s.ingredient_share is None else float(s.ingredient_share),
            "canteen_disclosure_published": PUBLISHED[s.status],
            **_amounts(s),
        }
        for metric, value in values.items():
            if value is not None:
                kpis.append(Kpi(domain="canteen", metric=metric, labels=month, value=value,
                                window_start=start, window_end=end))  # fmt: skip
        status = {**month, "status": disclosure_status(s, data.audit.clock, day)}
        kpis.append(Kpi(domain="canteen", metric="canteen_disclosure_status", labels=status, value=1.0,
                        window_start=start, window_end=end))  # fmt: skip
    flags = [*data.audit.alerts, *data.audit.line_alerts]
    if flags:
        first = min(a.occurred_at for a in flags)
        last = max(a.occurred_at for a in flags)
        for (rule, district), n in sorted(Counter((a.rule, a.district or "") for a in flags).items()):
            labels = {"rule": rule, "district": district}
            kpis.append(Kpi(domain="canteen", metric="canteen_red_flags_total", labels=labels, value=float(n),
                            window_start=first, window_end=last))  # fmt: skip
    return kpis
