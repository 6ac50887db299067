"""食堂财务 — the canteen finance board (issue 12): disclosure status, surplus rate and ingredient share per
canteen, district and city, and the audit's red flags, from the families of `canteen_families.py` and the
recording rules over them."""

from __future__ import annotations

from safecampus.dashboards.panels import Board, Panel, Variable

INCOME = "safecampus_canteen_month_income_cny"
PICK = 'district=~"$district", canteen=~"$canteen", month=~"$month"'
MONTHS = 'district=~"$district", month=~"$month"'
DISCLOSURE = "safecampus_canteen_disclosure_status"
CANTEEN = Board(
    "safecampus-canteen",
    "平安校园 · 食堂财务 Canteen finance",
    ("safecampus", "canteen"),
    (
        Panel("公示状态（食堂月数） Disclosure status (canteen months)", "stat", (
            (f"sum by (status) ({DISCLOSURE}{{{PICK}}})", "{{status}}"),), "short", 8, 7, True),
        Panel("各区按期公示率 Disclosed on time by district", "bargauge", ((
            f"safecampus:canteen_disclosure_on_time:ratio_district{{{MONTHS}}}", "{{district}} {{month}}"),),
            "percentunit", 8, 7, True),
        Panel("待公示与逾期（按区） Not published yet, or late, by district", "bargauge", ((
            f'sum by (district, status) ({DISCLOSURE}{{status!="published", {PICK}}})', "{{district}} {{status}}"),),
            "short", 8, 7, True),
        Panel("全市结余率与食材占比 City surplus rate and ingredient share", "stat", (
            ('safecampus:canteen_surplus:ratio_city{month=~"$month"}', "结余率 surplus {{month}}"),
            ('safecampus:canteen_ingredient_share:ratio_city{month=~"$month"}', "食材占比 ingredients {{month}}")),
            "percentunit", 8, 7, True),
        Panel("结余率最高的食堂 Highest surplus rates (non-profit check)", "bargauge", ((
            f"topk(10, safecampus:canteen_surplus:ratio_canteen{{{PICK}}})", "{{canteen}} {{month}}"),),
            "percentunit", 8, 7, True),
        Panel("食材占比最低的食堂 Lowest ingredient shares", "bargauge", ((
            f"bottomk(10, safecampus:canteen_ingredient_share:ratio_canteen{{{PICK}}})", "{{canteen}} {{month}}"),),
            "percentunit", 8, 7, True),
        Panel("各区结余率 Surplus rate by district", "timeseries", ((
            f"safecampus:canteen_surplus:ratio_district{{{MONTHS}}}", "{{district}} {{month}}"),),
            "percentunit", 12, 8),
        Panel("收入与结余（元） Income and surplus, yuan", "timeseries", (
            (f"sum by (month) ({INCOME}{{{PICK}}})", "收入 income {{month}}"),
            (f"sum by (month) (safecampus_canteen_month_surplus_cny{{{PICK}}})", "结余 surplus {{month}}")),
            "currencyCNY", 12, 8),
        Panel("审计红旗（按规则） Red flags by rule", "bargauge", ((
            'sum by (rule) (safecampus_canteen_red_flags{district=~"$district"})', "{{rule}}"),), "short", 12, 9,
            True),
        Panel("审计红旗（按区） Red flags by district", "bargauge", ((
            'sum by (district) (safecampus_canteen_red_flags{district=~"$district"})', "{{district}}"),), "short",
            12, 9, True),
    ),
    (
        Variable("district", "区 District", f"label_values({INCOME}, district)"),
        Variable("canteen", "食堂 Canteen", f'label_values({INCOME}{{district=~"$district"}}, canteen)'),
        Variable("month", "月份 Month", f"label_values({INCOME}, month)"),
    ),
)  # fmt: skip
