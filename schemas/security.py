"""Normalized smart-security events: cameras, NVRs, one-key alarms, sensors, heartbeats.

Every vendor type (ISAPI eventType, GB/T 28181 alarm type, alarm-box JSON kind) maps onto
one taxonomy, `SecurityEventType`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import Record, Severity

SecurityEventType = Literal[
    "intrusion",
    "tripwire",
    "loitering",
    "motion",
    "video_loss",
    "tamper",
    "storage_fault",
    "one_key_alarm",
    "fence",
    "forced_door",
    "device_offline",
    "device_fault",
    "heartbeat",
    "vehicle_count",  # a pick-up centre counter's reading: vehicles inside, queue (connectors/security/counter.py)
    "vehicle_passage",  # one vehicle through a pick-up centre's barrier, in or out
    "other",
]
EventState = Literal["active", "inactive"]
LocationRole = Literal[
    "gate", "dormitory", "canteen", "classroom", "perimeter", "playground", "office", "pickup_centre", "other"
]
PassageDirection = Literal["in", "out"]


def _absent(value: object) -> bool:
    return value is None


class SecurityEvent(Record):
    """One normalized security event, enriched from the registry where the device is known."""

    event_id: str = Field(description="natural key: device, channel, vendor type, state, time")
    device_id: str = Field(min_length=1, max_length=64)
    channel: int = Field(default=1, ge=0, le=4096)
    source_format: str
    vendor_type: str = Field(description="the vendor's own type, e.g. ISAPI fielddetection")
    event_type: SecurityEventType
    state: EventState = "active"
    occurred_at: AwareDatetime
    severity: Severity
    school_id: str | None = None
    district: str | None = None
    location_role: LocationRole | None = None
    linked_to_police: bool | None = None
    # Pick-up centre counts (vehicle_count, vehicle_passage); absent from every other event.
    occupancy: int | None = Field(default=None, ge=0, exclude_if=_absent, description="vehicles inside the site")
    queue: int | None = Field(default=None, ge=0, exclude_if=_absent, description="vehicles waiting to enter")
    entered: int | None = Field(
        default=None, ge=0, exclude_if=_absent, description="vehicles in since the last reading"
    )
    exited: int | None = Field(
        default=None, ge=0, exclude_if=_absent, description="vehicles out since the last reading"
    )
    direction: PassageDirection | None = Field(default=None, exclude_if=_absent, description="a barrier passage")
    site_id: str | None = Field(default=None, exclude_if=_absent, description="the pick-up centre of the device")
    lenient: tuple[str, ...] = Field(
        default=(),
        exclude_if=lambda kinds: not kinds,
        description="what the device bent and we accepted (e.g. unknown_event_type); counted as "
        "decode_leniencies_total",
    )


class PickupCentreDay(Record):
    """What one counting device of a pick-up centre saw in a local day (the peak-occupancy KPI's input).

    Sent again whenever a reading raises the day's peak (late ones too); the last one of a day is the day's."""

    subject: str = Field(description="the counter or barrier controller")
    centre_id: str
    day: date
    peak_occupancy: int = Field(ge=0, description="the most vehicles inside at once")
    peak_at: AwareDatetime
    school_id: str | None = None
    district: str | None = None

    @property
    def record_id(self) -> str:
        """The natural key: device and day."""
        return f"{self.subject}/{self.day.isoformat()}"
