"""Device-shaped security payloads for the simulator and the tests.

Each builder writes what a real device sends, byte for byte in shape: a Hikvision camera's
namespaced `EventNotificationAlert` (bare or multipart with a snapshot), a GB/T 28181
`Notify` declared and encoded as GB2312 (optionally wrapped in a SIP MESSAGE), and the
alarm-box and counter JSON forms. Every payload decodes with the matching `decode_*` function.

Example:
    >>> at = datetime(2026, 9, 1, 22, 15, tzinfo=SHANGHAI)
    >>> body = gb28181_alarm_xml("32010200001320000001", 1, 5, 6, at, sn=17430)
    >>> decode_gb28181(gb28181_sip_message(body, "32010200001320000001")).vendor_type
    'gb28181:5/6'
"""

from __future__ import annotations

import json
from datetime import datetime
from xml.sax.saxutils import escape

from safecampus.connectors.security.alarmbox import AlarmBoxKind
from safecampus.connectors.security.counter import CounterKind
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.security import EventState, PassageDirection

ISAPI_NAMESPACE = "http://www.hikvision.com/ver20/XMLSchema"
# A platform id and SIP domain in the standard's 20-/10-digit form (Nanjing, centre server).
GB_PLATFORM_ID = "32010000002000000001"
GB_SIP_DOMAIN = "3201000000"

# The descriptions Hikvision firmware puts next to common event types.
_ISAPI_DESCRIPTIONS = {
    "VMD": "Motion alarm",
    "linedetection": "linedetection alarm",
    "fielddetection": "fielddetection alarm",
    "videoloss": "videoloss alarm",
    "shelteralarm": "shelteralarm alarm",
    "IO": "IO alarm",
}
# Smallest plausible JPEG: SOI, a JFIF APP0 header, filler, EOI; decoders never look inside.
_SNAPSHOT_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
)


def isapi_alert_xml(
    device_id: str | None,
    mac: str,
    ip: str,
    channel: int,
    event_type: str,
    state: EventState,
    at: datetime,
) -> bytes:
    """A DS-2CD camera's EventNotificationAlert; `device_id` adds <deviceID> (ISUP devices only)."""
    device_line = f"<deviceID>{escape(device_id)}</deviceID>\r\n" if device_id is not None else ""
    description = _ISAPI_DESCRIPTIONS.get(event_type, f"{event_type} alarm")
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        f'<EventNotificationAlert version="2.0" xmlns="{ISAPI_NAMESPACE}">\r\n'
        f"<ipAddress>{escape(ip)}</ipAddress>\r\n"
        "<portNo>80</portNo>\r\n"
        "<protocol>HTTP</protocol>\r\n"
        f"<macAddress>{escape(mac)}</macAddress>\r\n"
        f"{device_line}"
        f"<channelID>{channel}</channelID>\r\n"
        f"<dateTime>{at.astimezone(SHANGHAI).isoformat(timespec='seconds')}</dateTime>\r\n"
        "<activePostCount>1</activePostCount>\r\n"
        f"<eventType>{escape(event_type)}</eventType>\r\n"
        f"<eventState>{state}</eventState>\r\n"
        f"<eventDescription>{escape(description)}</eventDescription>\r\n"
        f"<channelName>Camera {channel:02d}</channelName>\r\n"
        "</EventNotificationAlert>\r\n"
    )
    return text.encode("utf-8")


def isapi_multipart(xml: bytes, boundary: str, picture: bytes | None = _SNAPSHOT_JPEG) -> tuple[bytes, str]:
    """A multipart/form-data alarm post: the XML part, then a JPEG snapshot; (body, Content-Type)."""
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = (
        delimiter
        + b'Content-Disposition: form-data; name="EventNotificationAlert"; filename="alert.xml"\r\n'
        + b"Content-Type: application/xml\r\n"
        + f"Content-Length: {len(xml)}\r\n\r\n".encode("ascii")
        + xml
        + b"\r\n"
    )
    if picture is not None:
        body += (
            delimiter
            + b'Content-Disposition: form-data; name="detectionPicture"; filename="detectionPicture.jpg"\r\n'
            + b"Content-Type: image/jpeg\r\n"
            + f"Content-Length: {len(picture)}\r\n\r\n".encode("ascii")
            + picture
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode("ascii")
    return body, f"multipart/form-data; boundary={boundary}"


def gb28181_alarm_xml(
    device_id: str,
    priority: int,
    method: int,
    alarm_type: int | None,
    at: datetime,
    sn: int,
    description: str = "报警",
) -> bytes:
    """A MANSCDP Alarm Notify as a GB/T 28181-2016 device sends it: GB2312, local time, no offset."""
    info = f"<Info>\r\n<AlarmType>{alarm_type}</AlarmType>\r\n</Info>\r\n" if alarm_type is not None else ""
    local = at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    body = (
        "<Notify>\r\n"
        "<CmdType>Alarm</CmdType>\r\n"
        f"<SN>{sn}</SN>\r\n"
        f"<DeviceID>{escape(device_id)}</DeviceID>\r\n"
        f"<AlarmPriority>{priority}</AlarmPriority>\r\n"
        f"<AlarmMethod>{method}</AlarmMethod>\r\n"
        f"<AlarmTime>{local}</AlarmTime>\r\n"
        f"<AlarmDescription>{escape(description)}</AlarmDescription>\r\n"
        f"{info}"
        "</Notify>\r\n"
    )
    return _gb_encoded(body)


def gb28181_keepalive_xml(device_id: str, sn: int, status: str = "OK") -> bytes:
    """A MANSCDP Keepalive Notify (GB2312-declared); it carries no time of its own."""
    body = (
        "<Notify>\r\n"
        "<CmdType>Keepalive</CmdType>\r\n"
        f"<SN>{sn}</SN>\r\n"
        f"<DeviceID>{escape(device_id)}</DeviceID>\r\n"
        f"<Status>{escape(status)}</Status>\r\n"
        "</Notify>\r\n"
    )
    return _gb_encoded(body)


def gb28181_sip_message(body: bytes, device_id: str, cseq: int = 1, at: datetime | None = None) -> bytes:
    """Wrap a MANSCDP body in the SIP MESSAGE request a device sends to its platform."""
    date_line = f"Date: {at.astimezone(SHANGHAI).strftime('%Y-%m-%dT%H:%M:%S.000')}\r\n" if at is not None else ""
    head = (
        f"MESSAGE sip:{GB_PLATFORM_ID}@{GB_SIP_DOMAIN} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.20.1.64:5060;rport;branch=z9hG4bK{cseq:010d}\r\n"
        f"From: <sip:{device_id}@{GB_SIP_DOMAIN}>;tag={cseq:08d}\r\n"
        f"To: <sip:{GB_PLATFORM_ID}@{GB_SIP_DOMAIN}>\r\n"
        f"Call-ID: {cseq:08d}@10.20.1.64\r\n"
        f"CSeq: {cseq} MESSAGE\r\n"
        "Max-Forwards: 70\r\n"
        "User-Agent: IP Camera\r\n"
        f"{date_line}"
        "Content-Type: Application/MANSCDP+xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def alarmbox_json(
    device_id: str,
    kind: AlarmBoxKind,
    state: EventState,
    at: datetime,
    channel: int = 1,
    zone: str | None = None,
) -> bytes:
    """One alarm-box event in the documented JSON form (see connectors/security/alarmbox.py)."""
    event: dict[str, object] = {
        "device_id": device_id,
        "kind": kind,
        "state": state,
        "time": at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "channel": channel,
    }
    if zone is not None:
        event["zone"] = zone
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def counter_json(
    device_id: str,
    kind: CounterKind,
    at: datetime,
    *,
    occupancy: int | None = None,
    queue: int | None = None,
    entered: int | None = None,
    exited: int | None = None,
    direction: PassageDirection | None = None,
    channel: int = 1,
) -> bytes:
    """One pick-up centre counter reading or barrier passage in the documented JSON form (docs/pickup-centres.md)."""
    event: dict[str, object] = {
        "device_id": device_id,
        "kind": kind,
        "time": at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "channel": channel,
    }
    optional = {"occupancy": occupancy, "queue": queue, "entered": entered, "exited": exited, "direction": direction}
    event |= {k: v for k, v in optional.items() if v is not None}
    return json.dumps(event).encode("utf-8")


def _gb_encoded(body: str) -> bytes:
    """GB2312 as devices declare it; GB18030 when the text has characters GB2312 lacks."""
    try:
        return ('<?xml version="1.0" encoding="GB2312"?>\r\n' + body).encode("gb2312")
    except UnicodeEncodeError:
        return ('<?xml version="1.0" encoding="GB18030"?>\r\n' + body).encode("gb18030")
