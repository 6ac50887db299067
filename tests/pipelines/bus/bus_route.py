"""A small hand-built GTFS route and bus traces along it, shared by the bus pipeline tests.

The route runs 4 km due east from a housing estate to a school; stops at 0, 2 and 4 km are
timed for 07:00, 07:05 and 07:10 (Asia/Shanghai). The bus reports every 15 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import SQLModel

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.detection import Detected, detect_shard
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun
from safecampus.schemas.common import service_time
from safecampus.schemas.registry import (
    Bus,
    BusOperator,
    District,
    Driver,
    GtfsRoute,
    GtfsShapePoint,
    GtfsStop,
    GtfsStopTime,
    GtfsTrip,
    School,
)

DAY = date(2026, 9, 1)
ORIGIN = (31.78, 119.95)
TERMINAL = "013800000001"
BAD_TERMINAL = "013800000002"  # expired operator, driver too old, inspection overdue
STOP_SECONDS = (7 * 3600, 7 * 3600 + 300, 7 * 3600 + 600)
SPEED_MS = 4000 / 600  # 4 km in 10 min


def point(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    return (ORIGIN[0] + north_m / 111_195.0, ORIGIN[1] + east_m / (111_195.0 * 0.8503))  # cos(31.78°) ≈ 0.8503


def at(seconds: float, day: date = DAY) -> datetime:
    return service_time(day, seconds)


STOPS = tuple(zip((0.0, 2000.0, 4000.0), STOP_SECONDS, strict=True))  # (metres east, scheduled seconds)


def route_registry(stops: Sequence[tuple[float, int]] = STOPS) -> RegistryView:
    """Two buses on route R1 (B002's registry is bad), two trips half an hour apart over `stops`."""
    rows: list[SQLModel] = [
        District(district_id="tianning", name="天宁区"),
        School(
            school_id="S0001",
            name="测试学校",
            district_id="tianning",
            stage="primary",
            enrolment=500,
            boarding=False,
            lat=ORIGIN[0],
            lon=ORIGIN[1],
        ),
        BusOperator(operator_id="OP0", name="好公司", licence_expires_on=date(2027, 1, 1)),
        BusOperator(operator_id="OP9", name="过期公司", licence_expires_on=date(2026, 8, 1)),
        Bus(
            bus_id="B001",
            plate="苏D00001",
            terminal_id=TERMINAL,
            operator_id="OP0",
            school_id="S0001",
            route_id="R1",
            seats=45,
            last_inspected_on=date(2026, 7, 1),
        ),
        Bus(
            bus_id="B002",
            plate="苏D00002",
            terminal_id=BAD_TERMINAL,
            operator_id="OP9",
            school_id="S0001",
            route_id="R1",
            seats=45,
            last_inspected_on=date(2025, 12, 1),
        ),
        Driver(driver_id="D001", bus_id="B001", age=40, years_licensed=10),
        Driver(driver_id="D002", bus_id="B002", age=62, years_licensed=10),
        GtfsRoute(route_id="R1", route_short_name="定制校车1"),
        GtfsTrip(trip_id="R1-AM-0", route_id="R1", service_id="SCHOOLDAYS", shape_id="SH1"),
        GtfsTrip(trip_id="R1-AM-1", route_id="R1", service_id="SCHOOLDAYS", shape_id="SH1"),
    ]
    rows += [
        GtfsShapePoint(shape_id="SH1", shape_pt_sequence=i, shape_pt_lat=lat, shape_pt_lon=lon)
        for i, (lat, lon) in enumerate(point(e) for e in range(0, 4001, 500))
    ]
    for s, (east, seconds) in enumerate(stops):
        lat, lon = point(east)
        rows.append(GtfsStop(stop_id=f"R1-{s}", stop_lat=lat, stop_lon=lon))
        for k, trip_id in enumerate(("R1-AM-0", "R1-AM-1")):
            t = seconds + k * 1800  # the second bus runs half an hour later
            text = f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"
            rows.append(
                GtfsStopTime(
                    trip_id=trip_id,
                    stop_sequence=s,
                    stop_id=f"R1-{s}",
                    arrival_time=text,
                    departure_time=text,
                    timepoint=1,
                )
            )
    return RegistryView.of_rows(rows)


def fix(
    pipeline: BusPipeline,
    seconds: float,
    east_m: float,
    north_m: float = 0.0,
    speed: float = 24.0,
    terminal: str = TERMINAL,
    day: date = DAY,
    **flags: bool,
) -> BusEvent:
    """A positioned fix; `flags` are BusEvent's named flags, e.g. alarm_emergency=True."""
    lat, lon = point(east_m, north_m)
    event = pipeline.enrich(
        terminal_id=terminal,
        kind="fix",
        occurred_at=at(seconds, day),
        lat_deg=lat,
        lon_deg=lon,
        speed_kmh=speed,
        direction_deg=90,
        positioned=True,
        ignition_on=True,
        **flags,
    )
    return event


def escort(pipeline: BusPipeline, seconds: float, terminal: str = TERMINAL) -> BusEvent:
    return pipeline.enrich(terminal_id=terminal, kind="all_off", occurred_at=at(seconds))


def trace(
    pipeline: BusPipeline,
    delay_s: int = 0,
    overspeed: bool = False,
    off_route: bool = False,
    gap: tuple[int, int] | None = None,
    all_off: bool = True,
) -> list[BusEvent]:
    """One run: waits at the origin 2 min, drives 4 km in 10 min (+ delay), waits 1 min at the school."""
    start = STOP_SECONDS[0] + delay_s
    events: list[BusEvent] = []
    for t in range(start - 120, start + 600 + 61, 15):
        progress = t - start
        east = min(max(progress, 0) * SPEED_MS, 4000.0)
        speed = 0.0 if progress <= 0 or progress >= 600 else 24.0
        north = 0.0
        if overspeed and 120 <= progress <= 180:
            speed = 75.0
        if off_route and 360 <= progress <= 420:
            north = 150.0
        if gap and gap[0] <= progress < gap[1]:
            continue
        events.append(fix(pipeline, t, east, north, speed))
    if all_off:
        events.append(escort(pipeline, start + 600 + 90))
    return events


def detected(pipeline: BusPipeline, events: list[BusEvent], until: datetime | None = None) -> Detected:
    return detect_shard(pipeline, [(e.terminal_id, e) for e in events], until)  # type: ignore[arg-type]


def detect(pipeline: BusPipeline, events: list[BusEvent], until: datetime | None = None) -> list[Alert]:
    return detected(pipeline, events, until).alerts


def runs(pipeline: BusPipeline, events: list[BusEvent], until: datetime | None = None) -> list[BusRun]:
    records = detected(pipeline, events, until).records
    assert all(isinstance(r, BusRun) for r in records)
    return records  # type: ignore[return-value]


def drive(pipeline: BusPipeline, waypoints: Sequence[tuple[float, float]], every_s: int = 15) -> list[BusEvent]:
    """Fixes every `every_s` along straight-line motion between (seconds, metres east) waypoints."""
    events: list[BusEvent] = []
    for (t0, e0), (t1, e1) in zip(waypoints, waypoints[1:], strict=False):
        speed = abs(e1 - e0) / (t1 - t0) * 3.6
        for t in range(int(t0), int(t1), every_s):
            events.append(fix(pipeline, t, e0 + (e1 - e0) * (t - t0) / (t1 - t0), speed=speed))
    t_end, e_end = waypoints[-1]
    events.append(fix(pipeline, t_end, e_end, speed=0.0))
    return events


def rules(alerts: list[Alert], status: str | None = None) -> list[str]:
    return [a.rule for a in alerts if status is None or a.status == status]
