"""The exporter's families of the plan's targets and of the certification scorecard (docs/plan.md).

Their KPI records (domain `plan`) come from `safecampus report plan --kpis FILE` and the demo's
`out/plan/kpis.jsonl`: one window per report day, so the exporter serves the newest report's figures.
"""

from __future__ import annotations

from safecampus.dashboards.families import Family
from safecampus.dashboards.families import kpi_family as _kpi

TARGET = ("target", "district")
PLAN_FAMILIES: tuple[Family, ...] = (
    _kpi("safecampus_plan_target_goal", "gauge", "plan_target_goal", ("target",), ("target",),
         "规划目标数 — the plan's number for a target (count, or 100 for a share in %)"),
    _kpi("safecampus_plan_target_done", "gauge", "plan_target_done", TARGET, ("target",),
         "规划目标已完成数 — done toward a target, city-wide (no district) and per county"),
    _kpi("safecampus_plan_target_forecast", "gauge", "plan_target_forecast", ("target",), ("target",),
         "按当前进度到期限的预测完成数 — forecast at the deadline at the current pace"),
    _kpi("safecampus_plan_target_late_items", "gauge", "plan_target_late_items", TARGET, ("target",),
         "规划目标滞后事项数 — items past their due day and not done, city-wide and per county"),
    _kpi("safecampus_plan_target_in_progress_items", "gauge", "plan_target_in_progress_items", ("target",),
         ("target",), "规划目标推进中事项数 — items under way and not yet due"),
    _kpi("safecampus_certification_score", "gauge", "certification_score", ("district",), (),
         "平安校园创建得分（0–100） — certification score of a county (no district: the city)"),
    _kpi("safecampus_certification_passed", "gauge", "certification_passed", ("district",), ("district",),
         "区县是否达到创建标准（1 达标，0 未达标） — county certified on the scorecard"),
    _kpi("safecampus_certification_indicator_passed", "gauge", "certification_indicator_passed",
         ("district", "indicator"), ("district", "indicator"),
         "区县创建指标是否达标（1 达标，0 未达标） — county meets the scorecard's indicator"),
)  # fmt: skip
