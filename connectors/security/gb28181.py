"""GB/T 28181 MANSCDP decoding: `Notify` Alarm and Keepalive bodies from video platforms.

Devices and lower platforms send these in SIP MESSAGE requests, usually declared
`encoding="GB2312"`. `decode_gb28181` takes the XML body alone or the whole SIP message
(request line, headers, blank line, body) and returns a `VendorSecurityRecord`.

Example (an intrusion alarm from a camera channel):
    <?xml version="1.0" encoding="GB2312"?>
    <Notify>
      <CmdType>Alarm</CmdType><SN>17430</SN><DeviceID>32010200001320000001</DeviceID>
      <AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>
      <AlarmTime>2026-09-01T22:15:03</AlarmTime><AlarmDescription>周界入侵</AlarmDescription>
      <Info><AlarmType>6</AlarmType></Info>
    </Notify>
    -> device_id "32010200001320000001", channel 1, vendor_type "gb28181:5/6", priority 1

The 20-digit DeviceID already names the channel (type code 131/132 = camera), so it is kept
whole as device_id and channel is 1. AlarmTime has no offset: it is Beijing time. A
Keepalive carries no time, so its time is `received_at` (the gateway's receive time), else
the SIP Date header.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from safecampus.connectors.security.record import (
    VendorSecurityRecord,
    device_time,
    short_description,
    vendor_record,
)
from safecampus.connectors.security.xml import (
    MAX_XML_BYTES,
    SecurityDecodeError,
    child,
    child_text,
    local_name,
    parse_untrusted_xml,
)

GB_ROOT = "Notify"
# A SIP request line: method, request URI, version (RFC 3261 §7.1).
_SIP_REQUEST_LINE = re.compile(rb"^[A-Z]+ sips?:\S+ SIP/2\.0\r?\n")
_GB_DEVICE_ID = re.compile(r"\d{20}", re.ASCII)
_SMALL_NUMBER = re.compile(r"\d{1,4}", re.ASCII)


def decode_gb28181(data: bytes, received_at: datetime | None = None) -> VendorSecurityRecord:
    """Decode a MANSCDP Notify (Alarm or Keepalive), bare or inside a SIP MESSAGE."""
    body, sip_date = _strip_sip(data)
    root = parse_untrusted_xml(body)
    if local_name(root.tag) != GB_ROOT:
        raise SecurityDecodeError(
            f"unexpected root element <{local_name(root.tag)}>; expected <{GB_ROOT}> "
            "(a GB/T 28181 Alarm or Keepalive notification)"
        )
    device_id = _device_id(root)
    command = (child_text(root, "CmdType") or "").lower()
    if command == "alarm":
        return vendor_record(_alarm_fields(root, device_id))
    if command == "keepalive":
        return vendor_record(_keepalive_fields(root, device_id, received_at, sip_date))
    shown = child_text(root, "CmdType")
    raise SecurityDecodeError(
        f"unsupported GB/T 28181 CmdType {shown!r}; expected Alarm or Keepalive"
        if shown
        else "the GB/T 28181 notification has no CmdType; expected Alarm or Keepalive"
    )


def _strip_sip(data: bytes) -> tuple[bytes, str | None]:
    """The MANSCDP body and the SIP Date header, for a bare body or a whole SIP request."""
    if _SIP_REQUEST_LINE.match(data) is None:
        return data, None
    # The first blank line ends the headers, whichever line break the device uses.
    ends = [(at, len(mark)) for mark in (b"\r\n\r\n", b"\n\n") if (at := data.find(mark)) >= 0]
    if not ends:
        raise SecurityDecodeError("the SIP message has no blank line between its headers and the body")
    at, mark_length = min(ends)
    head, body = data[:at], data[at + mark_length :]
    if len(head) > MAX_XML_BYTES:
        raise SecurityDecodeError("refused: the SIP headers are implausibly large")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines()[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    length_text = headers.get("content-length", headers.get("l"))
    if length_text is not None:
        if not length_text.isascii() or not length_text.isdigit() or len(length_text) > 9:
            shown = length_text if len(length_text) <= 20 else f"{length_text[:17]}... ({len(length_text)} characters)"
            raise SecurityDecodeError(f"the SIP Content-Length is not a plausible number (got {shown!r})")
        length = int(length_text)
        if length > len(body):
            raise SecurityDecodeError(
                f"the SIP message is truncated: Content-Length says {length} bytes, the body has {len(body)}"
            )
        body = body[:length]
    return body, headers.get("date")


def _device_id(root: Element) -> str:
    """The 20-digit GB/T 28181 id of the device or channel that sent the notification."""
    device_id = child_text(root, "DeviceID")
    if device_id is None:
        raise SecurityDecodeError("the GB/T 28181 notification has no DeviceID")
    if _GB_DEVICE_ID.fullmatch(device_id) is None:
        shown = device_id if len(device_id) <= 40 else device_id[:37] + "..."
        raise SecurityDecodeError(f"field 'DeviceID' must be a 20-digit GB/T 28181 id (got {shown!r})")
    return device_id


def _alarm_fields(root: Element, device_id: str) -> dict[str, Any]:
    """Record fields of an Alarm: method and type name the vendor type, priority 1 is highest."""
    method = _number(root, "AlarmMethod", required=True)
    info = child(root, "Info")
    # The 2016 edition puts AlarmType under Info; many devices still send it at the top level.
    alarm_type = _number(info, "AlarmType") if info is not None else None
    if alarm_type is None:
        alarm_type = _number(root, "AlarmType")
    if method == 0:
        raise SecurityDecodeError("field 'AlarmMethod' must be 1 to 7 (got 0)")
    priority = _number(root, "AlarmPriority")
    if priority is not None and not 1 <= priority <= 4:
        raise SecurityDecodeError(f"field 'AlarmPriority' must be 1 to 4 (got {priority})")
    lenient: list[str] = []
    return {
        "device_id": device_id,
        "channel": 1,
        "source_format": "gb28181",
        "vendor_type": f"gb28181:{method}" if alarm_type is None else f"gb28181:{method}/{alarm_type}",
        "state": "active",  # a GB/T 28181 alarm is a one-shot notification, never cleared
        "occurred_at": device_time(child_text(root, "AlarmTime"), "AlarmTime", lenient),
        "priority": priority,
        "description": short_description(child_text(root, "AlarmDescription")),
        "lenient": tuple(lenient),
    }


def _keepalive_fields(
    root: Element, device_id: str, received_at: datetime | None, sip_date: str | None
) -> dict[str, Any]:
    """Record fields of a Keepalive: a heartbeat, or a device fault when Status is ERROR."""
    status = (child_text(root, "Status") or "OK").upper()
    if status not in ("OK", "ERROR"):
        raise SecurityDecodeError(f"field 'Status' must be OK or ERROR (got {child_text(root, 'Status')!r})")
    if received_at is not None:
        occurred_at = received_at
    elif sip_date is not None:
        occurred_at = device_time(sip_date, "SIP Date")
    else:
        raise SecurityDecodeError(
            "a GB/T 28181 Keepalive carries no time of its own: pass received_at (the gateway's receive time)"
        )
    return {
        "device_id": device_id,
        "channel": 1,
        "source_format": "gb28181",
        "vendor_type": "gb28181:keepalive" if status == "OK" else "gb28181:keepalive/error",
        "state": "active",
        "occurred_at": occurred_at,
        "priority": None,
        "description": None,
    }


def _number(parent: Element, field: str, *, required: bool = False) -> int | None:
    """A small whole-number field (method, type, priority); an unknown value is the taxonomy's call."""
    text = child_text(parent, field)
    if text is None:
        if required:
            raise SecurityDecodeError(f"the GB/T 28181 alarm has no {field}")
        return None
    if _SMALL_NUMBER.fullmatch(text) is None:
        raise SecurityDecodeError(f"field '{field}' must be a whole number (got {text!r})")
    return int(text)
