"""Which trips of the timetable a bus may be running: its assignment, else every trip of its route."""

from __future__ import annotations

from collections import defaultdict

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus.geometry import RouteGeometry, TripPlan, gtfs_seconds
from safecampus.schemas.registry import Bus


class TripPlans:
    """Trip plans per bus, built once per pipeline from the registry (shapes projected on first use)."""

    def __init__(self, registry: RegistryView) -> None:
        self.registry = registry
        self.geometry = RouteGeometry(registry)
        self._trips_of_bus = assign_trips(registry)

    def for_bus(self, bus: Bus | None) -> list[TripPlan]:
        """The trips a bus may be running (its assignment, else every trip of its route)."""
        if bus is None or not bus.route_id:
            return []
        trip_ids = self._trips_of_bus.get(bus.bus_id) or [
            t.trip_id for t in self.registry.trips.values() if t.route_id == bus.route_id
        ]
        return [plan for plan in map(self.geometry.trip, trip_ids) if plan is not None]


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
