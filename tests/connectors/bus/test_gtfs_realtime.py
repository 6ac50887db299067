"""GTFS-realtime: feeds parse back with the official bindings, and are served over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from google.transit import gtfs_realtime_pb2

from safecampus.connectors.bus.gtfs_realtime import CONTENT_TYPE, GtfsRealtimeServer, GtfsRealtimeState, build_feed
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun, StopVisit

NOW = datetime(2026, 9, 1, 23, 10, tzinfo=UTC)


def _fix(terminal: str, at: datetime, lat: float = 31.78, lon: float = 119.95, speed: float = 36.0) -> BusEvent:
    return BusEvent(
        event_id=f"{terminal}/fix/{at:%H%M%S}",
        terminal_id=terminal,
        occurred_at=at,
        lat_deg=lat,
        lon_deg=lon,
        speed_kmh=speed,
        direction_deg=90,
        plate="苏D00001",
        bus_id="B001",
        route_id="CZ01",
        trip_id="CZ01-AM-1",
    )


def _parse(body: bytes) -> gtfs_realtime_pb2.FeedMessage:
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.ParseFromString(body)
    return feed


def test_build_feed_round_trips_vehicle_positions_and_trip_updates() -> None:
    latest = {
        "013800000001": _fix("013800000001", NOW),
        "013899999999": BusEvent(event_id="x", terminal_id="013899999999", kind="heartbeat", occurred_at=NOW),
    }
    delays = {"013800000001": ("CZ01-AM-1", "CZ01-3", 540)}
    feed = _parse(build_feed(latest, delays, NOW))
    assert feed.header.gtfs_realtime_version == "2.0"
    assert feed.header.incrementality == gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    assert feed.header.timestamp == int(NOW.timestamp())
    vehicles = [e.vehicle for e in feed.entity if e.HasField("vehicle")]
    updates = [e.trip_update for e in feed.entity if e.HasField("trip_update")]
    assert len(vehicles) == 1 and len(updates) == 1  # a heartbeat has no position: not a vehicle
    vehicle = vehicles[0]
    assert vehicle.vehicle.id == "B001" and vehicle.vehicle.license_plate == "苏D00001"
    assert vehicle.trip.trip_id == "CZ01-AM-1" and vehicle.trip.route_id == "CZ01"
    assert vehicle.position.latitude == pytest.approx(31.78) and vehicle.position.longitude == pytest.approx(119.95)
    assert vehicle.position.speed == pytest.approx(10.0)  # 36 km/h in m/s
    assert vehicle.position.bearing == pytest.approx(90)
    assert vehicle.timestamp == int(NOW.timestamp())
    update = updates[0]
    assert update.trip.trip_id == "CZ01-AM-1" and update.delay == 540
    assert update.stop_time_update[0].stop_id == "CZ01-3" and update.stop_time_update[0].arrival.delay == 540
    only_vehicles = _parse(build_feed(latest, delays, NOW, part="vehicles"))
    assert [e.HasField("vehicle") for e in only_vehicles.entity] == [True]


def test_state_keeps_the_newest_fix_even_when_an_older_one_arrives_later() -> None:
    state = GtfsRealtimeState()
    state.update(_fix("013800000001", NOW, lat=31.79))
    state.update(_fix("013800000001", NOW - timedelta(seconds=30), lat=31.70))  # a late tunnel fix
    feed = _parse(state.feed(NOW, "vehicles"))
    assert feed.entity[0].vehicle.position.latitude == pytest.approx(31.79)


def _visit(stop: str, minutes_after: int, delay_s: int | None, status: str = "late") -> StopVisit:
    scheduled = NOW - timedelta(hours=1) + timedelta(minutes=minutes_after)
    actual = None if delay_s is None else scheduled + timedelta(seconds=delay_s)
    return StopVisit(
        stop_id=stop,
        stop_sequence=minutes_after,
        trip_id="CZ01-AM-1",
        kind="arrival",
        scheduled=scheduled,
        actual=actual,
        delay_s=delay_s,
        status=status,  # type: ignore[arg-type]
    )


def _late_alert(visit: StopVisit) -> Alert:
    return Alert(
        fingerprint="f",
        domain="bus",
        rule="bus.late_arrival",
        severity="warning",
        subject="013800000001",
        occurred_at=NOW,
        detected_at=NOW,
        title="校车到站晚点",
        evidence=[{"event_id": "fix", "terminal_id": "013800000001"}, visit.model_dump(mode="json", exclude_none=True)],
    )


def test_state_takes_delays_from_late_arrival_alerts() -> None:
    state = GtfsRealtimeState()
    state.update(_fix("013800000001", NOW))
    state.observe_alert(_late_alert(_visit("CZ01-1", 5, 540)))
    update = _parse(state.feed(NOW, "trips")).entity[0].trip_update
    assert (update.trip.trip_id, update.stop_time_update[0].stop_id, update.delay) == ("CZ01-AM-1", "CZ01-1", 540)


def test_state_takes_the_last_measured_visit_of_a_run_and_never_an_older_one() -> None:
    state = GtfsRealtimeState()
    state.update(_fix("013800000001", NOW))
    run = BusRun(
        subject="013800000001",
        trip_id="CZ01-AM-1",
        route_id="CZ01",
        service_day=NOW.date(),
        started_at=NOW - timedelta(hours=1),
        ended_at=NOW,
        reached_end=False,
        visits=[_visit("CZ01-0", 0, 30, "on_time"), _visit("CZ01-2", 10, 420), _visit("CZ01-3", 15, None, "missed")],
    )
    state.observe_run(run)
    update = _parse(state.feed(NOW, "trips")).entity[0].trip_update
    assert (update.stop_time_update[0].stop_id, update.delay) == ("CZ01-2", 420)  # the missed stop has no delay
    state.observe_alert(_late_alert(_visit("CZ01-1", 5, 540)))  # measured before CZ01-2: arrives late, ignored
    update = _parse(state.feed(NOW, "trips")).entity[0].trip_update
    assert (update.stop_time_update[0].stop_id, update.delay) == ("CZ01-2", 420)


def test_alerts_of_other_domains_or_without_a_visit_set_no_delay() -> None:
    state = GtfsRealtimeState()
    state.update(_fix("013800000001", NOW))
    state.observe_alert(_late_alert(_visit("CZ01-1", 5, 540)).model_copy(update={"domain": "security"}))
    state.observe_alert(_late_alert(_visit("CZ01-1", 5, 540)).model_copy(update={"evidence": [{"delay_s": 5}]}))
    assert [e.HasField("trip_update") for e in _parse(state.feed(NOW)).entity] == [False]


def test_feeds_are_served_over_http_on_an_ephemeral_port() -> None:
    state = GtfsRealtimeState()
    with GtfsRealtimeServer(state) as server:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        empty = _parse(urllib.request.urlopen(server.url + "/gtfs-rt/vehicle-positions", timeout=5).read())
        assert len(empty.entity) == 0
        state.update(_fix("013800000001", NOW))
        state.set_delay("013800000001", "CZ01-AM-1", "CZ01-2", 60)
        with urllib.request.urlopen(server.url + "/gtfs-rt/vehicle-positions", timeout=5) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            vehicles = _parse(response.read())
        assert [e.vehicle.vehicle.id for e in vehicles.entity] == ["B001"]
        trips = _parse(urllib.request.urlopen(server.url + "/gtfs-rt/trip-updates", timeout=5).read())
        assert [e.trip_update.delay for e in trips.entity] == [60]
        both = _parse(urllib.request.urlopen(server.url + "/gtfs-rt", timeout=5).read())
        assert len(both.entity) == 2
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "/nothing", timeout=5)
        assert missing.value.code == 404
