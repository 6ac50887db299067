"""托育消防 — the childcare fire-safety board (issue 13): checklist compliance per institution, district and city,
open findings by age, overdue findings, mean days to rectify and to confirm, inspections and open fire alerts,
from the families of `fire_families.py` and the recording rules over them."""

from __future__ import annotations

from safecampus.dashboards.panels import Board, Panel, Variable

DISTRICT = 'district=~"$district"'
OPEN = f"safecampus_fire_findings_open{{{DISTRICT}}}"
OVERDUE = f"safecampus_fire_findings_overdue{{{DISTRICT}}}"
FIRE = Board(
    "safecampus-fire",
    "平安校园 · 托育消防 Childcare fire safety",
    ("safecampus", "fire"),
    (
        Panel("全市合规率 City compliance rate", "stat", (
            ("safecampus:fire_compliance:ratio_city", "全市 city"),), "percentunit", 6, 6, True),
        Panel("未整改 / 逾期隐患 Open and overdue findings", "stat", (
            (f"sum({OPEN})", "未整改 open"), (f"sum({OVERDUE})", "逾期 overdue")), "short", 6, 6, True),
        Panel("平均整改 / 确认用时 Mean time to rectify / confirm", "stat", (
            ("safecampus:fire_rectify_seconds:mean_city", "整改 rectify"),
            ("safecampus:fire_confirm_seconds:mean_city", "确认 confirm")), "s", 6, 6, True),
        Panel("检查次数（按类型） Inspections by kind", "stat", ((
            f"sum by (kind) (safecampus_fire_inspections_total{{{DISTRICT}}})", "{{kind}}"),), "short", 6, 6, True),
        Panel("各区合规率 Compliance rate by district", "bargauge", ((
            f"safecampus:fire_compliance:ratio_district{{{DISTRICT}}}", "{{district}}"),), "percentunit", 12, 8,
            True),
        Panel("合规率最低的机构 Lowest-compliance institutions", "bargauge", ((
            f'bottomk(10, safecampus:fire_compliance:ratio_institution{{{DISTRICT}, institution=~"$institution"}})',
            "{{institution}}"),), "percentunit", 12, 8, True),
        Panel("未整改隐患（按时长） Open findings by age", "bargauge", ((
            f"sum by (age) ({OPEN})", "{{age}}"),), "short", 8, 7, True),
        Panel("各区未整改 / 逾期隐患 Open and overdue by district", "bargauge", (
            (f"sum by (district) ({OPEN})", "{{district}} 未整改 open"),
            (f"sum by (district) ({OVERDUE})", "{{district}} 逾期 overdue")), "short", 8, 7, True),
        Panel("各区平均整改 / 确认用时 Mean time to rectify / confirm by district", "bargauge", (
            (f"safecampus:fire_rectify_seconds:mean_district{{{DISTRICT}}}", "{{district}} 整改 rectify"),
            (f"safecampus:fire_confirm_seconds:mean_district{{{DISTRICT}}}", "{{district}} 确认 confirm")), "s", 8, 7,
            True),
        Panel("合规率趋势 Compliance rate over time", "timeseries", (
            ("safecampus:fire_compliance:ratio_city", "全市 city"),
            (f"safecampus:fire_compliance:ratio_district{{{DISTRICT}}}", "{{district}}")), "percentunit", 12, 8),
        Panel("未整改隐患趋势 Open findings over time", "timeseries", (
            (f"sum by (age) ({OPEN})", "{{age}}"), (f"sum({OVERDUE})", "逾期 overdue")), "short", 12, 8),
        Panel("未关闭消防告警（按规则） Open fire alerts by rule", "bargauge", ((
            f'sum by (rule, severity) (safecampus_alerts_open{{domain="fire", {DISTRICT}}})',
            "{{rule}} {{severity}}"),), "short", 24, 8, True),
    ),
    (
        Variable("district", "区 District", "label_values(safecampus_fire_items_applicable, district)"),
        Variable("institution", "托育机构 Institution",
                 'label_values(safecampus_fire_items_applicable{district=~"$district"}, institution)'),
    ),
)  # fmt: skip
