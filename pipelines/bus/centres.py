"""Buses at pick-up centres: arrivals and dwell inside a centre's geofence (the registry's `PickupCentre`).

A bus arrives at its first positioned fix within `geofence_m` of a centre and leaves at its first fix
outside; the visit, with its dwell, becomes a `CentreVisit` (the terminal's derived records, stream
`centre_visits`), the input of the centre's bus KPIs. Fixes come in event-time order (the detector skips
late ones), so a visit is told once, when the bus has left. A bus that stops reporting inside a centre has
not left: no visit is told until it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from safecampus.pipelines.bus.geometry import metres_between
from safecampus.schemas.bus import BusEvent, CentreVisit
from safecampus.schemas.registry import PickupCentre


@dataclass
class _Inside:
    centre: PickupCentre
    first: BusEvent


class CentreVisits:
    """The pick-up centre one terminal is at. Example: `CentreVisits(view.centres.values())`;
    `observe(fix)` for each positioned fix, newest first in event time, returns the visits it ended."""

    def __init__(self, centres: Sequence[PickupCentre]) -> None:
        self.centres = tuple(centres)
        self.inside: _Inside | None = None

    def observe(self, fix: BusEvent) -> list[CentreVisit]:
        if fix.lat_deg is None or fix.lon_deg is None or not self.centres:
            return []
        where = (fix.lat_deg, fix.lon_deg)
        here = next((c for c in self.centres if metres_between((c.lat, c.lon), where) <= c.geofence_m), None)
        visits: list[CentreVisit] = []
        if self.inside is not None and (here is None or here.centre_id != self.inside.centre.centre_id):
            visits.append(self._left(self.inside, fix))
            self.inside = None
        if here is not None and self.inside is None:
            self.inside = _Inside(here, fix)
        return visits

    def _left(self, inside: _Inside, fix: BusEvent) -> CentreVisit:
        arrived = inside.first
        return CentreVisit(
            subject=fix.terminal_id,
            centre_id=inside.centre.centre_id,
            arrived_at=arrived.occurred_at,
            departed_at=fix.occurred_at,
            dwell_s=round((fix.occurred_at - arrived.occurred_at).total_seconds()),
            bus_id=arrived.bus_id,
            route_id=arrived.route_id,
            school_id=inside.centre.school_id,
            district=arrived.district,
        )
