"""The audit's canteen KPIs as KPI records, for the exporter to pick up (store `kpis` table, `DIR/kpis.jsonl`).

Per canteen and month (window = the month, local time): `canteen_surplus_rate`, `canteen_ingredient_share`,
`canteen_disclosure_published` (1 published, 0.5 reopened, 0 not yet); per rule and district over the
audited period: `canteen_red_flags_total`. Labels carry ids only (canteen, district, rule, month).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from safecampus.canteen.data import CanteenData
from safecampus.pipelines.canteen.ledger_checks import month_end
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.kpi import Kpi

PUBLISHED = {"published": 1.0, "reopened": 0.5, "draft": 0.0}


def _month_start(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:]), 1, tzinfo=SHANGHAI)


def audit_kpis(data: CanteenData) -> list[Kpi]:
    kpis: list[Kpi] = []
    for s in data.audit.statements:
        start, end = _month_start(s.month), month_end(s.month)
        month = {"canteen": s.canteen_id, "district": s.district or "", "month": s.month}
        values = {
            "canteen_surplus_rate": s.surplus_rate,
            "canteen_ingredient_share": s.ingredient_share,
            "canteen_disclosure_published": PUBLISHED[s.status],
        }
        for metric, value in values.items():
            if value is not None:
                kpis.append(Kpi(domain="canteen", metric=metric, labels=month, value=float(value),
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
