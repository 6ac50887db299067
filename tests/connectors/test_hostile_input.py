"""Hostile and careless input (issue 10): each decoder raises only its own error, with a plain reason;
values are range-checked at the boundary; what real devices bend is accepted and counted.

Every reproducer of the issue is here; each failed (a foreign exception, or a record accepted) before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from safecampus.connectors.bus.escort import EscortError, decode_escort
from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import encode_location_body
from safecampus.connectors.bus.jt808_frame import MSG_LOCATION, Jt808Error, encode_frame
from safecampus.connectors.bus.jt808_messages import LocationReport
from safecampus.connectors.security.alarmbox import decode_alarmbox
from safecampus.connectors.security.gb28181 import decode_gb28181
from safecampus.connectors.security.isapi import decode_isapi
from safecampus.connectors.security.record import device_time
from safecampus.connectors.security.xml import SecurityDecodeError, parse_untrusted_xml
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireInspection

ROOT = Path(__file__).resolve().parents[2]
BEIJING = timezone(timedelta(hours=8))


def isapi(**fields: str) -> bytes:
    values = {
        "ipAddress": "10.20.1.64",
        "macAddress": "44:19:b6:12:34:56",
        "channelID": "1",
        "dateTime": "2026-09-01T22:15:03+08:00",
        "eventType": "VMD",
        "eventState": "active",
    } | fields
    body = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    return f"<EventNotificationAlert>{body}</EventNotificationAlert>".encode()


def gb_alarm(time: str = "2026-09-01T22:15:03") -> bytes:
    return (
        '<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Alarm</CmdType><SN>1</SN>'
        "<DeviceID>32010200001320000001</DeviceID><AlarmPriority>1</AlarmPriority>"
        f"<AlarmMethod>5</AlarmMethod><AlarmTime>{time}</AlarmTime><Info><AlarmType>6</AlarmType></Info></Notify>"
    ).encode("gb18030")


# --- decoders raise only their own error --------------------------------------------------------


@pytest.mark.parametrize(
    "encoding", ["hex", "rot13", "undefined", "punycode", "base64", "zlib", "bz2", "uu", "idna", "unicode_escape"]
)
def test_an_xml_declaration_naming_a_codec_that_is_no_charset_is_a_security_error(encoding: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding}"?><EventNotificationAlert/>'.encode()
    with pytest.raises(SecurityDecodeError, match="encoding"):
        parse_untrusted_xml(data)
    with pytest.raises(SecurityDecodeError):
        decode_isapi(data)


def test_a_4301_digit_channel_is_a_security_error_with_a_short_reason() -> None:
    with pytest.raises(SecurityDecodeError, match="channelID") as caught:
        decode_isapi(isapi(channelID="1" * 4301))
    assert len(str(caught.value)) < 200


def test_a_4301_digit_sip_content_length_is_a_security_error() -> None:
    sip = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: " + b"9" * 4301 + b"\r\n\r\n" + gb_alarm()
    with pytest.raises(SecurityDecodeError, match="Content-Length") as caught:
        decode_gb28181(sip)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("boundary", ["中", "bound\u00e9ry\u2603"])
def test_a_multipart_boundary_that_is_not_ascii_is_a_security_error(boundary: str) -> None:
    with pytest.raises(SecurityDecodeError, match="boundary"):
        decode_isapi(isapi(), f"multipart/form-data; boundary={boundary}")


def test_a_4301_digit_json_number_is_a_decode_error_in_every_json_form() -> None:
    big = "1" * 4301
    with pytest.raises(SecurityDecodeError):
        decode_alarmbox(
            f'{{"device_id":"a","kind":"fault","time":"2026-09-01T08:00:00+08:00","channel":{big}}}'.encode()
        )
    with pytest.raises(EscortError):
        decode_escort(f'{{"terminal_id":"013800000036","kind":"all_off","time":{big}}}'.encode())


# --- values range-checked at the boundary -------------------------------------------------------


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00", "9999-12-31T23:59:59+00:00", "1999-12-31T23:59:59+08:00"])
def test_device_times_outside_the_window_are_refused(moment: str) -> None:
    with pytest.raises(SecurityDecodeError, match="dateTime"):
        decode_isapi(isapi(dateTime=moment))
    with pytest.raises(SecurityDecodeError, match="AlarmTime"):
        decode_gb28181(gb_alarm(moment))


def test_a_device_clock_ahead_of_the_window_is_refused() -> None:
    ahead = (datetime.now(UTC) + timedelta(days=800)).isoformat()
    with pytest.raises(SecurityDecodeError, match="dateTime"):
        decode_isapi(isapi(dateTime=ahead))


def test_the_alarm_box_line_of_year_9999_is_refused() -> None:
    with pytest.raises(SecurityDecodeError, match="time"):
        decode_alarmbox(b'{"device_id":"CZ-0090-00","kind":"fault","time":"9999-12-31T15:00:00+00:00"}')


def test_the_escort_line_of_year_9999_is_refused() -> None:
    with pytest.raises(EscortError, match="time"):
        decode_escort(b'{"terminal_id":"013800000036","kind":"all_off","time":"9999-12-31T23:59:59+00:00"}')


def test_an_envelope_received_in_year_9999_is_refused() -> None:
    with pytest.raises(ValidationError, match="received_at"):
        RawEnvelope.model_validate(
            {
                "domain": "bus",
                "source": "jt808",
                "payload": "7e0002000001380000003600010c7e",
                "encoding": "hex",
                "received_at": "9999-12-31T23:59:59+00:00",
            }
        )


def test_the_heartbeat_frame_still_decodes() -> None:
    assert decode_frame(bytes.fromhex("7e0002000001380000003600010c7e")).phone == "013800000036"


LEDGER = {
    "entry_id": "C0001-20260901-002",
    "canteen_id": "C0001",
    "booked_on": "2026-09-01",
    "direction": "expense",
    "category": "ingredients",
    "amount_cny": "512.40",
    "item": "大米",
    "quantity": "120",
    "unit_price_cny": "4.27",
    "accepted_by_count": 2,
    "recorded_at": "2026-09-01T06:00:00+08:00",
}


def test_a_sane_ledger_entry_is_accepted() -> None:
    assert CanteenLedgerEntry.model_validate(LEDGER).quantity == 120


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": "1e999999999"},
        {"quantity": "1e-999999999"},
        {"quantity": "NaN"},
        {"unit_price_cny": "1e999999999"},
        {"unit_price_cny": "Infinity"},
        {"amount_cny": "1e20"},
        {"accepted_by_count": 10**6},
        {"booked_on": "0001-01-01"},
        {"booked_on": "9999-12-31"},
        {"recorded_at": "0001-01-01T00:00:00+08:00"},
        {"recorded_at": "9999-12-31T23:59:59+00:00"},
        {"school_id": "S" * 10_000},
    ],
)
def test_absurd_ledger_values_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CanteenLedgerEntry.model_validate(LEDGER | change)


INSPECTION = {
    "inspection_id": "T001-20260901-P0",
    "institution_id": "T001",
    "kind": "patrol",
    "inspected_at": "2026-09-01T08:35:00+08:00",
    "checklist": [{"item_code": "E01", "result": "fail"}],
    "findings": [{"item_code": "E01", "deadline": "2026-09-08"}],
}


def test_a_sane_inspection_is_accepted() -> None:
    assert FireInspection.model_validate(INSPECTION).findings[0].deadline is not None


@pytest.mark.parametrize(
    "change",
    [
        {"inspected_at": "9999-12-31T23:59:59+00:00"},
        {"inspected_at": "0001-01-01T00:00:00+00:00"},
        {"findings": [{"item_code": "E01", "deadline": "9999-12-31"}]},
        {"findings": [{"item_code": "E01", "rectified_at": "0001-01-01T00:00:00+08:00"}]},
        {"district": "D" * 10_000},
    ],
)
def test_absurd_inspection_values_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FireInspection.model_validate(INSPECTION | change)


def test_an_escort_time_without_offset_is_beijing_time_not_the_hosts() -> None:
    event = decode_escort(b'{"terminal_id":"013800000036","kind":"all_off","time":"2026-09-01T07:52:10"}')
    assert event.time == datetime(2026, 9, 1, 7, 52, 10, tzinfo=SHANGHAI)
    assert event.lenient == ("time_without_offset",)


def test_an_oversized_jt808_frame_is_refused_before_unescaping() -> None:
    with pytest.raises(Jt808Error, match="bytes"):
        decode_frame(b"\x7e" + b"\x7d\x01" * (1 << 20) + b"\x7e")


# --- real devices bend the standards: accepted, and counted ---------------------------------------


@pytest.mark.parametrize(
    ("text", "hours"), [("2026-09-01T22:15:03+8:00", 8), ("2026-09-01T06:15:03-8:00", -8), ("2026-09-01T22:15:03+8", 8)]
)
def test_one_digit_hour_utc_offsets_are_accepted_and_counted(text: str, hours: int) -> None:
    lenient: list[str] = []
    moment = device_time(text, "dateTime", lenient)
    assert moment.utcoffset() == timedelta(hours=hours)
    assert lenient == ["short_utc_offset"]
    record = decode_isapi(isapi(dateTime=text))
    assert record.occurred_at == moment and record.lenient == ("short_utc_offset",)


def test_a_standard_time_is_not_counted_as_lenient() -> None:
    assert decode_isapi(isapi()).lenient == ()


def _location_frame(extra: bytes) -> bytes:
    report = LocationReport(lat_deg=31.78, lon_deg=119.95, time=datetime(2026, 9, 1, 7, 30, tzinfo=BEIJING))
    return encode_frame(MSG_LOCATION, "013800000001", 1, encode_location_body(report) + extra)


def test_an_additional_item_overrunning_the_body_is_dropped_and_the_fix_kept() -> None:
    # mileage (0x01, 4 bytes) is good; a vendor item 0xe1 says 10 bytes but 3 remain.
    message = decode_frame(_location_frame(bytes.fromhex("0104000000 7b e10a010203".replace(" ", ""))))
    report = message.payload
    assert isinstance(report, LocationReport)
    assert report.lat_deg == pytest.approx(31.78) and report.extra == {0x01: 12.3}
    assert report.lenient == ("extra_item_overrun",)


def test_a_lone_trailing_byte_after_the_additional_items_is_dropped_and_counted() -> None:
    message = decode_frame(_location_frame(bytes.fromhex("30011900")))
    report = message.payload
    assert isinstance(report, LocationReport)
    assert report.extra == {0x30: 0x19} and report.lenient == ("extra_item_overrun",)


def test_a_well_formed_fix_is_not_lenient() -> None:
    report = decode_frame(_location_frame(bytes.fromhex("300119"))).payload
    assert isinstance(report, LocationReport) and report.lenient == ()


def test_a_duration_alert_is_read_as_the_detection_it_is_about() -> None:
    # Cameras reporting how long a detection lasted (seen in hikvision_next's fixtures, DS-2CD2 series).
    body = isapi(eventType="duration").replace(
        b"</EventNotificationAlert>",
        b"<DurationList><Duration><relationEvent>fielddetection</relationEvent></Duration></DurationList>"
        b"</EventNotificationAlert>",
    )
    record = decode_isapi(body)
    assert record.vendor_type == "isapi:fielddetection" and record.lenient == ("duration_relation_event",)
    assert decode_isapi(isapi(eventType="duration")).vendor_type == "isapi:duration"  # no relation: as sent


def test_an_nvr_alert_in_the_psia_form_is_named_by_its_serial_number() -> None:
    # Older NVR firmware: version 1.0, urn:psialliance-org, no deviceID, MAC or IP; the serial in Extensions.
    body = (
        b'<EventNotificationAlert version="1.0" xmlns="urn:psialliance-org"><channelID>34</channelID>'
        b"<dateTime>2026-09-01T19:16:39+08:00</dateTime><eventType>fielddetection</eventType>"
        b"<eventState>active</eventState><Extensions>"
        b'<serialNumber xmlns="urn:selfextension:psiaext-ver10-xsd">'
        b"DS-7608NXI-I0/0P/S0000CCRRJ0000WCVU\n  </serialNumber>"
        b"</Extensions></EventNotificationAlert>"
    )
    record = decode_isapi(body)
    assert (record.device_id, record.channel) == ("DS-7608NXI-I0/0P/S0000CCRRJ0000WCVU", 34)
    assert record.lenient == ("serial_number_as_device_id",)


@pytest.mark.parametrize("moment", ["2026-09-01 22:15:03", "2026-09-01T22:15:03.250", "2026-09-01T22:15:03"])
def test_gb28181_alarm_times_as_platforms_write_them_are_beijing_time(moment: str) -> None:
    # A space for the T (wvp-GB28181-pro issue 971) or milliseconds: read, Beijing time, not lenient (GB never
    # sends an offset).
    record = decode_gb28181(gb_alarm(moment))
    assert record.occurred_at.replace(microsecond=0) == datetime(2026, 9, 1, 22, 15, 3, tzinfo=SHANGHAI)
    assert record.lenient == ()


# --- the decode commands print one line ---------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safecampus.cli", "decode", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "SAFECAMPUS_DATABASE_URL": "sqlite:////nonexistent/none.db", "COLUMNS": "400"},
    )


@pytest.mark.parametrize(
    ("source", "payload"),
    [
        ("isapi", b'<?xml version="1.0" encoding="hex"?><EventNotificationAlert/>'),
        ("isapi", isapi(channelID="1" * 4301)),
        ("isapi", isapi(dateTime="0001-01-01T00:00:00")),
        ("gb28181", b'<?xml version="1.0" encoding="punycode"?><Notify/>'),
        ("gb28181", gb_alarm("9999-12-31T23:59:59")),
    ],
)
def test_decode_security_prints_one_line_for_bad_input(source: str, payload: bytes, tmp_path: Path) -> None:
    path = tmp_path / "payload.xml"
    path.write_bytes(payload)
    done = _cli(source, str(path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("frame", ["7e" + "7d01" * 5000 + "7e", "zz", "7e7e", "7e0200000001380000003600017e"])
def test_decode_jt808_prints_one_line_for_bad_input(frame: str) -> None:
    done = _cli("jt808", frame)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_decode_isapi_still_prints_an_unknown_camera_alarm(tmp_path: Path) -> None:
    path = tmp_path / "alert.xml"
    path.write_bytes(isapi(eventType="somethingNewFromFirmware"))
    done = _cli("isapi", str(path))
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["event_type"] == "other" and shown["severity"] == "warning"
    assert shown["lenient"] == ["unknown_event_type"]


# --- the encoder refuses what JT/T 808 cannot hold ----------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"time": datetime(1999, 12, 31, 23, 59, tzinfo=BEIJING)},  # BCD YY: it would come back as 2099
        {"time": datetime(2100, 1, 1, tzinfo=BEIJING)},
        {"time": datetime(1, 1, 1, tzinfo=UTC)},
        {"altitude_m": 70_000},
        {"speed_kmh": 7_000.0},
        {"speed_kmh": float("nan")},
        {"lat_deg": 5000.0},
        {"lat_deg": 1.8e302},  # finite, but × 1e6 is infinity (found by the property test)
        {"lon_deg": float("inf")},
        {"alarm_flags": 1 << 32},
        {"direction_deg": -1},
        {"extra": {0x01: 1e12}},
        {"extra": {0x30: -1}},
        {"extra": {0x300: "00"}},
        {"extra": {0xE1: "zz"}},
        {"extra": {0xE1: "00" * 256}},
    ],
)
def test_the_location_encoder_refuses_what_the_protocol_cannot_hold(change: dict[str, object]) -> None:
    fields: dict[str, object] = {"lat_deg": 31.78, "lon_deg": 119.95, "time": datetime(2026, 9, 1, tzinfo=BEIJING)}
    with pytest.raises(Jt808Error):
        encode_location_body(LocationReport(**(fields | change)))  # type: ignore[arg-type]
