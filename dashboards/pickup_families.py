"""The exporter's families of pick-up centres (docs/pickup-centres.md), labelled by centre (13 in the plan).

Counters come from the `kpis` topic (additive batches) and from replays' KPI files; the peak occupancy is a
replay's figure (a peak is no sum: the streaming topic carries the centre-day records instead).
"""

from __future__ import annotations

from safecampus.dashboards.families import Family
from safecampus.dashboards.families import kpi_family as _kpi

CENTRE = ("centre",)
PICKUP_FAMILIES: tuple[Family, ...] = (
    _kpi("safecampus_pickup_vehicles_in_total", "counter", "pickup_vehicles_in_total", CENTRE, CENTRE,
         "接送中心驶入车辆数 — vehicles into a pick-up centre (barrier passages, counters' counts)"),
    _kpi("safecampus_pickup_vehicles_out_total", "counter", "pickup_vehicles_out_total", CENTRE, CENTRE,
         "接送中心驶出车辆数 — vehicles out of a pick-up centre"),
    _kpi("safecampus_pickup_incidents_total", "counter", "pickup_incidents_total", CENTRE, CENTRE,
         "接送中心安防事件数 — security incidents raised by a centre's devices (the KPI also has them by month)"),
    _kpi("safecampus_pickup_congestion_alerts_total", "counter", "pickup_congestion_alerts_total", CENTRE, CENTRE,
         "接送中心拥堵告警数 — congestion alerts at drop-off and pick-up, once each"),
    _kpi("safecampus_pickup_bus_visits_total", "counter", "pickup_bus_visits_total", CENTRE, CENTRE,
         "校车进入接送中心次数 — school buses arriving at a centre"),
    _kpi("safecampus_pickup_bus_dwell_seconds_total", "counter", "pickup_bus_dwell_seconds_total", CENTRE, CENTRE,
         "校车在接送中心停留总秒数 — seconds buses stayed (mean dwell = this / visits)"),
    _kpi("safecampus_pickup_peak_occupancy", "gauge", "pickup_peak_occupancy", CENTRE, CENTRE,
         "接送中心最高在场车辆数 — the most vehicles inside a centre at once (a replay's period)"),
)  # fmt: skip
