"""Hikvision ISAPI `EventNotificationAlert` decoding: what cameras and NVRs post on an alarm.

A camera posts either the bare XML (`Content-Type: application/xml`) or, when it attaches
snapshots, a multipart/form-data (or multipart/mixed) body: one XML part plus JPEG parts.
`decode_isapi` finds the XML part, parses it safely and returns a `VendorSecurityRecord`.

Example (an abridged DS-2CD intrusion alert):
    <EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
      <ipAddress>10.20.1.64</ipAddress><portNo>80</portNo><macAddress>44:19:b6:12:34:56</macAddress>
      <channelID>1</channelID><dateTime>2026-09-01T22:15:03+08:00</dateTime>
      <activePostCount>1</activePostCount><eventType>fielddetection</eventType>
      <eventState>active</eventState><eventDescription>fielddetection alarm</eventDescription>
    </EventNotificationAlert>
    -> device_id "44:19:b6:12:34:56", channel 1, vendor_type "isapi:fielddetection"

The device id is `<deviceID>` when the device sends one (ISUP-registered devices do), else the
MAC address (lower case), else the IP address. A time without an offset is Beijing time.
Cameras on a long-lived alertStream repeat `videoloss`/`inactive` every few seconds as a
keepalive; it decodes like any other alert (video_loss, inactive = video present).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from safecampus.connectors.security.record import (
    VendorSecurityRecord,
    device_time,
    short_description,
    vendor_record,
)
from safecampus.connectors.security.xml import (
    SecurityDecodeError,
    child,
    child_text,
    local_name,
    parse_untrusted_xml,
)

# Snapshots make a post far larger than its XML; a few high-resolution JPEGs fit in this.
MAX_ISAPI_POST_BYTES = 16 * 1024 * 1024
ISAPI_ROOT = "EventNotificationAlert"
MAX_MULTIPART_PARTS = 64  # an alert is one XML part and a few JPEG snapshots

_BOUNDARY_PARAM = re.compile(r"""boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))""", re.IGNORECASE)
_XML_CONTENT_TYPES = ("application/xml", "text/xml")
_MAC = re.compile(r"[0-9a-f]{2}([:-]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}")


def decode_isapi(data: bytes, content_type: str | None = None) -> VendorSecurityRecord:
    """Decode one ISAPI alert post (bare XML or multipart with pictures) into a vendor record."""
    if len(data) > MAX_ISAPI_POST_BYTES:
        raise SecurityDecodeError(
            f"refused: the ISAPI post is {len(data)} bytes, above the {MAX_ISAPI_POST_BYTES}-byte limit"
        )
    root = parse_untrusted_xml(_xml_body(data, content_type))
    if local_name(root.tag) != ISAPI_ROOT:
        raise SecurityDecodeError(
            f"unexpected root element <{local_name(root.tag)}>; expected <{ISAPI_ROOT}> (a Hikvision ISAPI alert)"
        )
    event_type = child_text(root, "eventType")
    if event_type is None:
        raise SecurityDecodeError("the ISAPI alert has no eventType")
    lenient: list[str] = []
    event_type = _related_event(root, event_type, lenient)
    occurred_at = device_time(child_text(root, "dateTime"), "dateTime", lenient)
    return vendor_record(
        {
            "device_id": _device_id(root, lenient),
            "channel": _channel(root),
            "source_format": "isapi",
            "vendor_type": f"isapi:{event_type.lower()}",
            "state": _state(root),
            "occurred_at": occurred_at,
            "priority": None,
            "description": short_description(child_text(root, "eventDescription")),
            "lenient": tuple(lenient),
        }
    )


def _xml_body(data: bytes, content_type: str | None) -> bytes:
    """The XML itself: the whole body, or the XML part of a multipart post."""
    boundary = _boundary(data, content_type)
    if boundary is None:
        return data
    for headers, body in _multipart_parts(data, boundary):
        part_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if part_type in _XML_CONTENT_TYPES or (not part_type and body.lstrip().startswith(b"<")):
            return body
    for _, body in _multipart_parts(data, boundary):
        if body.lstrip().startswith(b"<"):
            return body
    raise SecurityDecodeError(
        "the multipart ISAPI post has no XML part (expected one with Content-Type application/xml)"
    )


def _boundary(data: bytes, content_type: str | None) -> bytes | None:
    """The multipart boundary from Content-Type, else sniffed from a first line '--boundary'."""
    if content_type and content_type.strip().lower().startswith("multipart/"):
        match = _BOUNDARY_PARAM.search(content_type)
        if match is None:
            raise SecurityDecodeError(f"the Content-Type {content_type!r} is multipart but names no boundary")
        boundary = match.group(1) or match.group(2)
        # RFC 2046 §5.1.1: 1 to 70 ASCII characters.
        if not boundary.isascii() or len(boundary) > 70:
            shown = boundary if len(boundary) <= 40 else boundary[:37] + "..."
            raise SecurityDecodeError(f"the multipart boundary {shown!r} is not 1 to 70 ASCII characters (RFC 2046)")
        return boundary.encode("ascii")
    start = data.lstrip(b"\r\n")
    if start.startswith(b"--"):
        first_line = start.split(b"\n", 1)[0].rstrip(b"\r")
        boundary = first_line[2:].strip()
        if boundary:
            return boundary
    return None


def _multipart_parts(data: bytes, boundary: bytes) -> Iterator[tuple[dict[str, str], bytes]]:
    """(headers, body) of each part between '--boundary' lines; the preamble is skipped.

    Lazy and linear: each delimiter is found once from where the last one ended, so a caller that
    stops at the XML part reads no further; more than `MAX_MULTIPART_PARTS` parts is refused.
    """
    delimiter = b"--" + boundary
    at = data.find(delimiter)
    count = 0
    while at >= 0:
        start = at + len(delimiter)
        at = data.find(delimiter, start)
        chunk = data[start:] if at < 0 else data[start:at]
        if chunk.startswith(b"--"):
            return  # the closing delimiter
        count += 1
        if count > MAX_MULTIPART_PARTS:
            raise SecurityDecodeError(
                f"refused: the multipart ISAPI post has more than {MAX_MULTIPART_PARTS} parts"
                " (an alert is one XML part and a few pictures)"
            )
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        split = _split_headers(chunk)
        if split is None:
            continue
        head, body = split
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        # The line break before the next delimiter belongs to the delimiter, not the body.
        yield headers, body.removesuffix(b"\r\n").removesuffix(b"\n")


def _split_headers(chunk: bytes) -> tuple[bytes, bytes] | None:
    """A part's header block and body, split at the first blank line (CRLF or bare LF)."""
    for mark in (b"\r\n", b"\n"):
        if chunk.startswith(mark):
            return b"", chunk[len(mark) :]  # a part without headers
    ends = [(at, len(mark)) for mark in (b"\r\n\r\n", b"\n\n") if (at := chunk.find(mark)) >= 0]
    if not ends:
        return None
    at, mark_length = min(ends)
    return chunk[:at], chunk[at + mark_length :]


def _related_event(root: Element, event_type: str, lenient: list[str]) -> str:
    """The event a `duration` alert is about: cameras that report how long a detection lasted send
    eventType "duration" and name the detection in DurationList/Duration/relationEvent."""
    if event_type.lower() != "duration":
        return event_type
    durations = child(root, "DurationList")
    duration = child(durations, "Duration") if durations is not None else None
    related = child_text(duration, "relationEvent") if duration is not None else None
    if related is None:
        return event_type
    lenient.append("duration_relation_event")
    return related


def _device_id(root: Element, lenient: list[str]) -> str:
    """deviceID when present, else the MAC address, else the IP address, else (older NVR firmware
    posting the PSIA form, with none of these) the serial number in Extensions, counted as lenient."""
    device_id = child_text(root, "deviceID")
    if device_id is not None:
        return device_id
    mac = child_text(root, "macAddress")
    if mac is not None:
        normalized = mac.lower()
        if _MAC.fullmatch(normalized) is None:
            raise SecurityDecodeError(f"field 'macAddress' is not a MAC address (got {mac!r})")
        hex_digits = re.sub(r"[:-]", "", normalized)
        return ":".join(hex_digits[i : i + 2] for i in range(0, 12, 2))
    ip_address = child_text(root, "ipAddress")
    if ip_address is not None:
        return ip_address
    extensions = child(root, "Extensions")
    serial = child_text(extensions, "serialNumber") if extensions is not None else None
    if serial is not None:
        lenient.append("serial_number_as_device_id")
        return serial
    raise SecurityDecodeError("the ISAPI alert does not say which device sent it: no deviceID, macAddress or ipAddress")


def _channel(root: Element) -> int:
    """channelID, else dynChannelID (NVR IP channels); 1 when neither is sent."""
    for field in ("channelID", "dynChannelID"):
        text = child_text(root, field)
        if text is not None:
            if not (text.isascii() and text.isdigit()) or len(text) > 6:
                shown = text if len(text) <= 40 else f"{text[:37]}... ({len(text)} characters)"
                raise SecurityDecodeError(f"field '{field}' is not a channel number (got {shown!r})")
            return int(text)
    return 1


def _state(root: Element) -> str:
    """eventState active/inactive; a one-shot alert without it counts as active."""
    text = child_text(root, "eventState")
    if text is None:
        return "active"
    state = text.lower()
    if state not in ("active", "inactive"):
        raise SecurityDecodeError(f"field 'eventState' must be active or inactive (got {text!r})")
    return state
