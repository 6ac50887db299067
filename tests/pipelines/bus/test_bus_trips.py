"""Which trips a bus runs: round robin over its route's trips by first departure."""

from __future__ import annotations

from bus_route import route_registry

from safecampus.pipelines.bus.trips import TripPlans, assign_trips


def test_the_route_buses_take_its_trips_round_robin_in_bus_order() -> None:
    registry = route_registry()
    assert assign_trips(registry) == {"B001": ["R1-AM-0"], "B002": ["R1-AM-1"]}
    plans = TripPlans(registry)
    assert [p.trip_id for p in plans.for_bus(registry.buses_by_terminal["013800000002"])] == ["R1-AM-1"]


def test_a_bus_without_route_or_assignment() -> None:
    registry = route_registry()
    plans = TripPlans(registry)
    bus = registry.buses_by_terminal["013800000001"]
    assert plans.for_bus(None) == []
    assert plans.for_bus(bus.model_copy(update={"route_id": None})) == []
    # A bus the assignment does not know runs any trip of its route.
    stranger = bus.model_copy(update={"bus_id": "B999"})
    assert [p.trip_id for p in plans.for_bus(stranger)] == ["R1-AM-0", "R1-AM-1"]
