"""The counter JSON form: vehicle counters and barrier controllers of pick-up centres (docs/pickup-centres.md).

Like alarm boxes, these devices have no common vendor protocol: their gateway posts one documented JSON
object per reading or passage. Fields (unknown fields are refused):

    device_id  str, 1-64 chars, required    e.g. "CZ-PC01-CNT"
    kind       "count"     a counter's reading: vehicles inside and queueing at `time`
               "passage"   one vehicle through a barrier lane (`direction` in or out)
               "heartbeat" periodic "I am alive";  "fault" loop, camera or power fault
    time       ISO 8601 with offset, required, e.g. "2026-09-01T07:35:00+08:00"
    channel    int 0-4096, default 1 (lane or loop number)
    occupancy  int 0-10000, required for "count": vehicles inside the centre now
    queue      int 0-10000, default 0 ("count"): vehicles waiting at the entrance
    entered    int 0-10000, optional ("count"): vehicles in since the counter's previous reading
    exited     int 0-10000, optional ("count"): vehicles out since the counter's previous reading
    direction  "in" | "out", required for "passage"

Example:
    {"device_id": "CZ-PC01-CNT", "kind": "count", "time": "2026-09-01T07:35:00+08:00",
     "occupancy": 41, "queue": 6, "entered": 9, "exited": 3}
    -> vendor_type "counter:count", occupancy 41, queue 6
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from safecampus.connectors.security.record import VendorSecurityRecord, read_json_form, vendor_record
from safecampus.schemas.common import Record
from safecampus.schemas.security import PassageDirection

CounterKind = Literal["count", "passage", "heartbeat", "fault"]
MAX_COUNTER_BYTES = 16 * 1024  # one reading is about a hundred bytes
MAX_VEHICLES = 10_000  # no pick-up centre holds or queues more: a larger number is a broken counter


class CounterEvent(Record):
    """One counter reading or barrier passage, as the gateway posts it."""

    device_id: str = Field(min_length=1, max_length=64)
    kind: CounterKind
    time: AwareDatetime
    channel: int = Field(default=1, ge=0, le=4096)
    occupancy: int | None = Field(default=None, ge=0, le=MAX_VEHICLES)
    queue: int | None = Field(default=None, ge=0, le=MAX_VEHICLES)
    entered: int | None = Field(default=None, ge=0, le=MAX_VEHICLES)
    exited: int | None = Field(default=None, ge=0, le=MAX_VEHICLES)
    direction: PassageDirection | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> CounterEvent:
        if self.kind == "count" and self.occupancy is None:
            raise ValueError("a count needs occupancy (vehicles inside now)")
        if self.kind == "passage" and self.direction is None:
            raise ValueError('a passage needs direction ("in" or "out")')
        if self.kind != "passage" and self.direction is not None:
            raise ValueError("direction belongs to a passage only")
        if self.kind != "count" and any(v is not None for v in (self.occupancy, self.queue, self.entered, self.exited)):
            raise ValueError("occupancy, queue, entered and exited belong to a count only")
        return self


def decode_counter(data: bytes) -> VendorSecurityRecord:
    """Decode one counter JSON event into a vendor record; errors are one readable line."""
    event = read_json_form(data, CounterEvent, "counter", MAX_COUNTER_BYTES)
    counted = event.kind == "count"
    return vendor_record(
        {
            "device_id": event.device_id,
            "channel": event.channel,
            "source_format": "counter",
            "vendor_type": f"counter:{event.kind}",
            "state": "active",
            "occurred_at": event.time,
            "occupancy": event.occupancy,
            "queue": (event.queue or 0) if counted else None,
            "entered": event.entered,
            "exited": event.exited,
            "direction": event.direction,
        }
    )
