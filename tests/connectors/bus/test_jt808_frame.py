"""JT/T 808 framing pieces on their own, and a fix's flag words as named fields."""

from __future__ import annotations

from datetime import datetime

import pytest

from safecampus.connectors.bus.jt808_decode import location_fields
from safecampus.connectors.bus.jt808_frame import (
    MSG_HEARTBEAT,
    Jt808Error,
    bcd,
    encode_frame,
    escape,
    parse_header,
    to_bcd,
    unescape,
    unframe,
    xor,
)
from safecampus.connectors.bus.jt808_messages import (
    ALARM_EMERGENCY,
    ALARM_OVERSPEED,
    ALARM_ROUTE_DEVIATION,
    STATUS_ACC_ON,
    STATUS_DOOR2_OPEN,
    STATUS_POSITIONED,
    LocationReport,
)
from safecampus.schemas.common import SHANGHAI


def test_escape_round_trip_and_bad_escapes() -> None:
    data = bytes([0x30, 0x7E, 0x7D, 0x08, 0x7D, 0x02])
    assert escape(data) == bytes([0x30, 0x7D, 0x02, 0x7D, 0x01, 0x08, 0x7D, 0x01, 0x02])
    assert unescape(escape(data)) == data
    with pytest.raises(Jt808Error, match="0x7d followed by 0x03") as bad:
        unescape(b"\x01\x7d\x03")
    assert bad.value.kind == "escape"
    with pytest.raises(Jt808Error, match="unescaped 0x7e"):
        unescape(b"\x01\x7e\x02")


def test_xor_and_bcd() -> None:
    assert xor(b"") == 0 and xor(bytes([0x0F, 0xF0, 0x01])) == 0xFE
    assert to_bcd("13800138000", 6, "phone") == bytes.fromhex("013800138000")
    assert bcd(bytes.fromhex("013800138000"), "phone") == "013800138000"
    with pytest.raises(Jt808Error, match="not a decimal digit"):
        bcd(b"\x1a", "phone")
    with pytest.raises(Jt808Error, match="at most 12 decimal digits"):
        to_bcd("1234567890123", 6, "phone")


def test_unframe_checks_lengths_and_checksum_and_keeps_the_header() -> None:
    frame = encode_frame(MSG_HEARTBEAT, "013800138000", 7, b"")
    header, body = unframe(frame)
    assert (header.message_id, header.phone, header.serial, header.version, body) == (2, "013800138000", 7, "2013", b"")
    assert parse_header(unescape(frame[1:-2]))[1:] == (12, 0)  # header length, declared body length
    with pytest.raises(Jt808Error, match="checksum mismatch") as bad:
        unframe(frame[:-2] + bytes([frame[-2] ^ 1]) + b"\x7e")
    assert bad.value.header is not None and bad.value.header.serial == 7
    with pytest.raises(Jt808Error, match="too short"):
        unframe(b"\x7e\x00\x02\x7e")


def test_location_fields_name_the_flags() -> None:
    report = LocationReport(
        lat_deg=31.78,
        lon_deg=119.95,
        time=datetime(2026, 9, 1, 7, 0, tzinfo=SHANGHAI),
        direction_deg=360,
        alarm_flags=ALARM_EMERGENCY | ALARM_ROUTE_DEVIATION,
        status_flags=STATUS_ACC_ON | STATUS_POSITIONED | STATUS_DOOR2_OPEN,
    )
    fields = location_fields(report)
    assert fields["direction_deg"] == 0  # 360° is north
    flags = {k: v for k, v in fields.items() if isinstance(v, bool)}
    assert flags == {
        "positioned": True,
        "ignition_on": True,
        "door_open": True,
        "alarm_emergency": True,
        "alarm_overspeed": False,
        "alarm_route_deviation": True,
        "alarm_illegal_door_opening": False,
    }
    quiet = location_fields(LocationReport(lat_deg=0, lon_deg=0, time=report.time, alarm_flags=ALARM_OVERSPEED))
    assert quiet["alarm_overspeed"] and not quiet["positioned"] and not quiet["door_open"]
