"""The alarm-box JSON form: one-key alarm boxes, perimeter fence sensors, access-control sensors.

These devices have no common vendor protocol, so their gateways post one documented JSON
object per event. Fields (unknown fields are refused):

    device_id  str, 1-64 chars, required   e.g. "CZ-AB-0001"
    kind       one of (or another lower-case word, raised as "other" and counted)
                                           one_key      one-key (panic) alarm button pressed
                                           fence        perimeter fence sensor tripped
                                           door_forced  door opened without a valid credential
                                           door_held    door held open too long
                                           heartbeat    periodic "I am alive"
                                           tamper       enclosure opened or sensor tampered
                                           fault        power, battery or sensor fault
    state      "active" | "inactive", default "active" (inactive = restored / cleared)
    time       ISO 8601 with offset, required, e.g. "2026-09-01T08:30:00+08:00"
    channel    int 0-4096, default 1 (input / zone number on the box)
    zone       str up to 100 chars, optional, e.g. "east fence"

Example:
    {"device_id": "CZ-AB-0001", "kind": "one_key", "state": "active",
     "time": "2026-09-01T08:30:00+08:00", "channel": 1, "zone": "gate guard room"}
    -> vendor_type "alarmbox:one_key", description "gate guard room"
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from safecampus.connectors.security.record import VendorSecurityRecord, read_json_form, short_description, vendor_record
from safecampus.schemas.common import Record
from safecampus.schemas.security import EventState

AlarmBoxKind = Literal["one_key", "fence", "door_forced", "door_held", "heartbeat", "tamper", "fault"]
# One event is a few hundred bytes; the same cap as device XML.
MAX_ALARMBOX_BYTES = 256 * 1024


class AlarmBoxEvent(Record):
    """One alarm-box, fence or access-control event, as the gateway posts it."""

    device_id: str = Field(min_length=1, max_length=64)
    # A documented kind, or a new sensor's own word (e.g. "smoke"): kept, and raised as "other" by the
    # pipeline (counted as unknown_event_type) rather than dropping the alarm.
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="an AlarmBoxKind, or a new sensor's word")
    state: EventState = "active"
    time: AwareDatetime
    channel: int = Field(default=1, ge=0, le=4096)
    zone: str | None = Field(default=None, max_length=100)


def decode_alarmbox(data: bytes) -> VendorSecurityRecord:
    """Decode one alarm-box JSON event into a vendor record; errors are one readable line."""
    event = read_json_form(data, AlarmBoxEvent, "alarm-box", MAX_ALARMBOX_BYTES)
    return vendor_record(
        {
            "device_id": event.device_id,
            "channel": event.channel,
            "source_format": "alarmbox",
            "vendor_type": f"alarmbox:{event.kind}",
            "state": event.state,
            "occurred_at": event.time,
            "priority": None,
            "description": short_description(event.zone),
        }
    )
