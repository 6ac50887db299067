"""Fleet KPIs of the bus domain, as additive partials and the ratios derived from their sums.

    bus_events_total, bus_alerts_total{rule,severity}
    bus_distance_km{route}, bus_overspeed_events{route}, bus_overspeed_per_100km{route}
    bus_off_route_minutes{route}
    bus_stop_visits{route,stop}, bus_stop_visits_on_time{route,stop}, bus_on_time_ratio{route,stop}
    bus_fleet_online_ratio, bus_terminals{route}, bus_terminals_reporting{route}
    pickup_bus_visits_total{centre}, pickup_bus_dwell_seconds_total{centre}, pickup_bus_mean_dwell_seconds{centre}

Each by-route metric is also counted city-wide (no labels). On-time counts come from the runs
(`BusRun`) detection derives, not from alerts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from safecampus.pipelines.bus.geometry import metres_between
from safecampus.pipelines.domain import KpiPartials, add
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun, CentreVisit
from safecampus.schemas.common import Record

MAX_SEGMENT_KMH = 150.0  # a jump faster than this between two fixes is a GPS error, not distance driven
# Per-terminal partial behind the fleet online ratio and buses in service; on the kpis topic (the exporter folds
# it into counts by route), dropped from replay's final KPIs like every per-terminal figure.
REPORTED = "bus_terminal_events_total"


def latlon(event: BusEvent) -> tuple[float, float]:
    return event.lat_deg or 0.0, event.lon_deg or 0.0


def bus_partials(
    events: Sequence[BusEvent], alerts: Sequence[Alert], runs: Sequence[Record], route_of: Callable[[str], str]
) -> KpiPartials:
    """Additive counts of a chunk; `route_of(terminal_id)` is the route a terminal's bus is registered on."""
    partials: KpiPartials = {}
    fixes: dict[str, list[BusEvent]] = defaultdict(list)
    for event in events:
        add(partials, "bus_events_total")
        if event.bus_id is not None and event.kind in ("fix", "heartbeat"):
            add(partials, REPORTED, terminal=event.terminal_id)
        if event.kind == "fix" and event.lat_deg is not None and event.lon_deg is not None:
            fixes[event.terminal_id].append(event)
    for track in fixes.values():
        # Distance within this chunk only: one segment is lost per chunk boundary (< 1 % of a run).
        track.sort(key=lambda e: e.occurred_at)
        for a, b in zip(track, track[1:], strict=False):
            km = metres_between(latlon(a), latlon(b)) / 1000
            hours = (b.occurred_at - a.occurred_at).total_seconds() / 3600
            if hours > 0 and km / hours <= MAX_SEGMENT_KMH:
                add_route(partials, "bus_distance_km", b.route_id, km)
    for run in runs:
        if isinstance(run, CentreVisit):
            add(partials, "pickup_bus_visits_total", centre=run.centre_id)
            add(partials, "pickup_bus_dwell_seconds_total", float(run.dwell_s), centre=run.centre_id)
        if isinstance(run, BusRun):
            route = route_of(run.subject)
            for visit in run.visits:
                if visit.status != "missed":
                    on_time = 1.0 if visit.status == "on_time" else 0.0
                    for metric, value in (("bus_stop_visits", 1.0), ("bus_stop_visits_on_time", on_time)):
                        add(partials, metric, value, route=route, stop=visit.stop_id)
                        add_route(partials, metric, route, value)
    for alert in alerts:
        route = route_of(alert.subject)
        if alert.status == "firing":
            add(partials, "bus_alerts_total", rule=alert.rule, severity=alert.severity)
            if alert.rule == "bus.overspeed":
                add_route(partials, "bus_overspeed_events", route)
        elif alert.status == "resolved" and alert.rule == "bus.off_route":
            minutes = (alert.detected_at - alert.occurred_at).total_seconds() / 60
            add_route(partials, "bus_off_route_minutes", route, minutes)
    return partials


def finish_bus_kpis(totals: KpiPartials, fleet: dict[str, str]) -> KpiPartials:
    """The ratios of the summed partials; helper partials (names starting with `_`) are dropped.

    `fleet` maps each registered terminal to its route: `bus_terminals{route}` and
    `bus_terminals_reporting{route}` are the fleet online ratio's denominator and numerator by route."""
    out: KpiPartials = {
        key: value for key, value in totals.items() if not key[0].startswith("_") and key[0] != REPORTED
    }
    reporting = {dict(labels)["terminal"] for (metric, labels), value in totals.items() if metric == REPORTED and value}
    if fleet:
        out[("bus_fleet_online_ratio", ())] = len(reporting & fleet.keys()) / len(fleet)
    for terminal, route in fleet.items():
        add(out, "bus_terminals", route=route)
        add(out, "bus_terminals_reporting", float(terminal in reporting), route=route)
    for (metric, labels), value in totals.items():
        if metric == "bus_stop_visits" and value > 0:
            on_time = totals.get(("bus_stop_visits_on_time", labels), 0.0)
            out[("bus_on_time_ratio", labels)] = on_time / value
        if metric == "pickup_bus_visits_total" and value > 0:
            dwell = totals.get(("pickup_bus_dwell_seconds_total", labels), 0.0)
            out[("pickup_bus_mean_dwell_seconds", labels)] = dwell / value
        if metric == "bus_distance_km" and value > 0:
            events = totals.get(("bus_overspeed_events", labels), 0.0)
            out[("bus_overspeed_per_100km", labels)] = events / value * 100
    return out


def add_route(partials: KpiPartials, metric: str, route: str | None, value: float = 1.0) -> None:
    """Add to a metric by route and to its city-wide total (no labels): both stay additive."""
    add(partials, metric, value, route=route or "none")
    add(partials, metric, value)
