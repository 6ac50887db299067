"""The exporter's families of childcare fire safety (issue 13): checklist compliance's numerator and denominator
per institution, open findings by district and age, overdue findings, and the sums and counts behind the mean
days to rectify and to confirm.

Their KPI records are the fire replay's ledger partials (`pipelines/fire/kpis.py`, `DIR/kpis.jsonl`), as of the
end of the input. Institutions are the registry's; `deploy/prometheus/rules/recording.yml` derives the
compliance rate per institution, district and city and the mean times per district and city.
"""

from __future__ import annotations

from safecampus.dashboards.families import Family
from safecampus.dashboards.families import kpi_family as _kpi

INSTITUTION = ("district", "institution")
DAY = 86400.0
FIRE_FAMILIES: tuple[Family, ...] = (
    _kpi("safecampus_fire_items_applicable", "gauge", "fire_items_applicable", INSTITUTION, ("institution",),
         "适用检查项数（每项按最近一次结果） — checklist items applicable to an institution (compliance denominator)"),
    _kpi("safecampus_fire_items_compliant", "gauge", "fire_items_compliant", INSTITUTION, ("institution",),
         "合规检查项数 — of those, compliant at the latest inspection (compliance numerator)"),
    _kpi("safecampus_fire_inspections_total", "counter", "fire_inspections_total", ("district", "kind"),
         ("kind",), "检查次数（按类型：巡查、月度检查、演练等） — inspections by kind (patrol, monthly, drill …)"),
    _kpi("safecampus_fire_findings_open", "gauge", "fire_findings_open_by_age", ("district", "age"), ("age",),
         "未整改隐患数（按发现至今天数 0-7d、8-30d、>30d） — open findings by district and age"),
    _kpi("safecampus_fire_findings_overdue", "gauge", "fire_findings_overdue", ("district",), (),
         "逾期未整改隐患数 — open findings past their deadline and not rectified"),
    _kpi("safecampus_fire_rectify_seconds", "gauge", "fire_rectify_days_sum", ("district",), (),
         "整改用时合计（秒） — time from finding to rectification summed over rectified findings (mean numerator)",
         DAY),
    _kpi("safecampus_fire_rectified_findings", "gauge", "fire_rectify_count", ("district",), (),
         "已整改隐患数（现场整改除外） — findings rectified after the inspection (mean denominator)"),
    _kpi("safecampus_fire_confirm_seconds", "gauge", "fire_confirm_days_sum", ("district",), (),
         "整改至确认用时合计（秒） — time from rectification to the manager's confirmation, summed (mean numerator)",
         DAY),
    _kpi("safecampus_fire_confirmed_findings", "gauge", "fire_confirm_count", ("district",), (),
         "已确认整改的隐患数 — rectified findings confirmed closed (mean denominator)"),
)  # fmt: skip
