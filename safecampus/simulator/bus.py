"""A school morning of bus terminals speaking JT/T 808, driven along the GTFS shapes.

Each bus runs its trip as `bus_timing.drive` has it (traffic by time of day, dwell at stops, the
odd jam; its stop arrivals are the ground truth of `GroundTruth.arrivals`); fixes every
`report_interval_s`, as 0x0200 frames (hex). Injected:
overspeed, off-route, a late trip, a silent terminal, an unregistered terminal, a run with no
"all off" confirmation, an illegal door opening, and a tunnel whose fixes arrive late as a
0x0704 blind-area batch. The escort's "all off" confirmation comes from the escort app as JSON. A run ending
at a pick-up centre waits there a few minutes and drives off (its own random stream: the rest is unchanged).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
from collections.abc import Iterator
from datetime import date, datetime

from safecampus.connectors.bus.jt808_encode import encode_batch_body, encode_location_body, encode_pieces
from safecampus.connectors.bus.jt808_frame import MSG_LOCATION, MSG_LOCATION_BATCH, encode_frame
from safecampus.connectors.bus.jt808_messages import (
    ALARM_ILLEGAL_DOOR_OPENING,
    ALARM_OVERSPEED,
    STATUS_ACC_ON,
    STATUS_DOOR1_OPEN,
    STATUS_POSITIONED,
    LocationReport,
)
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import Bus, GtfsShapePoint, GtfsStopTime, GtfsTrip
from safecampus.simulator.bus_timing import drive
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local

UNREGISTERED_TERMINAL = "013899999999"
PIECE_BYTES = 512  # simulated terminals split a longer body into pieces (a blind-area 0x0704 batch)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dn = (b[0] - a[0]) * 111_320.0
    de = (b[1] - a[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(dn, de)


def _seconds(hhmmss: str) -> int:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return h * 3600 + m * 60 + s


def _trip_path(
    city: City, trip: GtfsTrip
) -> tuple[list[tuple[float, float]], list[tuple[float, int]], list[tuple[str, int]]]:
    """Shape points, (distance along shape, scheduled second) and (stop_id, stop_sequence) of each stop."""
    points = [
        (p.shape_pt_lat, p.shape_pt_lon)
        for p in city.gtfs
        if isinstance(p, GtfsShapePoint) and p.shape_id == trip.shape_id
    ]
    times = sorted(
        (t for t in city.gtfs if isinstance(t, GtfsStopTime) and t.trip_id == trip.trip_id),
        key=lambda t: t.stop_sequence,
    )
    cumulative = [0.0]
    for a, b in zip(points, points[1:], strict=False):
        cumulative.append(cumulative[-1] + _metres(a, b))
    stop_index = [0, 6, 12, 18, 24, 30, 36, len(points) - 1]
    schedule = [
        (cumulative[i], _seconds(t.arrival_time or "00:00:00")) for i, t in zip(stop_index, times, strict=False)
    ]
    return points, schedule, [(t.stop_id, t.stop_sequence) for t in times]


def _position(points: list[tuple[float, float]], distance: float, along: list[float]) -> tuple[float, float, int]:
    """The point `distance` metres along the shape; `along`: metres along it of each shape point."""
    for i in range(max(1, bisect.bisect_left(along, distance)), len(points)):
        a, b = points[i - 1], points[i]
        seg = along[i] - along[i - 1]
        if along[i] >= distance and seg > 0:
            f = (distance - along[i - 1]) / seg
            heading = math.degrees(math.atan2((b[1] - a[1]) * math.cos(math.radians(a[0])), b[0] - a[0])) % 360
            return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), int(heading) % 360
    return points[-1][0], points[-1][1], 0


def _frame(bus_terminal: str, serial: int, body: bytes, message_id: int = MSG_LOCATION) -> str:
    """One frame in hex; a body over PIECE_BYTES as its pieces, together, as the gateway stores them."""
    if len(body) > PIECE_BYTES:
        return b"".join(encode_pieces(message_id, bus_terminal, serial, body, piece_bytes=PIECE_BYTES)).hex()
    return encode_frame(message_id, bus_terminal, serial, body).hex()


def _located(terminal: str, serial: int, report: LocationReport, received_at: datetime) -> RawEnvelope:
    """One 0x0200 location report as the JT/T 808 gateway stores it."""
    return RawEnvelope(
        domain="bus",
        source="jt808",
        encoding="hex",
        content_type="application/octet-stream",
        payload=_frame(terminal, serial, encode_location_body(report)),
        received_at=received_at,
        gateway="jt808-gw-1",
        key=terminal,
    )


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    trips = [t for t in city.gtfs if isinstance(t, GtfsTrip)]
    runs: list[tuple[str, Bus | None, GtfsTrip]] = []
    for bus in city.buses:
        trip = next(
            t for t in trips if t.route_id == bus.route_id and t.trip_id.endswith(f"-{int(bus.bus_id[1:]) % 6}")
        )
        runs.append((bus.terminal_id, bus, trip))
    runs.append((UNREGISTERED_TERMINAL, None, trips[0]))
    for terminal, run_bus, trip in runs:
        yield from _run(city, day, rng, truth, terminal, run_bus, trip)


def _run(
    city: City, day: date, rng: random.Random, truth: GroundTruth, terminal: str, bus: Bus | None, trip: GtfsTrip
) -> Iterator[RawEnvelope]:
    no = int(bus.bus_id[1:]) if bus else -1
    interval = bus.report_interval_s if bus else 15
    points, schedule, stops = _trip_path(city, trip)
    along = list(itertools.accumulate((_metres(a, b) for a, b in zip(points, points[1:], strict=False)), initial=0.0))
    delay = 540 if no == 12 else rng.randint(-20, 60)
    run = drive(trip.route_id, schedule, delay, random.Random(rng.random()), recover=no != 12)
    start, end = schedule[0][1] + delay - 120, run.arrivals[-1] + 60
    if bus is None:
        truth.add("bus", "unregistered", terminal, local(day, start))
    else:
        truth.arrive(
            terminal, trip.trip_id, [(*stop, local(day, a)) for stop, a in zip(stops, run.arrivals, strict=False)]
        )
    serial = 0
    tunnel: list[LocationReport] = []
    t = start
    fixes = int((end - start) // interval)
    for k in range(fixes):
        t = start + k * interval
        distance = run.distance_at(t)
        lat, lon, heading = _position(points, distance, along)
        moving = run.speed_kmh(t)
        speed = 0.0 if moving == 0 else max(5.0, moving + rng.uniform(-3, 3))
        alarm, status = 0, STATUS_ACC_ON | STATUS_POSITIONED
        share = k / fixes
        if no == 3 and 0.40 < share < 0.52:
            speed, alarm = rng.uniform(72, 78), ALARM_OVERSPEED
            if abs(share - 0.41) < 1 / fixes:
                truth.add("bus", "overspeed", terminal, local(day, t))
        if no == 8 and 0.60 < share < 0.66:
            lat += 0.0022  # ~245 m north of the road
            if abs(share - 0.61) < 1 / fixes:
                truth.add("bus", "off_route", terminal, local(day, t))
        if no == 35 and abs(share - 0.3) < 0.5 / fixes:
            alarm, status = ALARM_ILLEGAL_DOOR_OPENING, status | STATUS_DOOR1_OPEN
            truth.add("bus", "illegal_door_opening", terminal, local(day, t))
        if no == 20 and 0.45 < share < 0.60:
            if abs(share - 0.46) < 1 / fixes:
                truth.add("bus", "terminal_silent", terminal, local(day, t))
            continue
        report = LocationReport(
            lat_deg=round(lat, 6),
            lon_deg=round(lon, 6),
            time=local(day, t),
            altitude_m=8,
            speed_kmh=round(speed, 1),
            direction_deg=heading,
            alarm_flags=alarm,
            status_flags=status,
            extra={0x01: round(distance / 100) / 10, 0x30: 25, 0x31: 12},
        )
        if no == 44 and 0.3 < share < 0.4:
            tunnel.append(report)  # no signal in the tunnel: stored and uploaded later as 0x0704
            continue
        if tunnel:
            serial += 1
            batch = encode_batch_body(tunnel, 1)
            payload = _frame(terminal, serial, batch, MSG_LOCATION_BATCH)
            serial += -(-len(batch) // PIECE_BYTES) - 1  # the pieces took consecutive serials
            yield RawEnvelope(
                domain="bus",
                source="jt808",
                encoding="hex",
                content_type="application/octet-stream",
                payload=payload,
                received_at=local(day, t + 2),
                gateway="jt808-gw-1",
                key=terminal,
            )
            truth.add("bus", "late_batch", terminal, tunnel[0].time)
            tunnel = []
        serial += 1
        yield _located(terminal, serial, report, local(day, t + rng.uniform(0.2, 1.5)))
    centre = next((c for c in city.centres if _metres((c.lat, c.lon), points[-1]) <= c.geofence_m), None)
    if centre is not None:  # the run ends at a pick-up centre: the bus waits there, then drives off
        own = random.Random(f"{terminal}/{day.isoformat()}/centre")
        leave = run.arrivals[-1] + own.uniform(240, 480)
        t = start + fixes * interval
        for k in itertools.count():
            t = start + (fixes + k) * interval
            moved = max(0.0, (t - leave) * 7.0)  # 25 km/h out of the centre, north-east
            if moved > 400:
                break
            lat = points[-1][0] + moved * 0.7 / 111_320.0
            lon = points[-1][1] + moved * 0.7 / (111_320.0 * math.cos(math.radians(points[-1][0])))
            report = LocationReport(lat_deg=round(lat, 6), lon_deg=round(lon, 6), time=local(day, t), altitude_m=2,
                                    speed_kmh=25.0 if moved else 0.0, direction_deg=45,
                                    status_flags=STATUS_ACC_ON | STATUS_POSITIONED)  # fmt: skip
            serial += 1
            yield _located(terminal, serial, report, local(day, t + own.uniform(0.2, 1.5)))
    if no == 12:
        truth.add("bus", "late_arrival", terminal, local(day, run.arrivals[1]))
    if no == 30:
        truth.add("bus", "no_all_off", terminal, local(day, end))
    elif bus is not None:
        body = {"terminal_id": terminal, "kind": "all_off", "time": local(day, end + 30).isoformat()}
        yield RawEnvelope(
            domain="bus",
            source="bus-json",
            payload=json.dumps(body),
            received_at=local(day, end + 31),
            gateway="escort-app",
            key=terminal,
        )
