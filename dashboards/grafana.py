"""Grafana dashboards as code (grafana-foundation-sdk, Grafana's own Python builders).

    safecampus dashboards build          # writes dashboards/json/*.json (committed; a test fails when stale)
    safecampus dashboards push --url URL --token TOKEN

Six boards: the security control room's wall (安防指挥中心), the transport bureau's (校车监管), the
pipeline's health (流水线运行), the bureau's plan and certification (规划与创建), canteen finance (食堂财务,
`canteen_board.py`) and childcare fire safety (托育消防, `fire_board.py`). Every panel's PromQL is
run against a real Prometheus scraping the real exporter in `tests/dashboards/test_prometheus.py`; each query
must answer with data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef, VariableRefresh

from safecampus.dashboards.canteen_board import CANTEEN
from safecampus.dashboards.fire_board import FIRE
from safecampus.dashboards.panels import ROUTE_VARIABLES, Board, Panel, Variable

JSON_DIR = Path(__file__).resolve().parent / "json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="safecampus-prometheus")
SCHOOL = 'district=~"$district", school=~"$school"'


CONTROL_ROOM = Board(
    "safecampus-control-room",
    "平安校园 · 安防指挥中心 Security control room",
    ("safecampus", "security"),
    (
        Panel(
            "未关闭告警（按级别） Open alerts by severity",
            "stat",
            ((f"sum by (severity) (safecampus_alerts_open{{{SCHOOL}}})", "{{severity}}"),),
            instant=True,
        ),
        Panel(
            "各区未关闭告警 Open alerts by district",
            "bargauge",
            ((f"sum by (district) (safecampus_alerts_open{{{SCHOOL}}})", "{{district}}"),),
            instant=True,
        ),
        Panel(
            "未确认紧急告警 Unacknowledged critical",
            "stat",
            ((f'sum(safecampus_alerts_unacknowledged{{severity="critical", {SCHOOL}}}) or vector(0)', "未确认"),),
            instant=True,
        ),
        Panel(
            "设备在线率（全市/区） Device online rate",
            "timeseries",
            (
                ("safecampus:security_device_online:ratio_city", "全市 city"),
                ('safecampus:security_device_online:ratio_district{district=~"$district"}', "{{district}}"),
            ),
            unit="percentunit",
            width=12,
        ),
        Panel(
            "未上报设备最多的学校 Schools with most silent devices",
            "table",
            ((f"topk(10, safecampus:security_devices_silent:count_school{{{SCHOOL}}})", "{{school}}"),),
            width=12,
            instant=True,
        ),
        Panel(
            "公安联网率 Police linkage rate",
            "bargauge",
            (('safecampus:security_police_linkage:ratio_district{district=~"$district"}', "{{district}} {{kind}}"),),
            unit="percentunit",
            width=12,
            instant=True,
        ),
        Panel(
            "4个100% 达标率 The four 100% indicators",
            "bargauge",
            (("safecampus:security_four_100:ratio_city", "{{indicator}}"),),
            unit="percentunit",
            width=12,
            instant=True,
        ),
        Panel(
            "一键报警（告警数） One-key alarms",
            "stat",
            (
                (
                    f'sum(safecampus_security_alerts_total{{rule="security.one_key_alarm", {SCHOOL}}}) or vector(0)',
                    "一键报警",
                ),
            ),
            instant=True,
        ),
        Panel(
            "确认时长 p50 / p90 Time to acknowledge",
            "stat",
            (
                ('safecampus:alert_ack_seconds:p50{domain="security"}', "p50"),
                ('safecampus:alert_ack_seconds:p90{domain="security"}', "p90"),
            ),
            unit="s",
            instant=True,
        ),
        Panel(
            "告警（按规则） Alerts by rule",
            "table",
            ((f"sum by (rule, severity) (safecampus_security_alerts_total{{{SCHOOL}}})", "{{rule}}"),),
            instant=True,
        ),
    ),
)

TRANSPORT = Board(
    "safecampus-transport",
    "平安校园 · 校车监管 School-bus transport bureau",
    ("safecampus", "bus"),
    (
        Panel(
            "准点率（按线路） On-time rate by route",
            "bargauge",
            (('safecampus:bus_on_time:ratio_route{route=~"$route"}', "{{route}}"),),
            unit="percentunit",
            width=12,
            instant=True,
        ),
        Panel(
            "全市准点率 City on-time rate",
            "stat",
            (("safecampus:bus_on_time:ratio_city", "全市"),),
            unit="percentunit",
            width=6,
            instant=True,
        ),
        Panel(
            "在营校车 Buses in service",
            "stat",
            (
                ('sum(safecampus_bus_terminals_reporting{route=~"$route"})', "在营"),
                ('sum(safecampus_bus_terminals{route=~"$route"})', "登记"),
            ),
            width=6,
            instant=True,
        ),
        Panel(
            "超速次数（按线路） Overspeed episodes",
            "bargauge",
            (('sum by (route) (safecampus_bus_overspeed_episodes_total{route=~"$route"})', "{{route}}"),),
            width=8,
            instant=True,
        ),
        Panel(
            "偏离路线时长 Off-route time",
            "bargauge",
            (('sum by (route) (safecampus_bus_off_route_seconds_total{route=~"$route"})', "{{route}}"),),
            unit="s",
            width=8,
            instant=True,
        ),
        Panel(
            "每百公里超速 Overspeed per 100 km",
            "bargauge",
            (('safecampus:bus_overspeed_per_100km:ratio_route{route=~"$route"}', "{{route}}"),),
            width=8,
            instant=True,
        ),
        Panel(
            "未上报终端（按线路） Silent terminals by route",
            "bargauge",
            (('safecampus:bus_terminals_silent:count_route{route=~"$route"}', "{{route}}"),),
            width=8,
            instant=True,
        ),
        Panel(
            "校车告警（按规则） Bus alerts by rule",
            "table",
            (("sum by (rule, severity) (safecampus_bus_alerts_total)", "{{rule}}"),),
            width=8,
            instant=True,
        ),
        Panel(
            "行驶里程（公里） Distance driven",
            "bargauge",
            (('sum by (route) (safecampus_bus_distance_meters_total{route=~"$route"}) / 1000', "{{route}}"),),
            unit="km",
            width=8,
            instant=True,
        ),
    ),
    variables=ROUTE_VARIABLES,
)

PIPELINE = Board(
    "safecampus-pipeline",
    "平安校园 · 流水线运行 Pipeline health",
    ("safecampus", "pipeline"),
    (
        Panel(
            "事件速率（每秒） Events per second",
            "timeseries",
            (("safecampus:security_events:rate5m", "security"), ("safecampus:bus_events:rate5m", "bus")),
            unit="ops",
            width=12,
        ),
        Panel(
            "死信速率（按步骤） DLQ rate by step",
            "timeseries",
            (("sum by (domain, step) (rate(safecampus_dlq_records_total[5m])) or vector(0)", "{{domain}} {{step}}"),),
            unit="ops",
            width=12,
        ),
        Panel(
            "消费组积压 Consumer lag",
            "timeseries",
            (("sum by (group, topic) (safecampus_kafka_consumer_lag_messages)", "{{group}} {{topic}}"),),
            width=12,
            live=True,
        ),
        Panel(
            "KPI 记录（按领域） KPI records read",
            "table",
            (("sum by (domain, mapped) (safecampus_kpi_records_total)", "{{domain}}"),),
            width=8,
            instant=True,
        ),
        Panel(
            "事件时间滞后 Event-time lag (end to end)",
            "stat",
            (("max by (domain) (safecampus:kpi_event_lag:seconds)", "{{domain}}"),),
            unit="s",
            width=8,
            instant=True,
        ),
        Panel(
            "导出器抓取 Exporter scrape",
            "stat",
            (('up{job="safecampus"}', "up"), ('scrape_duration_seconds{job="safecampus"}', "抓取耗时 s")),
            width=8,
            instant=True,
        ),
    ),
    variables=ROUTE_VARIABLES,
)

CITY_WIDE, COUNTY = 'district=""', 'district=~"$district", district!=""'  # a plan figure's city and county series
PLAN = Board(
    "safecampus-plan",
    "平安校园 · 规划与创建 Plan and certification",
    ("safecampus", "plan"),
    (
        Panel("规划目标完成率 Plan targets done (%)", "bargauge", ((
            f"clamp_max(100 * max by (target) (safecampus_plan_target_done{{{CITY_WIDE}}})"
            " / max by (target) (safecampus_plan_target_goal), 100)", "{{target}}"),), "percent", 12, 9, True),
        Panel("期限时预测完成率 Forecast at the deadline (%)", "bargauge", ((
            "clamp_max(100 * max by (target) (safecampus_plan_target_forecast)"
            " / max by (target) (safecampus_plan_target_goal), 100)", "{{target}}"),), "percent", 12, 9, True),
        Panel("滞后事项（按目标） Late items by target", "bargauge", ((
            f"max by (target) (safecampus_plan_target_late_items{{{CITY_WIDE}}})", "{{target}}"),), "short", 8, 8,
            True),
        Panel("滞后事项（按区县） Late items by county", "bargauge", ((
            f"sum by (district) (safecampus_plan_target_late_items{{{COUNTY}}})", "{{district}}"),), "short", 8, 8,
            True),
        Panel("全市创建得分与达标区县 City score, counties certified", "stat", (
            (f"max(safecampus_certification_score{{{CITY_WIDE}}})", "全市得分 city"),
            ("sum(safecampus_certification_passed)", "达标区县 certified")), "short", 8, 8, True),
        Panel("各区县创建得分 Certification score by county", "bargauge", ((
            f"max by (district) (safecampus_certification_score{{{COUNTY}}})", "{{district}}"),), "short", 12, 8, True),
        Panel("各区县未达标指标数 Indicators failed by county", "bargauge", ((
            'count by (district) (safecampus_certification_indicator_passed{district=~"$district"} == 0)',
            "{{district}}"),), "short", 12, 8, True),
    ),
)  # fmt: skip

BOARDS = (CONTROL_ROOM, TRANSPORT, PIPELINE, PLAN, CANTEEN, FIRE)


def _variable(variable: Variable) -> db.QueryVariable:
    return (
        db.QueryVariable(variable.name)
        .label(variable.label)
        .datasource(DATASOURCE)
        .query(variable.query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .multi(True)
    )


def _panel(panel: Panel) -> Any:
    builders: dict[str, Any] = {
        "stat": stat.Panel,
        "timeseries": timeseries.Panel,
        "table": table.Panel,
        "bargauge": bargauge.Panel,
    }
    built = builders[panel.kind]().title(panel.title).datasource(DATASOURCE).unit(panel.unit)
    built = built.span(panel.width).height(panel.height)
    for number, (expr, legend) in enumerate(panel.queries):
        query = prom.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + number))
        built = built.with_target(query.instant() if panel.instant else query.range())
    return built


def build(board: Board) -> dict[str, Any]:
    """The dashboard's JSON model (what Grafana's provisioning and HTTP API take)."""
    dash = (
        db.Dashboard(board.title)
        .uid(board.uid)
        .tags(list(board.tags))
        .timezone("Asia/Shanghai")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
    )
    for variable in board.variables:
        dash = dash.with_variable(_variable(variable))
    for panel in board.panels:
        dash = dash.with_panel(_panel(panel))
    model: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(dash.build()))
    return model


def rendered() -> dict[str, str]:
    """File name → JSON text of every board, as committed under dashboards/json/."""
    return {f"{b.uid}.json": json.dumps(build(b), ensure_ascii=False, indent=2, sort_keys=True) + "\n" for b in BOARDS}


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    return written


def queries(model: dict[str, Any], live: bool | None = None) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every target of a dashboard model; `live` True or False keeps only the
    panels that need (or do not need) an exporter following Kafka."""
    live_titles = {p.title for b in BOARDS for p in b.panels if p.live}
    for panel in model.get("panels", []):
        if live is not None and (panel["title"] in live_titles) != live:
            continue
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
