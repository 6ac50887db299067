"""`Run`: one trip of the timetable being driven on one service day, as the rules see it.

Shared state of the run rules: `RunTracker` starts and ends it, `StopAdherence` adds its stop
visits, `AllOffConfirmation` waits on it after its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from safecampus.pipelines.bus.geometry import XY, TripPlan
from safecampus.schemas.bus import StopVisit
from safecampus.schemas.common import service_time


@dataclass
class Run:
    """One trip of the timetable being driven on one service day."""

    plan: TripPlan
    day: date
    started_at: datetime
    last_fix_at: datetime
    margin_s: int  # BusRules.service_margin_s: fixes this near the timetable belong to the run
    next_stop: int = 0
    prev_xy: XY | None = None
    prev_at: datetime | None = None
    origin_inside_at: datetime | None = None
    visits: list[StopVisit] = field(default_factory=list)
    late_open: bool = False
    ended_at: datetime | None = None
    reached_end: bool = False
    all_off_at: datetime | None = None
    no_all_off_fired: bool = False

    @property
    def key(self) -> str:
        return f"{self.plan.trip_id}/{self.day.isoformat()}"

    def window_end(self) -> datetime:
        return service_time(self.day, self.plan.end_s + self.margin_s)

    def missed(self) -> list[StopVisit]:
        """Timed stops the run never reached."""
        visited = {v.stop_sequence for v in self.visits}
        first = self.plan.stops[0].sequence
        return [
            StopVisit(
                stop_id=s.stop_id,
                stop_sequence=s.sequence,
                trip_id=self.plan.trip_id,
                kind="departure" if s.sequence == first else "arrival",
                scheduled=service_time(self.day, s.scheduled_s),
                status="missed",
            )
            for s in self.plan.stops
            if s.timed and s.sequence not in visited
        ]
