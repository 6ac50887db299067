"""Hikvision ISAPI EventNotificationAlert: bare and multipart posts, identities, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest

from safecampus.connectors.security.isapi import decode_isapi
from safecampus.connectors.security.record import VendorSecurityRecord, taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.schemas.security import SecurityEventType
from safecampus.simulator.security_payloads import isapi_alert_xml, isapi_multipart

BEIJING = timezone(timedelta(hours=8))

# What a DS-2CD2386G2 posts to its HTTP listening host on an intrusion (abridged, verbatim shape).
DS2CD_FIELD_DETECTION = b"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.20.1.64</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>44:19:B6:12:34:56</macAddress>
<channelID>1</channelID>
<dateTime>2026-09-01T22:15:03+08:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>fielddetection</eventType>
<eventState>active</eventState>
<eventDescription>fielddetection alarm</eventDescription>
<channelName>East fence 01</channelName>
<DetectionRegionList>
<DetectionRegionEntry>
<regionID>1</regionID>
<sensitivityLevel>50</sensitivityLevel>
<RegionCoordinatesList>
<RegionCoordinates><positionX>120</positionX><positionY>300</positionY></RegionCoordinates>
</RegionCoordinatesList>
<detectionTarget>human</detectionTarget>
</DetectionRegionEntry>
</DetectionRegionList>
</EventNotificationAlert>
"""

# An older NVR: ver10 namespace, dynChannelID for an IP channel, no offset on dateTime.
NVR_VER10_LINE_CROSSING = b"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="1.0" xmlns="http://www.hikvision.com/ver10/XMLSchema">
<ipAddress>10.20.1.200</ipAddress>
<portNo>8000</portNo>
<protocol>HTTP</protocol>
<macAddress>c0-56-e3-aa-bb-cc</macAddress>
<dynChannelID>5</dynChannelID>
<dateTime>2026-09-01T06:05:00</dateTime>
<activePostCount>3</activePostCount>
<eventType>linedetection</eventType>
<eventState>active</eventState>
<eventDescription>linedetection alarm</eventDescription>
</EventNotificationAlert>
"""

# A camera's alarm input (wired to a one-key button), no namespace, inactive (restored).
NO_NAMESPACE_IO = b"""<EventNotificationAlert version="2.0">
<ipAddress>10.20.3.17</ipAddress>
<portNo>80</portNo>
<channelID>0</channelID>
<dateTime>2026-09-01T08:30:00Z</dateTime>
<activePostCount>1</activePostCount>
<eventType>IO</eventType>
<eventState>inactive</eventState>
<eventDescription>IO alarm</eventDescription>
</EventNotificationAlert>
"""

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(256)) * 8 + b"\r\n--\r\n\xff\xd9"


def alert(**fields: str) -> bytes:
    """A minimal alert, namespaced; `fields` replace or add child elements (empty string drops one)."""
    values = {
        "ipAddress": "10.20.1.64",
        "macAddress": "44:19:b6:12:34:56",
        "channelID": "1",
        "dateTime": "2026-09-01T22:15:03+08:00",
        "eventType": "VMD",
        "eventState": "active",
    } | fields
    body = "".join(f"<{name}>{value}</{name}>" for name, value in values.items() if value != "")
    return (
        '<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"{body}</EventNotificationAlert>"
    ).encode()


def test_ds2cd_field_detection() -> None:
    record = decode_isapi(DS2CD_FIELD_DETECTION, "application/xml; charset=UTF-8")
    assert record == VendorSecurityRecord(
        device_id="44:19:b6:12:34:56",
        channel=1,
        source_format="isapi",
        vendor_type="isapi:fielddetection",
        state="active",
        occurred_at=datetime(2026, 9, 1, 22, 15, 3, tzinfo=BEIJING),
        priority=None,
        description="fielddetection alarm",
    )
    assert taxonomy_of(record.vendor_type) == "intrusion"


def test_nvr_ver10_dyn_channel_and_time_without_offset() -> None:
    record = decode_isapi(NVR_VER10_LINE_CROSSING)
    assert record.device_id == "c0:56:e3:aa:bb:cc"
    assert record.channel == 5
    assert record.occurred_at == datetime(2026, 9, 1, 6, 5, tzinfo=BEIJING)
    assert record.occurred_at.utcoffset() == timedelta(hours=8)
    assert taxonomy_of(record.vendor_type) == "tripwire"


def test_no_namespace_io_without_mac_uses_ip() -> None:
    record = decode_isapi(NO_NAMESPACE_IO)
    assert record.device_id == "10.20.3.17"
    assert record.channel == 0
    assert record.state == "inactive"
    assert record.vendor_type == "isapi:io"
    assert record.occurred_at == datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    assert taxonomy_of(record.vendor_type) == "one_key_alarm"


def test_device_id_element_wins_over_mac_and_ip() -> None:
    record = decode_isapi(alert(deviceID="CZ-NVR-0007"))
    assert record.device_id == "CZ-NVR-0007"


def test_psia_namespace_is_accepted() -> None:
    payload = alert().replace(b"http://www.hikvision.com/ver20/XMLSchema", b"urn:psialliance-org")
    assert decode_isapi(payload).vendor_type == "isapi:vmd"


def test_missing_channel_means_channel_1() -> None:
    assert decode_isapi(alert(channelID="")).channel == 1


def test_missing_event_state_counts_as_active() -> None:
    assert decode_isapi(alert(eventState="")).state == "active"


def test_event_state_case_is_normalized() -> None:
    assert decode_isapi(alert(eventState="Inactive")).state == "inactive"


def test_long_description_is_shortened() -> None:
    record = decode_isapi(alert(eventDescription="x " * 400))
    assert record.description is not None
    assert len(record.description) == 200
    assert record.description.endswith("…")


def test_multipart_form_data_with_jpeg_before_and_after_the_xml() -> None:
    boundary = "boundary_0a1b2c3d"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="backgroundImage"; filename="backgroundImage.jpg"\r\n'
        "Content-Type: image/jpeg\r\n"
        f"Content-Length: {len(JPEG)}\r\n\r\n"
    ).encode() + JPEG
    body += (
        f"\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="linedetection"; filename="linedetection.xml"\r\n'
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(NVR_VER10_LINE_CROSSING)}\r\n\r\n"
    ).encode() + NVR_VER10_LINE_CROSSING
    body += (
        f"\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="linedetectionPicture"; filename="linedetectionPicture.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + JPEG
    body += f"\r\n--{boundary}--\r\n".encode()
    record = decode_isapi(body, f"multipart/form-data; boundary={boundary}")
    assert record.vendor_type == "isapi:linedetection"
    assert record.channel == 5


def test_multipart_mixed_with_quoted_boundary_and_untyped_xml_part() -> None:
    body = (
        b"--MIME_boundary\r\n"
        b"Content-Length: 400\r\n\r\n" + NO_NAMESPACE_IO + b"\r\n"
        b"--MIME_boundary\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--MIME_boundary--\r\n"
    )
    record = decode_isapi(body, 'multipart/mixed; boundary="MIME_boundary"')
    assert record.vendor_type == "isapi:io"


def test_multipart_boundary_is_sniffed_when_content_type_is_missing() -> None:
    body, _ = isapi_multipart(DS2CD_FIELD_DETECTION, "----HikBoundary7d3f")
    assert decode_isapi(body).vendor_type == "isapi:fielddetection"
    assert decode_isapi(body, None).device_id == "44:19:b6:12:34:56"


def test_text_xml_part_and_lf_only_line_breaks() -> None:
    body = b"--b\nContent-Type: text/xml\n\n" + alert(eventType="PIR") + b"\n--b--\n"
    record = decode_isapi(body, "multipart/form-data; boundary=b")
    assert taxonomy_of(record.vendor_type) == "intrusion"


def test_multipart_part_without_headers() -> None:
    body = b"preamble\r\n--b\r\n\r\n" + alert(eventType="shelteralarm") + b"\r\n--b--\r\n"
    record = decode_isapi(body, "multipart/form-data; boundary=b")
    assert taxonomy_of(record.vendor_type) == "tamper"


def test_multipart_without_xml_part() -> None:
    body = b"--b\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--b--\r\n"
    with pytest.raises(SecurityDecodeError, match="no XML part"):
        decode_isapi(body, "multipart/form-data; boundary=b")


def test_multipart_content_type_without_boundary() -> None:
    with pytest.raises(SecurityDecodeError, match="names no boundary"):
        decode_isapi(alert(), "multipart/form-data")


def test_entity_bomb_inside_a_multipart_post() -> None:
    bomb = (
        b'<!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<EventNotificationAlert>&b;</EventNotificationAlert>"
    )
    body, content_type = isapi_multipart(bomb, "x")
    with pytest.raises(SecurityDecodeError, match="declares entities"):
        decode_isapi(body, content_type)


def test_external_entity_in_an_alert() -> None:
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE EventNotificationAlert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<EventNotificationAlert><eventDescription>&x;</eventDescription></EventNotificationAlert>"
    )
    with pytest.raises(SecurityDecodeError, match="external entity"):
        decode_isapi(payload)


def test_malformed_xml() -> None:
    with pytest.raises(SecurityDecodeError, match="not well-formed XML"):
        decode_isapi(DS2CD_FIELD_DETECTION[:-40])


def test_unknown_root_element() -> None:
    payload = b'<ResponseStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><statusCode>1</statusCode></ResponseStatus>'
    with pytest.raises(SecurityDecodeError, match=r"unexpected root element <ResponseStatus>"):
        decode_isapi(payload)


def test_no_device_identity() -> None:
    with pytest.raises(SecurityDecodeError, match="no deviceID, macAddress or ipAddress"):
        decode_isapi(alert(ipAddress="", macAddress=""))


def test_bad_mac_address() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'macAddress' is not a MAC address"):
        decode_isapi(alert(macAddress="not-a-mac"))


def test_missing_event_type() -> None:
    with pytest.raises(SecurityDecodeError, match="no eventType"):
        decode_isapi(alert(eventType=""))


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00+08:00", "2026-09-01T25:00:00"])
def test_invalid_date_time(value: str) -> None:
    with pytest.raises(SecurityDecodeError, match="field 'dateTime' is not a valid date and time"):
        decode_isapi(alert(dateTime=value))


def test_missing_date_time() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'dateTime' is missing"):
        decode_isapi(alert(dateTime=""))


def test_invalid_event_state_and_channel() -> None:
    with pytest.raises(SecurityDecodeError, match="eventState' must be active or inactive"):
        decode_isapi(alert(eventState="on"))
    with pytest.raises(SecurityDecodeError, match="field 'channelID' is not a channel number"):
        decode_isapi(alert(channelID="one"))
    with pytest.raises(SecurityDecodeError, match="field 'channel'"):
        decode_isapi(alert(channelID="99999"))


def test_oversize_device_id_is_a_readable_error() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'device_id'"):
        decode_isapi(alert(deviceID="D" * 65))


def test_unknown_event_type_decodes_but_has_no_taxonomy() -> None:
    record = decode_isapi(alert(eventType="faceRecognitionXYZ"))
    assert record.vendor_type == "isapi:facerecognitionxyz"
    assert taxonomy_of(record.vendor_type) is None


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("VMD", "motion"),
        ("linedetection", "tripwire"),
        ("fielddetection", "intrusion"),
        ("regionEntrance", "intrusion"),
        ("regionExiting", "other"),
        ("loitering", "loitering"),
        ("videoloss", "video_loss"),
        ("shelteralarm", "tamper"),
        ("IO", "one_key_alarm"),
        ("diskfull", "storage_fault"),
        ("diskerror", "storage_fault"),
        ("PIR", "intrusion"),
        ("facedetection", "other"),
        ("nicbroken", "device_fault"),
    ],
)
def test_builder_round_trip_and_taxonomy(event_type: str, expected: SecurityEventType) -> None:
    at = datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
    xml = isapi_alert_xml(None, "44:19:B6:12:34:56", "10.20.1.64", 2, event_type, "active", at)
    for payload, content_type in ((xml, "application/xml"), isapi_multipart(xml, "MIME_boundary")):
        record = decode_isapi(payload, content_type)
        assert record.device_id == "44:19:b6:12:34:56"
        assert record.channel == 2
        assert record.vendor_type == f"isapi:{event_type.lower()}"
        assert record.state == "active"
        assert record.occurred_at == at
        assert taxonomy_of(record.vendor_type) == expected
    assert expected in get_args(SecurityEventType)


def test_builder_with_device_id_and_inactive_state() -> None:
    at = datetime(2026, 9, 1, 22, 0, tzinfo=BEIJING)
    xml = isapi_alert_xml("CZ-CAM-0042", "44:19:b6:00:00:01", "10.20.1.65", 1, "videoloss", "inactive", at)
    assert b'xmlns="http://www.hikvision.com/ver20/XMLSchema"' in xml
    record = decode_isapi(xml)
    assert (record.device_id, record.state, record.occurred_at) == ("CZ-CAM-0042", "inactive", at)


def test_builder_escapes_markup() -> None:
    at = datetime(2026, 9, 1, 22, 0, tzinfo=BEIJING)
    xml = isapi_alert_xml("A&B<1>", "44:19:b6:00:00:01", "10.20.1.65", 1, "VMD", "active", at)
    assert decode_isapi(xml).device_id == "A&B<1>"
