"""What the exporter serves: the catalogue of Prometheus metric families and how KPI records, alerts and
DLQ records become their samples (issue 11).

Names follow Prometheus conventions (`safecampus_` prefix, base units, `_total` for counters, `_seconds`
for durations). Labels are bounded (district, school, route, rule, severity, kind, indicator, event type,
step, and the registry's canteens and institutions); a device, terminal, stop, fix or fingerprint is never a
label. Ratios are not computed here: the families are numerators and denominators, and
`deploy/prometheus/rules/*.yml` derives the ratios.

A domain plugs in by adding its KPI families to `FAMILIES` (each names the KPI it comes from; a domain with
many lives in a module of its own, `canteen_families.py`, `fire_families.py`, `plan_families.py`);
`docs/metrics.md` is generated from this table (`python -m safecampus.dashboards.rules docs/metrics.md`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from safecampus.dashboards.canteen_families import CANTEEN_FAMILIES
from safecampus.dashboards.families import BOUNDED_LABELS as BOUNDED_LABELS  # re-exported: the catalogue's rule
from safecampus.dashboards.families import Family
from safecampus.dashboards.families import kpi_family as _kpi
from safecampus.dashboards.fire_families import FIRE_FAMILIES
from safecampus.dashboards.pickup_families import PICKUP_FAMILIES
from safecampus.dashboards.plan_families import PLAN_FAMILIES
from safecampus.schemas.alert import Alert
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.kpi import Kpi

ALERT_LABELS = ("domain", "rule", "severity", "district", "school")
ACK_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)


SCHOOL = ("district", "school")
FAMILIES: tuple[Family, ...] = (
    # security
    _kpi(
        "safecampus_security_events_total",
        "counter",
        "security_events_total",
        ("event_type",),
        ("event_type",),
        "安防设备事件数（按事件类型） — security device events by event type",
    ),
    _kpi(
        "safecampus_security_alerts_total",
        "counter",
        "security_alerts_total",
        ("rule", "severity", *SCHOOL),
        ("rule", "school"),
        "安防告警数（每个告警计一次） — security alerts opened, once per alert",
    ),
    _kpi(
        "safecampus_security_devices",
        "gauge",
        "security_devices",
        (*SCHOOL, "kind"),
        ("school", "kind"),
        "登记设备数 — security devices in the registry (online rate denominator)",
    ),
    _kpi(
        "safecampus_security_devices_reporting",
        "gauge",
        "security_devices_reporting",
        (*SCHOOL, "kind"),
        ("school", "kind"),
        "本时段有上报的设备数 — devices that reported in the period (online rate numerator)",
    ),
    _kpi(
        "safecampus_security_police_linkable_devices",
        "gauge",
        "security_police_linkable_devices",
        (*SCHOOL, "kind"),
        ("school", "kind"),
        "应与公安联网的设备数（一键报警、视频） — alarm boxes and cameras that must be linked to the police",
    ),
    _kpi(
        "safecampus_security_police_linked_devices",
        "gauge",
        "security_police_linked_devices",
        (*SCHOOL, "kind"),
        ("school", "kind"),
        "已与公安联网的设备数 — of those, linked to the police",
    ),
    _kpi(
        "safecampus_security_four_100_met",
        "gauge",
        "security_four_100_met",
        (*SCHOOL, "indicator"),
        ("school", "indicator"),
        "学校是否达到“4个100%”指标（1 达到，0 未达到） — school meets the 4个100% indicator",
    ),
    # bus
    _kpi(
        "safecampus_bus_events_total",
        "counter",
        "bus_events_total",
        (),
        (),
        "校车终端事件数 — school-bus terminal events",
    ),
    _kpi(
        "safecampus_bus_alerts_total",
        "counter",
        "bus_alerts_total",
        ("rule", "severity"),
        ("rule",),
        "校车告警数 — school-bus alerts opened",
    ),
    _kpi(
        "safecampus_bus_distance_meters_total",
        "counter",
        "bus_distance_km",
        ("route",),
        ("route",),
        "校车行驶里程（米） — distance driven by route, metres",
        1000.0,
    ),
    _kpi(
        "safecampus_bus_overspeed_episodes_total",
        "counter",
        "bus_overspeed_events",
        ("route",),
        ("route",),
        "超速次数（每次超速计一次） — overspeed episodes by route",
    ),
    _kpi(
        "safecampus_bus_off_route_seconds_total",
        "counter",
        "bus_off_route_minutes",
        ("route",),
        ("route",),
        "偏离路线时长（秒） — time off the approved route, seconds",
        60.0,
    ),
    _kpi(
        "safecampus_bus_stop_visits_total",
        "counter",
        "bus_stop_visits",
        ("route",),
        ("route",),
        "到站次数 — stop visits by route (on-time rate denominator)",
    ),
    _kpi(
        "safecampus_bus_stop_visits_on_time_total",
        "counter",
        "bus_stop_visits_on_time",
        ("route",),
        ("route",),
        "准点到站次数 — on-time stop visits by route (on-time rate numerator)",
    ),
    _kpi(
        "safecampus_bus_terminals",
        "gauge",
        "bus_terminals",
        ("route",),
        ("route",),
        "登记校车终端数 — registered bus terminals by route",
    ),
    _kpi(
        "safecampus_bus_terminals_reporting",
        "gauge",
        "bus_terminals_reporting",
        ("route",),
        ("route",),
        "本时段有上报的校车终端数（在营校车） — terminals that reported in the period (buses in service)",
    ),
    *CANTEEN_FAMILIES,  # the canteen audit (canteen_families.py)
    *FIRE_FAMILIES,  # childcare fire safety (fire_families.py)
    *PLAN_FAMILIES,  # the plan's targets and the certification scorecard (plan_families.py)
    *PICKUP_FAMILIES,  # pick-up centres (pickup_families.py)
    # every domain: alerts, DLQ, the pipeline itself
    Family(
        "safecampus_alerts_open",
        "gauge",
        ALERT_LABELS,
        "未关闭告警数（含已确认） — open alerts, acknowledged or not",
        "alerts topic / alerts.jsonl",
    ),
    Family(
        "safecampus_alerts_unacknowledged",
        "gauge",
        ALERT_LABELS,
        "未确认的未关闭告警数（升级依据） — open alerts nobody acknowledged (escalation input)",
        "alerts topic / alerts.jsonl",
    ),
    Family(
        "safecampus_alert_ack_seconds",
        "histogram",
        ("domain", "severity"),
        "从告警发生到确认的时长（秒） — time from an alert to its acknowledgement, seconds",
        "acknowledgement evidence of alerts",
    ),
    Family(
        "safecampus_dlq_records_total",
        "counter",
        ("domain", "step"),
        "无法使用的记录数（死信队列） — records sent to the DLQ by the step that refused them",
        "dlq topic / dlq.jsonl",
    ),
    Family(
        "safecampus_kpi_records_total",
        "counter",
        ("domain", "mapped"),
        "导出器收到的 KPI 记录数 — KPI records the exporter read (mapped=false: no family takes them)",
        "kpis topic / kpis.jsonl",
    ),
    Family(
        "safecampus_kpi_last_received_timestamp_seconds",
        "gauge",
        ("domain",),
        "最近收到 KPI 的时间（Unix 秒） — when the exporter last read a KPI, Unix seconds",
        "exporter clock",
    ),
    Family(
        "safecampus_kpi_window_end_timestamp_seconds",
        "gauge",
        ("domain",),
        "最新 KPI 窗口的事件时间（Unix 秒） — event time of the newest KPI window, Unix seconds",
        "KPI window_end",
    ),
    Family(
        "safecampus_kafka_consumer_lag_messages",
        "gauge",
        ("group", "topic"),
        "流水线消费组积压的记录数 — records the pipelines' consumer group has not committed yet, per raw topic",
        "Kafka end offsets − the group's committed offsets (--kafka)",
    ),
    Family(
        "safecampus_exporter_live",
        "gauge",
        (),
        "1 跟随 Kafka，0 读取目录 — 1 when following Kafka, 0 when serving a directory",
        "exporter mode",
    ),
)
BY_KPI: dict[str, Family] = {f.kpi: f for f in FAMILIES if f.kpi}
BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}

LabelValues = tuple[str, ...]


class MetricState:
    """The exporter's state: KPI sums, alerts by fingerprint, DLQ counts. Thread-safe; a Collector.

    KPI records are summed per family and label values: the kpis topic carries additive counts per
    batch, and a replay's kpis.jsonl one total per key, so summing serves both."""

    def __init__(self, live: bool = False) -> None:
        self.live = live
        self._lock = threading.Lock()
        self._values: dict[str, dict[LabelValues, float]] = defaultdict(lambda: defaultdict(float))
        self._set: dict[str, dict[LabelValues, float]] = {}  # families replaced whole (`replace`)
        self._alerts: dict[str, LabelValues] = {}  # fingerprint → alert labels, while open
        self._unacked: set[str] = set()
        self._acked: set[str] = set()  # fingerprints whose time to acknowledge was counted
        self._ack: dict[tuple[str, str], list[float]] = {}  # (domain, severity) → samples of seconds
        self._records: dict[LabelValues, float] = defaultdict(float)
        self._received: dict[str, float] = {}
        self._window_end: dict[str, float] = {}
        self._dlq: dict[LabelValues, float] = defaultdict(float)
        self._lag: dict[LabelValues, float] = {}

    def add_kpi(self, kpi: Kpi, received: float | None = None) -> bool:
        """Take one KPI record; True when a family takes it."""
        family = BY_KPI.get(kpi.metric)
        keys = set(kpi.labels)
        mapped = family is not None and set(family.required) <= keys <= set(family.labels)
        with self._lock:
            self._records[(kpi.domain, "true" if mapped else "false")] += 1
            self._received[kpi.domain] = received if received is not None else time.time()
            end = kpi.window_end.timestamp()
            self._window_end[kpi.domain] = max(end, self._window_end.get(kpi.domain, end))
            if family is not None and mapped:
                values = tuple(kpi.labels.get(label, "") for label in family.labels)
                self._values[family.name][values] += kpi.value * family.scale
        return mapped

    def replace(self, kpis: Iterable[tuple[str, dict[str, str], float]]) -> None:
        """Set whole families from (KPI metric, labels, value), e.g. the registry's counts in live mode."""
        fresh: dict[str, dict[LabelValues, float]] = {}
        for metric, labels, value in kpis:
            family = BY_KPI.get(metric)
            if family is None or not set(family.required) <= set(labels) <= set(family.labels):
                continue
            values = tuple(labels.get(label, "") for label in family.labels)
            fresh.setdefault(family.name, {})[values] = fresh.get(family.name, {}).get(values, 0.0) + value
        with self._lock:
            self._set.update(fresh)

    def add_alert(self, alert: Alert) -> None:
        """Take one alert update: the newest update of a fingerprint decides whether it is open."""
        labels = (alert.domain, alert.rule, alert.severity, alert.district or "", alert.school_id or "")
        with self._lock:
            fp = alert.fingerprint
            if alert.status in ("firing", "acknowledged"):
                self._alerts[fp] = labels
            else:
                self._alerts.pop(fp, None)
            if alert.status == "firing":
                self._unacked.add(fp)
            else:
                self._unacked.discard(fp)
            for item in alert.evidence:
                if item.get("kind") == "acknowledgement" and fp not in self._acked:
                    self._acked.add(fp)
                    seconds = float(item.get("seconds_to_ack", 0.0))
                    self._ack.setdefault((alert.domain, alert.severity), []).append(seconds)

    def add_dlq(self, record: DlqRecord) -> None:
        with self._lock:
            self._dlq[(record.domain, record.step)] += 1

    def set_lag(self, group: str, topic: str, records: float) -> None:
        with self._lock:
            self._lag[(group, topic)] = records

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            samples = {name: dict(values) for name, values in self._values.items()}
            samples.update({name: dict(values) for name, values in self._set.items()})
            open_, unacked = self._count_alerts()
            samples["safecampus_alerts_open"] = open_
            samples["safecampus_alerts_unacknowledged"] = unacked
            samples["safecampus_dlq_records_total"] = dict(self._dlq)
            samples["safecampus_kpi_records_total"] = dict(self._records)
            samples["safecampus_kpi_last_received_timestamp_seconds"] = {(d,): t for d, t in self._received.items()}
            samples["safecampus_kpi_window_end_timestamp_seconds"] = {(d,): t for d, t in self._window_end.items()}
            samples["safecampus_exporter_live"] = {(): 1.0 if self.live else 0.0}
            samples["safecampus_kafka_consumer_lag_messages"] = dict(self._lag)
            ack = {key: list(values) for key, values in self._ack.items()}
        for family in FAMILIES:
            if family.kind == "histogram":
                yield _histogram(family, ack)
                continue
            cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
            metric = cls(family.base, family.help, labels=family.labels)
            for values, value in sorted(samples.get(family.name, {}).items()):
                metric.add_metric(list(values), value)
            yield metric

    def _count_alerts(self) -> tuple[dict[LabelValues, float], dict[LabelValues, float]]:
        open_: dict[LabelValues, float] = defaultdict(float)
        unacked: dict[LabelValues, float] = defaultdict(float)
        for fp, labels in self._alerts.items():
            open_[labels] += 1
            unacked[labels] += fp in self._unacked
        return dict(open_), dict(unacked)


def _histogram(family: Family, samples: dict[tuple[str, str], list[float]]) -> Metric:
    metric = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    for (domain, severity), values in sorted(samples.items()):
        buckets = [(_le(bound), float(sum(v <= bound for v in values))) for bound in ACK_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        metric.add_metric([domain, severity], buckets, sum(values))
    return metric


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{int(bound)}.0"
