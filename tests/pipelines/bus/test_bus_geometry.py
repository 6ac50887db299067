"""Trip geometry: GTFS times on a service day, distances, projection, trip plans from the registry."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from bus_route import point, route_registry

from safecampus.pipelines.bus.geometry import (
    LocalProjection,
    RouteGeometry,
    closest_approach,
    gtfs_seconds,
    metres_between,
    service_day,
)
from safecampus.schemas.common import service_time


def test_gtfs_times_may_pass_midnight_and_are_local_time() -> None:
    assert gtfs_seconds("07:05:30") == 7 * 3600 + 330
    assert gtfs_seconds(" 25:10:00") == 25 * 3600 + 600
    assert service_time(date(2026, 9, 1), gtfs_seconds("07:00:00")) == datetime(2026, 8, 31, 23, 0, tzinfo=UTC)
    assert service_time(date(2026, 9, 1), gtfs_seconds("25:00:00")) == datetime(2026, 9, 1, 17, 0, tzinfo=UTC)


def test_service_day_is_the_shanghai_calendar_day() -> None:
    assert service_day(datetime(2026, 8, 31, 16, 30, tzinfo=UTC)) == date(2026, 9, 1)  # 00:30 local
    assert service_day(datetime(2026, 8, 31, 15, 30, tzinfo=UTC)) == date(2026, 8, 31)


def test_distances_in_metres() -> None:
    assert metres_between((31.78, 119.95), (31.78, 119.95)) == 0
    assert metres_between((31.0, 120.0), (32.0, 120.0)) == pytest.approx(111_195, rel=1e-3)  # one degree north
    projection = LocalProjection.around([point(0), point(4000)])
    (x0, y0), (x1, y1) = projection.xy(*point(0)), projection.xy(*point(4000))
    assert x1 - x0 == pytest.approx(4000, rel=2e-3) and y1 - y0 == pytest.approx(0, abs=1)


def test_closest_approach_on_a_segment() -> None:
    assert closest_approach((5, 3), (0, 0), (10, 0)) == (3.0, 0.5)
    assert closest_approach((-4, 3), (0, 0), (10, 0)) == (5.0, 0.0)  # before the start: the start
    assert closest_approach((1, 1), (2, 2), (2, 2)) == (pytest.approx(2**0.5), 0.0)  # a point, not a segment


def test_trip_plan_from_the_registry() -> None:
    geometry = RouteGeometry(route_registry())
    plan = geometry.trip("R1-AM-1")
    assert plan is not None and geometry.trip("R1-AM-1") is plan  # cached
    assert plan.route_id == "R1" and [s.stop_id for s in plan.stops] == ["R1-0", "R1-1", "R1-2"]
    assert (plan.start_s, plan.end_s) == (7 * 3600 + 1800, 7 * 3600 + 2400)
    assert all(s.timed for s in plan.stops)
    assert plan.distance_to_route_m(*point(2000)) == pytest.approx(0, abs=1)
    assert plan.distance_to_route_m(*point(2000, north_m=100)) == pytest.approx(100, rel=0.01)
    assert geometry.trip("no-such-trip") is None
