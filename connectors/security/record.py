"""What every security decoder returns, and the map from vendor types onto our taxonomy.

`decode_isapi`, `decode_gb28181`, `decode_alarmbox` and `decode_counter` each turn one device payload into a
`VendorSecurityRecord`: the device's own words, made uniform (ids, channel, aware time,
state). `taxonomy_of` then names the `SecurityEventType`; None means a vendor type we do not
know: the pipeline raises it as "other" at warning severity (a camera's alarm is never dropped)
and counts it as lenient ("unknown_event_type") rather than guessing what it is.

Vendor types are stable strings, lower case:
    isapi:<eventType>              isapi:fielddetection, isapi:vmd, isapi:io
    gb28181:<method>[/<type>]      gb28181:5/6 (video analytics, intrusion), gb28181:2
    gb28181:keepalive[/error]      a Keepalive with Status OK (or ERROR)
    alarmbox:<kind>                alarmbox:one_key, alarmbox:fence
    counter:<kind>                 counter:count, counter:passage (pick-up centres' counters and barriers)

Example:
    >>> taxonomy_of("gb28181:5/6")
    'intrusion'
    >>> taxonomy_of("isapi:faceRecognitionXYZ") is None
    True
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError

from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.schemas.common import PlausibleTime, Record, describe_validation_error, read_device_time
from safecampus.schemas.security import EventState, PassageDirection, SecurityEventType

SecuritySourceFormat = Literal["isapi", "gb28181", "alarmbox", "counter"]

DESCRIPTION_MAX_CHARS = 200


class VendorSecurityRecord(Record):
    """One device event as the vendor described it, with uniform ids, channel, state and time.

    Example:
        VendorSecurityRecord(device_id="44:19:b6:12:34:56", channel=1, source_format="isapi",
            vendor_type="isapi:fielddetection", state="active",
            occurred_at=datetime(2026, 9, 1, 8, 30, tzinfo=SHANGHAI))
    """

    device_id: str = Field(min_length=1, max_length=64)
    channel: int = Field(default=1, ge=0, le=4096)
    source_format: SecuritySourceFormat
    vendor_type: str = Field(pattern=r"^(isapi|gb28181|alarmbox|counter):\S+$", max_length=64)
    state: EventState = "active"
    occurred_at: PlausibleTime
    priority: int | None = Field(default=None, ge=1, le=4, description="GB/T 28181 AlarmPriority, 1 highest")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    lenient: tuple[str, ...] = Field(default=(), description="what the device bent and we accepted, by kind")
    occupancy: int | None = Field(default=None, ge=0, description="counter: vehicles inside the site")
    queue: int | None = Field(default=None, ge=0, description="counter: vehicles waiting to enter")
    entered: int | None = Field(default=None, ge=0, description="counter: vehicles in since its last reading")
    exited: int | None = Field(default=None, ge=0, description="counter: vehicles out since its last reading")
    direction: PassageDirection | None = Field(default=None, description="barrier: a vehicle passing in or out")


def vendor_record(fields: dict[str, Any]) -> VendorSecurityRecord:
    """Build a record, turning a validation failure into one readable SecurityDecodeError."""
    try:
        return VendorSecurityRecord.model_validate(fields)
    except ValidationError as exc:
        raise SecurityDecodeError(describe_validation_error(exc)) from None


FormT = TypeVar("FormT", bound=Record)


def read_json_form(data: bytes, form: type[FormT], what: str, max_bytes: int) -> FormT:
    """One JSON event of a documented form (alarm box, counter), or a SecurityDecodeError in one readable line."""
    if len(data) > max_bytes:
        raise SecurityDecodeError(f"refused: the {what} payload is {len(data)} bytes, above the {max_bytes}-byte limit")
    try:
        return form.model_validate_json(data)
    except ValidationError as exc:
        raise SecurityDecodeError(f"the {what} event is not valid: {describe_validation_error(exc)}") from None


def device_time(text: str | None, field: str, lenient: list[str] | None = None) -> datetime:
    """An ISO 8601 device time as an aware datetime; no offset means Beijing time (Asia/Shanghai, +08:00).

    Devices on campus run on Beijing time and often omit the offset (GB/T 28181 never sends one),
    so a missing offset is not counted as lenient here. An offset with a one-digit hour (`+8:00`,
    `-8:00`), as some firmware writes it, is read as meant and "short_utc_offset" is appended to
    `lenient`. A time outside the accepted window (config `[limits]`: year 1, year 9999, a clock a
    year ahead) is refused."""
    if text is None:
        raise SecurityDecodeError(f"field '{field}' is missing; expected a time like 2026-09-01T08:30:00+08:00")
    bent: list[str] = []
    try:
        moment = read_device_time(text, bent)
    except ValueError as exc:
        raise SecurityDecodeError(f"field '{field}' {exc}") from None
    if lenient is not None:
        lenient.extend(kind for kind in bent if kind != "time_without_offset")
    return moment


def short_description(text: str | None) -> str | None:
    """A device's free-text description, whitespace collapsed and cut to a readable length."""
    if text is None:
        return None
    flat = " ".join(text.split())
    if not flat:
        return None
    return flat if len(flat) <= DESCRIPTION_MAX_CHARS else flat[: DESCRIPTION_MAX_CHARS - 1] + "…"


_TAXONOMY: dict[str, SecurityEventType] = {
    # Hikvision ISAPI eventType, lower-cased.
    "isapi:fielddetection": "intrusion",
    "isapi:regionentrance": "intrusion",
    "isapi:pir": "intrusion",
    "isapi:regionexiting": "other",  # leaving a watched area is logged, not an intrusion
    "isapi:linedetection": "tripwire",
    "isapi:loitering": "loitering",
    "isapi:vmd": "motion",
    "isapi:videoloss": "video_loss",
    "isapi:badvideo": "video_loss",
    "isapi:shelteralarm": "tamper",
    "isapi:tamperdetection": "tamper",
    "isapi:scenechangedetection": "tamper",
    "isapi:defocus": "tamper",
    "isapi:diskfull": "storage_fault",
    "isapi:diskerror": "storage_fault",
    "isapi:nicbroken": "device_fault",
    "isapi:ipconflict": "device_fault",
    "isapi:videomismatch": "device_fault",
    "isapi:io": "one_key_alarm",  # campus alarm inputs are wired to one-key alarm buttons
    "isapi:illaccess": "other",
    "isapi:facedetection": "other",
    "isapi:facesnap": "other",
    "isapi:unattendedbaggage": "other",
    "isapi:attendedbaggage": "other",
    "isapi:peoplecounting": "other",
    "isapi:rapidmove": "other",
    "isapi:group": "other",
    "isapi:parking": "other",
    # GB/T 28181 AlarmMethod/AlarmType (A.2.6 of the standard).
    "gb28181:2": "other",  # method 2 without a type: the standard's default alarm-input alarm
    "gb28181:2/1": "video_loss",
    "gb28181:2/2": "tamper",
    "gb28181:2/3": "storage_fault",
    "gb28181:2/4": "device_fault",  # high temperature
    "gb28181:2/5": "device_fault",  # low temperature
    "gb28181:5": "other",
    "gb28181:5/1": "other",  # manual video alarm
    "gb28181:5/2": "motion",
    "gb28181:5/3": "other",  # left object
    "gb28181:5/4": "other",  # removed object
    "gb28181:5/5": "tripwire",
    "gb28181:5/6": "intrusion",
    "gb28181:5/7": "other",  # wrong way
    "gb28181:5/8": "loitering",
    "gb28181:5/9": "other",  # flow count
    "gb28181:5/10": "other",  # density
    "gb28181:5/11": "other",  # video anomaly
    "gb28181:5/12": "other",  # fast movement
    "gb28181:5/13": "tamper",  # occlusion
    "gb28181:6": "device_fault",
    "gb28181:6/1": "storage_fault",
    "gb28181:6/2": "device_fault",  # fan
    "gb28181:keepalive": "heartbeat",
    "gb28181:keepalive/error": "device_fault",  # alive, but reports it is not working properly
    # The alarm-box JSON form (connectors/security/alarmbox.py).
    "alarmbox:one_key": "one_key_alarm",
    "alarmbox:fence": "fence",
    "alarmbox:door_forced": "forced_door",
    "alarmbox:door_held": "other",
    "alarmbox:heartbeat": "heartbeat",
    "alarmbox:tamper": "tamper",
    "alarmbox:fault": "device_fault",
    # The counter JSON form of pick-up centres (connectors/security/counter.py).
    "counter:count": "vehicle_count",
    "counter:passage": "vehicle_passage",
    "counter:heartbeat": "heartbeat",
    "counter:fault": "device_fault",
}

# GB/T 28181 methods whose meaning does not depend on the alarm type.
_GB_METHOD_WIDE: dict[str, SecurityEventType] = {
    "1": "one_key_alarm",  # phone alarm: a person raised it
    "3": "other",  # SMS alarm
    "4": "other",  # GPS alarm
    "7": "other",
}
_GB_METHOD_TYPE = re.compile(r"gb28181:(\d+)(?:/\d+)?")


def taxonomy_of(vendor_type: str) -> SecurityEventType | None:
    """Our event type for a vendor type; None when unknown (the pipeline raises it as "other", counted)."""
    key = vendor_type.strip().lower()
    known = _TAXONOMY.get(key)
    if known is not None:
        return known
    match = _GB_METHOD_TYPE.fullmatch(key)
    if match is not None:
        return _GB_METHOD_WIDE.get(match.group(1))
    return None
