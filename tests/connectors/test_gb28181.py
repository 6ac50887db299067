"""GB/T 28181 MANSCDP Notify: GB2312 alarms, keepalives, SIP MESSAGE wrapping, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from safecampus.connectors.security.gb28181 import decode_gb28181
from safecampus.connectors.security.record import VendorSecurityRecord, taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.schemas.security import SecurityEventType
from safecampus.simulator.security_payloads import (
    gb28181_alarm_xml,
    gb28181_keepalive_xml,
    gb28181_sip_message,
)

BEIJING = timezone(timedelta(hours=8))
CAMERA = "32010200001320000001"
RECEIVED = datetime(2026, 9, 1, 0, 30, 5, tzinfo=UTC)

# A camera channel's perimeter-intrusion alarm, GB/T 28181-2016 shape, GB2312 on the wire.
INTRUSION_ALARM = """<?xml version="1.0" encoding="GB2312"?>\r
<Notify>\r
<CmdType>Alarm</CmdType>\r
<SN>17430</SN>\r
<DeviceID>32010200001320000001</DeviceID>\r
<AlarmPriority>1</AlarmPriority>\r
<AlarmMethod>5</AlarmMethod>\r
<AlarmTime>2026-09-01T22:15:03</AlarmTime>\r
<AlarmDescription>东门周界区域入侵</AlarmDescription>\r
<Longitude>118.7969</Longitude>\r
<Latitude>32.0603</Latitude>\r
<Info>\r
<AlarmType>6</AlarmType>\r
<AlarmTypeParam>\r
<EventType>1</EventType>\r
</AlarmTypeParam>\r
</Info>\r
</Notify>\r
""".encode("gb2312")

# A 2011-era NVR: AlarmType at the top level, no Info, no coordinates.
NVR_2011_VIDEO_LOSS = """<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>2</SN>
<DeviceID>32010200001180000003</DeviceID>
<AlarmPriority>3</AlarmPriority>
<AlarmMethod>2</AlarmMethod>
<AlarmType>1</AlarmType>
<AlarmTime>2026-09-01T03:00:00</AlarmTime>
<AlarmDescription>视频丢失</AlarmDescription>
</Notify>
""".encode("gb2312")

KEEPALIVE = b"""<?xml version="1.0" encoding="GB2312"?>\r
<Notify>\r
<CmdType>Keepalive</CmdType>\r
<SN>88</SN>\r
<DeviceID>32010200001180000003</DeviceID>\r
<Status>OK</Status>\r
</Notify>\r
"""


def sip_message(body: bytes, *, date: str | None = None, length: int | None = None, eol: str = "\r\n") -> bytes:
    """A device's SIP MESSAGE around `body`, as it arrives on UDP 5060."""
    lines = [
        "MESSAGE sip:32010000002000000001@3201000000 SIP/2.0",
        "Via: SIP/2.0/UDP 10.20.1.64:5060;rport;branch=z9hG4bK1736417321",
        "From: <sip:32010200001320000001@3201000000>;tag=1810245367",
        "To: <sip:32010000002000000001@3201000000>",
        "Call-ID: 1549893421@10.20.1.64",
        "CSeq: 20 MESSAGE",
        "Content-Type: Application/MANSCDP+xml",
        "Max-Forwards: 70",
        "User-Agent: IP Camera",
    ]
    if date is not None:
        lines.append(f"Date: {date}")
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return (eol.join(lines) + eol + eol).encode("ascii") + body


def notify(**fields: str) -> bytes:
    """A minimal Alarm Notify; `fields` replace or add child elements (empty string drops one)."""
    values = {
        "CmdType": "Alarm",
        "SN": "1",
        "DeviceID": CAMERA,
        "AlarmPriority": "2",
        "AlarmMethod": "5",
        "AlarmTime": "2026-09-01T08:30:00",
    } | fields
    body = "".join(f"<{name}>{value}</{name}>" for name, value in values.items() if value != "")
    return f'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>{body}</Notify>'.encode("gb2312")


def test_gb2312_intrusion_alarm_with_chinese_description() -> None:
    record = decode_gb28181(INTRUSION_ALARM)
    assert record == VendorSecurityRecord(
        device_id=CAMERA,
        channel=1,
        source_format="gb28181",
        vendor_type="gb28181:5/6",
        state="active",
        occurred_at=datetime(2026, 9, 1, 22, 15, 3, tzinfo=BEIJING),
        priority=1,
        description="东门周界区域入侵",
    )
    assert record.occurred_at.astimezone(UTC) == datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
    assert taxonomy_of(record.vendor_type) == "intrusion"


def test_2011_alarm_type_at_top_level() -> None:
    record = decode_gb28181(NVR_2011_VIDEO_LOSS)
    assert record.vendor_type == "gb28181:2/1"
    assert record.priority == 3
    assert record.description == "视频丢失"
    assert taxonomy_of(record.vendor_type) == "video_loss"


def test_alarm_inside_a_sip_message() -> None:
    record = decode_gb28181(sip_message(INTRUSION_ALARM))
    assert record.vendor_type == "gb28181:5/6"
    assert record.description == "东门周界区域入侵"


def test_sip_message_with_lf_line_breaks_and_trailing_bytes() -> None:
    message = sip_message(NVR_2011_VIDEO_LOSS, eol="\n") + b"\r\n\r\ngarbage after the body"
    assert decode_gb28181(message).vendor_type == "gb28181:2/1"


def test_truncated_sip_message() -> None:
    with pytest.raises(SecurityDecodeError, match="truncated: Content-Length says"):
        decode_gb28181(sip_message(INTRUSION_ALARM, length=len(INTRUSION_ALARM) + 50))


def test_sip_message_without_body_separator() -> None:
    with pytest.raises(SecurityDecodeError, match="no blank line"):
        decode_gb28181(b"MESSAGE sip:32010000002000000001@3201000000 SIP/2.0\r\nCSeq: 1 MESSAGE\r\n")


def test_keepalive_uses_received_at() -> None:
    record = decode_gb28181(KEEPALIVE, received_at=RECEIVED)
    assert record.vendor_type == "gb28181:keepalive"
    assert record.device_id == "32010200001180000003"
    assert record.occurred_at == RECEIVED
    assert record.priority is None
    assert taxonomy_of(record.vendor_type) == "heartbeat"


def test_keepalive_in_sip_message_falls_back_to_the_sip_date() -> None:
    record = decode_gb28181(sip_message(KEEPALIVE, date="2026-09-01T08:30:05.000"))
    assert record.occurred_at == datetime(2026, 9, 1, 8, 30, 5, tzinfo=BEIJING)


def test_keepalive_without_any_time() -> None:
    with pytest.raises(SecurityDecodeError, match="pass received_at"):
        decode_gb28181(KEEPALIVE)


def test_keepalive_error_status_is_a_device_fault() -> None:
    record = decode_gb28181(KEEPALIVE.replace(b"<Status>OK", b"<Status>ERROR"), received_at=RECEIVED)
    assert record.vendor_type == "gb28181:keepalive/error"
    assert taxonomy_of(record.vendor_type) == "device_fault"


def test_keepalive_bad_status() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'Status' must be OK or ERROR"):
        decode_gb28181(KEEPALIVE.replace(b"<Status>OK", b"<Status>MAYBE"), received_at=RECEIVED)


def test_keepalive_naive_received_at_is_refused() -> None:
    with pytest.raises(SecurityDecodeError, match="occurred_at"):
        decode_gb28181(KEEPALIVE, received_at=datetime(2026, 9, 1, 8, 30))


def test_alarm_without_type_and_priority() -> None:
    record = decode_gb28181(notify(AlarmMethod="2", AlarmPriority=""))
    assert record.vendor_type == "gb28181:2"
    assert record.priority is None
    assert record.description is None
    assert taxonomy_of(record.vendor_type) == "other"


def test_alarm_time_with_offset_is_kept() -> None:
    record = decode_gb28181(notify(AlarmTime="2026-09-01T00:30:00Z"))
    assert record.occurred_at == datetime(2026, 9, 1, 0, 30, tzinfo=UTC)


def test_unknown_root_element() -> None:
    query = (
        b'<?xml version="1.0"?><Query><CmdType>Alarm</CmdType><SN>1</SN>'
        b"<DeviceID>32010200001320000001</DeviceID></Query>"
    )
    with pytest.raises(SecurityDecodeError, match=r"unexpected root element <Query>; expected <Notify>"):
        decode_gb28181(query)


def test_unsupported_and_missing_cmd_type() -> None:
    with pytest.raises(SecurityDecodeError, match="unsupported GB/T 28181 CmdType 'Catalog'"):
        decode_gb28181(notify(CmdType="Catalog"))
    with pytest.raises(SecurityDecodeError, match="has no CmdType"):
        decode_gb28181(notify(CmdType=""))


def test_missing_device_id() -> None:
    with pytest.raises(SecurityDecodeError, match="has no DeviceID"):
        decode_gb28181(notify(DeviceID=""))


@pytest.mark.parametrize("device_id", ["3201020000132000001", "32010200001320000001X", "CZ-CAM-0001"])
def test_device_id_must_be_20_digits(device_id: str) -> None:
    with pytest.raises(SecurityDecodeError, match="20-digit"):
        decode_gb28181(notify(DeviceID=device_id))


@pytest.mark.parametrize("value", ["2026/09/01 08:30", "2026-09-31T08:30:00", "now"])
def test_invalid_alarm_time(value: str) -> None:
    with pytest.raises(SecurityDecodeError, match="field 'AlarmTime' is not a valid date and time"):
        decode_gb28181(notify(AlarmTime=value))


def test_missing_alarm_time_and_method() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'AlarmTime' is missing"):
        decode_gb28181(notify(AlarmTime=""))
    with pytest.raises(SecurityDecodeError, match="has no AlarmMethod"):
        decode_gb28181(notify(AlarmMethod=""))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"AlarmPriority": "5"}, "AlarmPriority' must be 1 to 4"),
        ({"AlarmPriority": "0"}, "AlarmPriority' must be 1 to 4"),
        ({"AlarmPriority": "high"}, "field 'AlarmPriority' must be a whole number"),
        ({"AlarmMethod": "video"}, "field 'AlarmMethod' must be a whole number"),
        ({"AlarmMethod": "0"}, "AlarmMethod' must be 1 to 7"),
        ({"AlarmType": "-1"}, "field 'AlarmType' must be a whole number"),
    ],
)
def test_bad_numbers(fields: dict[str, str], message: str) -> None:
    with pytest.raises(SecurityDecodeError, match=message):
        decode_gb28181(notify(**fields))


def test_unknown_alarm_type_decodes_but_has_no_taxonomy() -> None:
    record = decode_gb28181(notify(AlarmMethod="5", AlarmType="99"))
    assert record.vendor_type == "gb28181:5/99"
    assert taxonomy_of(record.vendor_type) is None
    assert taxonomy_of(decode_gb28181(notify(AlarmMethod="9")).vendor_type) is None


def test_entity_bomb_in_a_sip_message() -> None:
    bomb = (
        b'<?xml version="1.0" encoding="GB2312"?><!DOCTYPE Notify [<!ENTITY a "aaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Notify><AlarmDescription>&b;</AlarmDescription></Notify>'
    )
    with pytest.raises(SecurityDecodeError, match="declares entities"):
        decode_gb28181(sip_message(bomb))


def test_external_entity_in_a_notify() -> None:
    xxe = b'<!DOCTYPE Notify [<!ENTITY x SYSTEM "http://203.0.113.9/x">]><Notify><DeviceID>&x;</DeviceID></Notify>'
    with pytest.raises(SecurityDecodeError, match="external entity"):
        decode_gb28181(xxe)


def test_malformed_body() -> None:
    with pytest.raises(SecurityDecodeError, match="not well-formed XML"):
        decode_gb28181(INTRUSION_ALARM[:-30])


@pytest.mark.parametrize(
    ("method", "alarm_type", "expected"),
    [
        (1, None, "one_key_alarm"),
        (1, 1, "one_key_alarm"),
        (2, 1, "video_loss"),
        (2, 2, "tamper"),
        (2, 3, "storage_fault"),
        (2, 4, "device_fault"),
        (2, 5, "device_fault"),
        (3, None, "other"),
        (4, None, "other"),
        (5, 1, "other"),
        (5, 2, "motion"),
        (5, 3, "other"),
        (5, 4, "other"),
        (5, 5, "tripwire"),
        (5, 6, "intrusion"),
        (5, 7, "other"),
        (5, 8, "loitering"),
        (5, 9, "other"),
        (5, 10, "other"),
        (5, 11, "other"),
        (5, 12, "other"),
        (5, 13, "tamper"),
        (6, 1, "storage_fault"),
        (6, 2, "device_fault"),
        (7, None, "other"),
    ],
)
def test_builder_round_trip_and_taxonomy(method: int, alarm_type: int | None, expected: SecurityEventType) -> None:
    at = datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
    body = gb28181_alarm_xml(CAMERA, 2, method, alarm_type, at, sn=17430, description="东门周界报警")
    assert body.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    for payload in (body, gb28181_sip_message(body, CAMERA, cseq=7)):
        record = decode_gb28181(payload)
        assert record.device_id == CAMERA
        assert record.channel == 1
        assert record.priority == 2
        assert record.occurred_at == at
        assert record.description == "东门周界报警"
        suffix = f"{method}" if alarm_type is None else f"{method}/{alarm_type}"
        assert record.vendor_type == f"gb28181:{suffix}"
        assert taxonomy_of(record.vendor_type) == expected


def test_builder_falls_back_to_gb18030_for_rare_characters() -> None:
    at = datetime(2026, 9, 1, 8, 0, tzinfo=BEIJING)
    body = gb28181_alarm_xml(CAMERA, 1, 1, None, at, sn=1, description="堃园门岗一键报警")
    assert b'encoding="GB18030"' in body
    assert decode_gb28181(body).description == "堃园门岗一键报警"


def test_keepalive_builder_round_trip() -> None:
    body = gb28181_keepalive_xml(CAMERA, sn=88)
    assert decode_gb28181(body, received_at=RECEIVED).vendor_type == "gb28181:keepalive"
    at = datetime(2026, 9, 1, 8, 30, 5, tzinfo=BEIJING)
    record = decode_gb28181(gb28181_sip_message(body, CAMERA, at=at))
    assert record.occurred_at == at
    error = gb28181_keepalive_xml(CAMERA, sn=89, status="ERROR")
    assert decode_gb28181(error, received_at=RECEIVED).vendor_type == "gb28181:keepalive/error"
