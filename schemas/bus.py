"""Normalized school-bus records: position fixes and run events from JT/T 808 terminals."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import Record

BusEventKind = Literal["fix", "heartbeat", "all_off", "door_open", "door_close"]


class BusEvent(Record):
    """A bus position fix (kind="fix") or a run event such as the escort's "all off" confirmation."""

    event_id: str = Field(description="natural key: terminal, kind, device time")
    terminal_id: str = Field(min_length=1, max_length=20, description="JT/T 808 phone number (BCD)")
    kind: BusEventKind = "fix"
    occurred_at: AwareDatetime
    lat_deg: float | None = Field(default=None, ge=-90, le=90)
    lon_deg: float | None = Field(default=None, ge=-180, le=180)
    speed_kmh: float | None = Field(default=None, ge=0, le=250)
    direction_deg: int | None = Field(default=None, ge=0, le=359)
    altitude_m: int | None = Field(default=None, ge=-500, le=9000)
    alarm_flags: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    status_flags: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    plate: str | None = Field(default=None, max_length=16)
    bus_id: str | None = None
    route_id: str | None = None
    trip_id: str | None = None
    operator_id: str | None = None
    school_id: str | None = None
    district: str | None = None
