"""The exporter's families of the canteen audit (issue 12): disclosure status, the surplus rate's and the
ingredient share's numerators and denominators per canteen and month, red flags by rule and district.

Their KPI records come from the audit after `replay canteen` (`safecampus/canteen/kpis.py`, into the store and
`DIR/kpis.jsonl`; the demo's `out/canteen-month/`). Canteens are the registry's, months the audited ones;
`deploy/prometheus/rules/recording.yml` derives the rates per canteen, district and city.
"""

from __future__ import annotations

from safecampus.dashboards.families import Family
from safecampus.dashboards.families import kpi_family as _kpi

MONTH = ("district", "canteen", "month")
CANTEEN_FAMILIES: tuple[Family, ...] = (
    _kpi("safecampus_canteen_disclosure_status", "gauge", "canteen_disclosure_status", (*MONTH, "status"),
         ("canteen", "month", "status"),
         "食堂月度收支公示状态（1 为该月所处状态：按期公示 published、逾期公示 late、逾期未公示 missing、未到期 "
         "not_yet_due） — a canteen month's disclosure status on the audit's event-time clock"),
    _kpi("safecampus_canteen_month_income_cny", "gauge", "canteen_month_income_cny", MONTH, ("canteen", "month"),
         "食堂月收入（元） — a canteen's income for the month, yuan (surplus rate denominator)"),
    _kpi("safecampus_canteen_month_surplus_cny", "gauge", "canteen_month_surplus_cny", MONTH, ("canteen", "month"),
         "食堂月结余（元） — income less costs for the month, yuan (surplus rate numerator)"),
    _kpi("safecampus_canteen_month_meal_fee_cny", "gauge", "canteen_month_meal_fee_cny", MONTH,
         ("canteen", "month"), "伙食费收入（元） — meal-fee income for the month, yuan (ingredient share denominator)"),
    _kpi("safecampus_canteen_month_ingredients_cny", "gauge", "canteen_month_ingredients_cny", MONTH,
         ("canteen", "month"), "食材支出（元） — spent on ingredients in the month, yuan (ingredient share numerator)"),
    _kpi("safecampus_canteen_red_flags", "gauge", "canteen_red_flags_total", ("district", "rule"), ("rule",),
         "食堂审计红旗数（按规则、区） — red flags of the canteen audit over the audited period, by rule and district"),
)  # fmt: skip
