"""Normalized school-bus records: position fixes and run events, and the runs detection derives.

Protocol-neutral: a JT/T 808 terminal's flag words arrive here decoded into named fields
(`positioned`, `door_open`, `alarm_emergency`, …); nothing downstream reads protocol bits.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import PlausibleTime, Record

BusEventKind = Literal["fix", "heartbeat", "all_off", "door_open", "door_close"]
VisitStatus = Literal["on_time", "early", "late", "missed"]


class BusEvent(Record):
    """A bus position fix (kind="fix") or a run event such as the escort's "all off" confirmation."""

    event_id: str = Field(description="natural key: terminal, kind, device time")
    terminal_id: str = Field(min_length=1, max_length=20, description="JT/T 808 phone number (BCD)")
    kind: BusEventKind = "fix"
    occurred_at: PlausibleTime
    lat_deg: float | None = Field(default=None, ge=-90, le=90)
    lon_deg: float | None = Field(default=None, ge=-180, le=180)
    speed_kmh: float | None = Field(default=None, ge=0, le=250)
    direction_deg: int | None = Field(default=None, ge=0, le=359)
    altitude_m: int | None = Field(default=None, ge=-500, le=9000)
    positioned: bool = Field(default=False, description="the receiver had a position fix (else lat/lon are stale)")
    ignition_on: bool = False
    door_open: bool = Field(default=False, description="a door of the bus is open")
    alarm_emergency: bool = Field(default=False, description="the terminal's emergency (SOS) alarm")
    alarm_overspeed: bool = Field(default=False, description="the terminal's own overspeed alarm")
    alarm_route_deviation: bool = Field(default=False, description="the terminal's route-deviation alarm")
    alarm_illegal_door_opening: bool = Field(default=False, description="a door opened away from a stop")
    plate: str | None = Field(default=None, max_length=16)
    bus_id: str | None = None
    route_id: str | None = None
    trip_id: str | None = None
    operator_id: str | None = None
    school_id: str | None = None
    district: str | None = None
    lenient: tuple[str, ...] = Field(
        default=(),
        exclude_if=lambda kinds: not kinds,
        description="what the device bent and we accepted (e.g. extra_item_overrun); counted as "
        "decode_leniencies_total",
    )


class StopVisit(Record):
    """A bus at a timed stop of its trip: when it departed (origin) or arrived, against the timetable.

    A missed stop has no `actual` and no `delay_s`."""

    stop_id: str
    stop_sequence: int
    trip_id: str
    kind: Literal["departure", "arrival"]
    scheduled: AwareDatetime
    actual: AwareDatetime | None = None
    delay_s: int | None = Field(default=None, description="actual minus scheduled, seconds (late is positive)")
    status: VisitStatus


class BusRun(Record):
    """One trip driven by one bus on one service day, with its stop visits: the on-time KPI's input."""

    subject: str = Field(description="the terminal that drove the run")
    trip_id: str
    route_id: str
    service_day: date
    started_at: AwareDatetime
    ended_at: AwareDatetime
    reached_end: bool = Field(description="the final stop was reached (else the run's time window passed)")
    visits: list[StopVisit] = Field(default_factory=list, description="timed stops in order, missed ones last")
    school_id: str | None = None
    district: str | None = None

    @property
    def run_id(self) -> str:
        """The natural key: terminal, trip, service day."""
        return f"{self.subject}/{self.trip_id}/{self.service_day.isoformat()}"


class StopArrival(Record):
    """A predicted arrival at one stop still ahead of a bus."""

    stop_id: str
    stop_sequence: int
    scheduled: AwareDatetime
    predicted: AwareDatetime
    uncertainty_s: int = Field(ge=0, description="one standard deviation of the prediction, seconds")
    source: Literal["history", "schedule"] = Field(description="learned segment times, or the timetable's")


class ArrivalPrediction(Record):
    """When a bus in service reaches each of its remaining stops, as predicted at `made_at`."""

    subject: str = Field(description="the terminal driving the run")
    trip_id: str
    route_id: str
    service_day: date
    made_at: AwareDatetime = Field(description="the time of the fix the prediction was made from")
    delay_s: int = Field(description="predicted arrival minus scheduled at the next stop (late is positive)")
    stops: list[StopArrival] = Field(default_factory=list, description="the remaining stops, in order")


class CentreVisit(Record):
    """A bus at a pick-up centre: from its first fix inside the centre's geofence to its first fix outside."""

    subject: str = Field(description="the terminal")
    centre_id: str
    arrived_at: AwareDatetime
    departed_at: AwareDatetime
    dwell_s: int = Field(ge=0, description="departed minus arrived, seconds")
    bus_id: str | None = None
    route_id: str | None = None
    school_id: str | None = None
    district: str | None = None

    @property
    def visit_id(self) -> str:
        """The natural key: terminal, centre, arrival."""
        return f"{self.subject}/{self.centre_id}/{self.arrived_at.isoformat()}"
