"""Where a bus should be, in metres and seconds: trip shapes, stops and timetables on the ground.

The registry keeps shapes and stops in degrees and the timetable as GTFS `HH:MM:SS`. Distances
in degrees mean nothing, so each shape is projected onto a local plane: an equirectangular
projection around the shape's centroid (error well under 0.1 % across a city route of ~20 km;
pyproj is not a dependency and is not needed at this scale). Projected shapes are cached per
shape_id, trip plans per trip_id.

    >>> plans = RouteGeometry(registry)
    >>> plan = plans.trip("CZ01-AM-0")
    >>> plan.distance_to_route_m(31.70, 119.91)
    12.4
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from shapely.geometry import LineString, Point

from safecampus.connectors.registry import RegistryView
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.registry import GtfsStopTime

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

XY = tuple[float, float]


def gtfs_seconds(hhmmss: str) -> int:
    """Seconds after the service day's start of a GTFS time; may pass 24:00:00 (`25:10:00`)."""
    hours, minutes, seconds = (int(part) for part in hhmmss.strip().split(":"))
    return hours * 3600 + minutes * 60 + seconds


def service_day(moment: datetime) -> date:
    """The local (Asia/Shanghai) calendar day of an instant: the day a person would name."""
    return moment.astimezone(SHANGHAI).date()


def metres_between(a: XY, b: XY) -> float:
    """Great-circle distance between two (lat, lon) points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection around (lat0, lon0): x east, y north, in metres."""

    lat0: float
    lon0: float

    def xy(self, lat: float, lon: float) -> XY:
        x = math.radians(lon - self.lon0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))
        return x, math.radians(lat - self.lat0) * EARTH_RADIUS_M

    @classmethod
    def around(cls, points: list[XY]) -> LocalProjection:
        return cls(sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def closest_approach(p: XY, a: XY, b: XY) -> tuple[float, float]:
    """Distance from `p` to segment a→b, and where along it (0 at a, 1 at b) the closest point is."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    f = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - (a[0] + f * dx), p[1] - (a[1] + f * dy)), f


@dataclass(frozen=True)
class StopPlan:
    """One stop of a trip: where (projected) and when (seconds after the service day's start)."""

    stop_id: str
    sequence: int
    scheduled_s: int
    xy: XY
    timed: bool  # GTFS timepoint=1 (or unset, which GTFS reads as exact): adherence is measured here


@dataclass(frozen=True)
class TripPlan:
    """A trip's route line and stops in one local projection, and its timetable."""

    trip_id: str
    route_id: str
    projection: LocalProjection
    line: LineString | None
    stops: tuple[StopPlan, ...]

    @property
    def start_s(self) -> int:
        return self.stops[0].scheduled_s

    @property
    def end_s(self) -> int:
        return self.stops[-1].scheduled_s

    def xy(self, lat: float, lon: float) -> XY:
        return self.projection.xy(lat, lon)

    def distance_to_route_m(self, lat: float, lon: float) -> float | None:
        """Metres from a fix to the route line; None when the trip has no usable shape."""
        if self.line is None:
            return None
        return float(self.line.distance(Point(self.xy(lat, lon))))


class RouteGeometry:
    """Trip plans built from the registry on first use and cached (projected shapes per shape_id)."""

    def __init__(self, registry: RegistryView) -> None:
        self.registry = registry
        self._shapes: dict[str, tuple[LocalProjection, LineString | None]] = {}
        self._trips: dict[str, TripPlan | None] = {}

    def trip(self, trip_id: str) -> TripPlan | None:
        """The plan of a trip, or None when it has no timed stop times (nothing to follow)."""
        if trip_id not in self._trips:
            self._trips[trip_id] = self._build(trip_id)
        return self._trips[trip_id]

    def _shape(self, shape_id: str) -> tuple[LocalProjection, LineString | None] | None:
        points = self.registry.shapes.get(shape_id)
        if not points:
            return None
        if shape_id not in self._shapes:
            projection = LocalProjection.around(points)
            xy = [projection.xy(lat, lon) for lat, lon in points]
            self._shapes[shape_id] = (projection, LineString(xy) if len(xy) >= 2 else None)
        return self._shapes[shape_id]

    def _build(self, trip_id: str) -> TripPlan | None:
        trip = self.registry.trips.get(trip_id)
        located: list[tuple[GtfsStopTime, XY]] = []
        for stop_time in self.registry.stop_times.get(trip_id, []):
            stop = self.registry.stops.get(stop_time.stop_id)
            if (
                (stop_time.arrival_time or stop_time.departure_time)
                and stop is not None
                and stop.stop_lat is not None
                and stop.stop_lon is not None
            ):
                located.append((stop_time, (stop.stop_lat, stop.stop_lon)))
        if trip is None or not located:
            return None
        stop_points = [point for _, point in located]
        shape = self._shape(trip.shape_id) if trip.shape_id else None
        if shape is None:
            # No shape in the feed: the stops in order are the best route line we have.
            projection = LocalProjection.around(stop_points)
            xy = [projection.xy(lat, lon) for lat, lon in stop_points]
            shape = (projection, LineString(xy) if len(xy) >= 2 else None)
        projection, line = shape
        stops = tuple(
            StopPlan(
                stop_id=t.stop_id,
                sequence=t.stop_sequence,
                scheduled_s=gtfs_seconds(t.arrival_time or t.departure_time or "0:0:0"),
                xy=projection.xy(lat, lon),
                timed=t.timepoint in (None, 1),
            )
            for t, (lat, lon) in located
        )
        return TripPlan(trip_id=trip_id, route_id=trip.route_id, projection=projection, line=line, stops=stops)
