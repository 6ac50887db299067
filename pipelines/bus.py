"""School buses: JT/T 808 frames and escort-app events normalized into BusEvents, enriched, checked.

A 0x0200 frame is one fix, a 0x0704 batch several; registration, authentication and heartbeat
frames become heartbeats (the terminal is alive). Enrichment adds bus, plate, route, operator,
school and district from the registry; an unknown terminal keeps `bus_id=None`.

`BusDetector` (one per terminal, event time) applies the rules of DOMAIN_RULES.md "School buses":
overspeed, off-route, schedule adherence at timed stops, silent terminal, registry checks once
per service day, terminal alarm flags, and the escort's "all off" confirmation after a run.
Speed limit: the registry has no road class, so every fix is held to `overspeed_other_kmh`
(60 km/h); the expressway and hazard limits need map matching we do not have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from safecampus.config import Settings
from safecampus.connectors.jt808 import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_REGISTER,
    Jt808Error,
    LocationBatch,
    LocationReport,
    decode_frame,
)
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus_detection import TRIP_COMPLETED, BusDetector, latlon
from safecampus.pipelines.bus_geometry import (
    RouteGeometry,
    TripPlan,
    gtfs_seconds,
    metres_between,
)
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, payload_of
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import Bus

MAX_SEGMENT_KMH = 150.0  # a jump faster than this between two fixes is a GPS error, not distance driven
_REPORTED = "_bus_terminal_reported"  # helper partial per terminal for the fleet online ratio


class EscortEvent(BaseModel):
    """The escort app's JSON form: `{"terminal_id": "013800000001", "kind": "all_off", "time": "…+08:00"}`."""

    model_config = ConfigDict(extra="forbid")
    terminal_id: str
    kind: str
    time: datetime


class BusPipeline(DomainPipeline[BusEvent]):
    """Decode and enrich bus records; one `BusDetector` per terminal; fleet KPIs."""

    domain = "bus"
    event_type = BusEvent

    def __init__(self, settings: Settings, registry: RegistryView) -> None:
        super().__init__(settings, registry)
        self.geometry = RouteGeometry(registry)
        self._trips_of_bus = assign_trips(registry)

    def decode(self, envelope: RawEnvelope) -> list[BusEvent]:
        raw = payload_of(envelope)
        if envelope.source == "bus-json":
            try:
                escort = EscortEvent.model_validate_json(raw)
            except ValueError as exc:
                reason = f"escort event is not valid: {str(exc).splitlines()[0]}"
                raise DecodeError("decode", reason) from None
            return [self._enrich(terminal_id=escort.terminal_id, kind=escort.kind, occurred_at=escort.time)]
        if envelope.source != "jt808":
            raise DecodeError("decode", f"source format {envelope.source!r} is not a bus format")
        try:
            message = decode_frame(raw)
        except Jt808Error as exc:
            raise DecodeError("decode", f"JT/T 808 frame {raw.hex()[:80]}: {exc}") from None
        payload = message.payload
        if isinstance(payload, LocationReport):
            return [self._fix(message.phone, payload)]
        if isinstance(payload, LocationBatch):
            return [self._fix(message.phone, report) for report in payload.locations]
        if message.message_id in (MSG_HEARTBEAT, MSG_REGISTER, MSG_AUTH):
            # These frames carry no device time: the gateway's receive time stands in.
            return [self._enrich(terminal_id=message.phone, kind="heartbeat", occurred_at=envelope.received_at)]
        raise DecodeError("decode", f"JT/T 808 message 0x{message.message_id:04x} carries no bus event")

    def _fix(self, terminal_id: str, report: LocationReport) -> BusEvent:
        return self._enrich(
            terminal_id=terminal_id,
            kind="fix",
            occurred_at=report.time,
            lat_deg=report.lat_deg,
            lon_deg=report.lon_deg,
            speed_kmh=report.speed_kmh,
            direction_deg=report.direction_deg % 360,
            altitude_m=report.altitude_m,
            alarm_flags=report.alarm_flags,
            status_flags=report.status_flags,
        )

    def _enrich(self, terminal_id: str, kind: str, occurred_at: datetime, **fields: object) -> BusEvent:
        bus = self.registry.buses_by_terminal.get(terminal_id)
        at = occurred_at.astimezone(UTC)
        event_id = f"{terminal_id}/{kind}/{at:%Y%m%dT%H%M%S}"
        if bus is None:
            return BusEvent.model_validate(
                {"event_id": event_id, "terminal_id": terminal_id, "kind": kind, "occurred_at": at, **fields}
            )
        return BusEvent.model_validate(
            {
                "event_id": event_id,
                "terminal_id": terminal_id,
                "kind": kind,
                "occurred_at": at,
                "plate": bus.plate,
                "bus_id": bus.bus_id,
                "route_id": bus.route_id,
                "operator_id": bus.operator_id,
                "school_id": bus.school_id,
                "district": self.registry.district_of_school(bus.school_id),
                **fields,
            }
        )

    def subject(self, event: BusEvent) -> str:
        return event.terminal_id

    def event_id(self, event: BusEvent) -> str:
        return event.event_id

    def new_detector(self, subject: str) -> BusDetector:
        return BusDetector(self, subject)

    def trip_plans(self, bus: Bus | None) -> list[TripPlan]:
        """The trips a bus may be running (its assignment, else every trip of its route)."""
        if bus is None or not bus.route_id:
            return []
        trip_ids = self._trips_of_bus.get(bus.bus_id) or [
            t.trip_id for t in self.registry.trips.values() if t.route_id == bus.route_id
        ]
        return [plan for plan in map(self.geometry.trip, trip_ids) if plan is not None]

    def kpi_partials(self, events: Sequence[BusEvent], alerts: Sequence[Alert]) -> KpiPartials:
        partials: KpiPartials = {}
        fixes: dict[str, list[BusEvent]] = defaultdict(list)
        for event in events:
            add(partials, "bus_events_total")
            if event.bus_id is not None and event.kind in ("fix", "heartbeat"):
                add(partials, _REPORTED, terminal=event.terminal_id)
            if event.kind == "fix" and event.lat_deg is not None and event.lon_deg is not None:
                fixes[event.terminal_id].append(event)
        for track in fixes.values():
            # Distance within this chunk only: one segment is lost per chunk boundary (< 1 % of a run).
            track.sort(key=lambda e: e.occurred_at)
            for a, b in zip(track, track[1:], strict=False):
                km = metres_between(latlon(a), latlon(b)) / 1000
                hours = (b.occurred_at - a.occurred_at).total_seconds() / 3600
                if hours > 0 and km / hours <= MAX_SEGMENT_KMH:
                    _add_route(partials, "bus_distance_km", b.route_id, km)
        for alert in alerts:
            route = self._route_of(alert.subject)
            if alert.rule == TRIP_COMPLETED:
                for visit in alert.evidence:
                    if visit.get("status") in ("on_time", "early", "late"):
                        on_time = 1.0 if visit["status"] == "on_time" else 0.0
                        for metric, value in (("bus_stop_visits", 1.0), ("bus_stop_visits_on_time", on_time)):
                            add(partials, metric, value, route=route, stop=str(visit["stop_id"]))
                            _add_route(partials, metric, route, value)
                continue
            if alert.status == "firing":
                add(partials, "bus_alerts_total", rule=alert.rule, severity=alert.severity)
                if alert.rule == "bus.overspeed":
                    _add_route(partials, "bus_overspeed_events", route)
            elif alert.status == "resolved" and alert.rule == "bus.off_route":
                minutes = (alert.detected_at - alert.occurred_at).total_seconds() / 60
                _add_route(partials, "bus_off_route_minutes", route, minutes)
        return partials

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        out: KpiPartials = {key: value for key, value in totals.items() if not key[0].startswith("_")}
        if self.registry.buses_by_terminal:
            reported = sum(1 for (metric, _), value in totals.items() if metric == _REPORTED and value > 0)
            out[("bus_fleet_online_ratio", ())] = reported / len(self.registry.buses_by_terminal)
        for (metric, labels), value in totals.items():
            if metric == "bus_stop_visits" and value > 0:
                on_time = totals.get(("bus_stop_visits_on_time", labels), 0.0)
                out[("bus_on_time_ratio", labels)] = on_time / value
            if metric == "bus_distance_km" and value > 0:
                events = totals.get(("bus_overspeed_events", labels), 0.0)
                out[("bus_overspeed_per_100km", labels)] = events / value * 100
        return out

    def _route_of(self, terminal_id: str) -> str:
        bus = self.registry.buses_by_terminal.get(terminal_id)
        return (bus.route_id if bus else None) or "none"


def _add_route(partials: KpiPartials, metric: str, route: str | None, value: float = 1.0) -> None:
    """Add to a metric by route and to its city-wide total (no labels): both stay additive."""
    add(partials, metric, value, route=route or "none")
    add(partials, metric, value)


def assign_trips(registry: RegistryView) -> dict[str, list[str]]:
    """bus_id → the trips it runs, in departure order.

    The registry has no vehicle-to-trip (GTFS block) assignment. The plate of each school bus
    records its run (Order 617 Arts. 28–33), and a route's buses take its trips round robin: in
    bus_id order, bus k runs trips k, k + n, … of the route's trips by first departure. Without
    this, trips a few minutes apart cannot be told apart once a bus runs late.
    """
    trips: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for trip in registry.trips.values():
        times = registry.stop_times.get(trip.trip_id, [])
        first = next((t.departure_time or t.arrival_time for t in times if t.departure_time or t.arrival_time), None)
        if first:
            trips[trip.route_id].append((gtfs_seconds(first), trip.trip_id))
    buses: dict[str, list[str]] = defaultdict(list)
    for bus in registry.buses_by_terminal.values():
        if bus.route_id:
            buses[bus.route_id].append(bus.bus_id)
    assignment: dict[str, list[str]] = {}
    for route_id, bus_ids in buses.items():
        ordered = [trip_id for _, trip_id in sorted(trips.get(route_id, []))]
        for k, bus_id in enumerate(sorted(bus_ids)):
            assignment[bus_id] = ordered[k :: len(bus_ids)]
    return assignment
