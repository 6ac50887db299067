"""JT/T 808 codec: round trips in both versions, escapes, terminal-shaped frames, errors, stream splitting."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import reduce

import pytest

from safecampus.connectors.bus.jt808_decode import decode_frame, message_to_json
from safecampus.connectors.bus.jt808_encode import (
    encode_auth_body,
    encode_batch_body,
    encode_location_body,
    encode_registration_body,
    general_reply,
    registration_reply,
)
from safecampus.connectors.bus.jt808_frame import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_LOCATION_BATCH,
    MSG_PLATFORM_REPLY,
    MSG_REGISTER,
    MSG_REGISTER_REPLY,
    MSG_TERMINAL_REPLY,
    MSG_UNREGISTER,
    Jt808Error,
    Jt808Version,
    SerialCounter,
    encode_frame,
    split_frames,
)
from safecampus.connectors.bus.jt808_messages import (
    ALARM_OVERSPEED,
    ALARM_ROUTE_DEVIATION,
    STATUS_ACC_ON,
    STATUS_DOOR1_OPEN,
    STATUS_POSITIONED,
    STATUS_SOUTH,
    STATUS_WEST,
    Authentication,
    GeneralReply,
    LocationBatch,
    LocationReport,
    Registration,
    RegistrationReply,
)
from safecampus.schemas.common import SHANGHAI

VERSIONS: list[Jt808Version] = ["2013", "2019"]
PHONE = {"2013": "013800138000", "2019": "00000000013800138000"}

# A 2013 terminal's 0x0200: overspeed alarm, ACC on + positioned, 31.956789 N 118.123456 E,
# 20 m, 62.5 km/h, heading 90°, 2026-09-01 07:30:15 (+08:00), mileage 345.6 km, signal 31, 12 satellites.
FRAME_2013_LOCATION = (
    "7e"
    "0200" "0028" "013800138000" "0021"  # id, properties (body 40 bytes), phone, serial 33
    "00000002" "00000003" "01e79f35" "070a6bc0" "0014" "0271" "005a" "260901073015"
    "010400000d80" "30011f" "31010c"  # items 0x01 mileage, 0x30 signal, 0x31 satellites
    "e1"  # checksum
    "7e"
)  # fmt: skip

# A 2019 terminal's 0x0200 (version bit, protocol version 1, 10-byte phone): door 1 open,
# 22.543096 N 114.057865 E, heading 126° = 0x7e (so escaped as 7d 02), items 0x25, 0x02 and a vendor 0xe1.
FRAME_2019_LOCATION = (
    "7e"
    "0200" "402a" "01" "00000000013800138000" "0102"
    "00000000" "00002003" "0157faf8" "06cc6289" "0008" "0000" "007d02" "260901163000"
    "2504" "00000001" "0202" "0320" "e102" "abcd"
    "6e"
    "7e"
)  # fmt: skip


def _with_checksum(content: bytes) -> bytes:
    """Frame unescaped header+body with an independently computed XOR (test content has no 0x7e/0x7d)."""
    return b"\x7e" + content + bytes([reduce(lambda a, b: a ^ b, content, 0)]) + b"\x7e"


def _fix(**changes: object) -> LocationReport:
    fields: dict[str, object] = {
        "lat_deg": 31.956789,
        "lon_deg": 118.123456,
        "time": datetime(2026, 9, 1, 7, 30, 15, tzinfo=SHANGHAI),
        "altitude_m": 20,
        "speed_kmh": 62.5,
        "direction_deg": 90,
        "alarm_flags": ALARM_OVERSPEED,
        "status_flags": STATUS_ACC_ON | STATUS_POSITIONED,
        "extra": {0x01: 345.6, 0x30: 31, 0x31: 12},
    }
    fields.update(changes)
    return LocationReport(**fields)  # type: ignore[arg-type]


REGISTRATION = Registration(
    province_id=32, city_id=100, maker_id="70111", model="BSJ-A6", terminal_id="T123456", plate_color=2,
    plate="苏A12345",
)  # fmt: skip


def _bodies(version: Jt808Version) -> list[tuple[int, bytes, object]]:
    """(message id, body, expected payload) for every message the codec knows."""
    auth = Authentication("a1b2c3", "861234567890123", "V1.2.3") if version == "2019" else Authentication("a1b2c3")
    # decoding reports the south/west bits that encoding derives from the signs
    south_west = STATUS_POSITIONED | STATUS_SOUTH | STATUS_WEST
    fixes = [_fix(), _fix(lat_deg=-33.86882, lon_deg=-70.65, status_flags=south_west, extra={0xE1: "abcd"})]
    return [
        (MSG_REGISTER, encode_registration_body(REGISTRATION, version), REGISTRATION),
        (MSG_AUTH, encode_auth_body(auth, version), auth),
        (MSG_HEARTBEAT, b"", None),
        (MSG_UNREGISTER, b"", None),
        (MSG_LOCATION, encode_location_body(fixes[0]), fixes[0]),
        (MSG_LOCATION_BATCH, encode_batch_body(fixes, batch_type=1), LocationBatch(tuple(fixes), 1)),
        (MSG_TERMINAL_REPLY, bytes.fromhex("0007810301"), GeneralReply(7, 0x8103, 1)),
        (MSG_PLATFORM_REPLY, bytes.fromhex("0007020000"), GeneralReply(7, 0x0200, 0)),
        (MSG_REGISTER_REPLY, bytes.fromhex("000500") + b"code-42", RegistrationReply(5, 0, "code-42")),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_message_round_trips(version: Jt808Version) -> None:
    for serial, (message_id, body, payload) in enumerate(_bodies(version)):
        frame = encode_frame(message_id, PHONE[version], serial, body, version)
        msg = decode_frame(frame)
        assert (msg.message_id, msg.version, msg.phone, msg.serial) == (
            message_id,
            version,
            PHONE[version],
            serial,
        )
        assert msg.body == body
        assert msg.payload == payload, f"0x{message_id:04x}"
        assert decode_frame(frame[1:-1]) == msg  # delimiters are optional


def test_2019_header_carries_protocol_version_and_phone_is_padded() -> None:
    msg = decode_frame(encode_frame(MSG_HEARTBEAT, "13800138000", 1, b"", "2019", protocol_version=3))
    assert msg.header.protocol_version == 3
    assert msg.phone == "00000000013800138000"
    assert decode_frame(encode_frame(MSG_HEARTBEAT, "13800138000", 1, b"")).phone == "013800138000"


def test_south_and_west_follow_the_coordinate_signs() -> None:
    fix = decode_frame(encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix(lat_deg=-1.5)))).payload
    assert isinstance(fix, LocationReport)
    assert fix.lat_deg == -1.5 and fix.status_flags & STATUS_SOUTH and not fix.status_flags & STATUS_WEST


def test_body_with_0x7e_and_0x7d_is_escaped_and_restored() -> None:
    token = "~}x~}"  # 0x7e 0x7d in the body
    frame = encode_frame(MSG_AUTH, PHONE["2013"], 0x7E7D, encode_auth_body(Authentication(token)))
    inner = frame[1:-1]
    assert b"\x7e" not in inner
    assert b"\x7d\x02" in inner and b"\x7d\x01" in inner
    msg = decode_frame(frame)
    assert msg.payload == Authentication(token)
    assert msg.serial == 0x7E7D  # the serial itself needed escaping


def test_2013_location_frame_from_a_terminal() -> None:
    msg = decode_frame(bytes.fromhex(FRAME_2013_LOCATION))
    fix = msg.payload
    assert isinstance(fix, LocationReport)
    assert (msg.version, msg.phone, msg.serial) == ("2013", "013800138000", 33)
    assert (fix.lat_deg, fix.lon_deg, fix.altitude_m, fix.speed_kmh, fix.direction_deg) == (
        31.956789, 118.123456, 20, 62.5, 90,
    )  # fmt: skip
    assert fix.time == datetime(2026, 9, 1, 7, 30, 15, tzinfo=timezone(timedelta(hours=8)))
    assert fix.alarm_flags & ALARM_OVERSPEED and not fix.alarm_flags & ALARM_ROUTE_DEVIATION
    assert fix.status_flags == STATUS_ACC_ON | STATUS_POSITIONED
    assert fix.extra == {0x01: 345.6, 0x30: 31, 0x31: 12}
    content = bytes.fromhex(FRAME_2013_LOCATION)[1:-2]
    assert _with_checksum(content) == bytes.fromhex(FRAME_2013_LOCATION)


def test_2019_location_frame_from_a_terminal() -> None:
    msg = decode_frame(bytes.fromhex(FRAME_2019_LOCATION))
    fix = msg.payload
    assert isinstance(fix, LocationReport)
    assert (msg.version, msg.header.protocol_version, msg.phone, msg.serial) == (
        "2019", 1, "00000000013800138000", 0x0102,
    )  # fmt: skip
    assert (fix.lat_deg, fix.lon_deg, fix.direction_deg) == (22.543096, 114.057865, 126)
    assert fix.status_flags & STATUS_DOOR1_OPEN
    assert fix.extra == {0x25: 1, 0x02: 80.0, 0xE1: "abcd"}
    assert fix.time.isoformat() == "2026-09-01T16:30:00+08:00"


def test_2011_registration_layout_under_a_2013_header() -> None:
    body = bytes.fromhex("00200064") + b"70111" + b"BSJ-A6\0\0" + b"T123456" + b"\x02" + "苏A12345".encode("gbk")
    msg = decode_frame(encode_frame(MSG_REGISTER, PHONE["2013"], 1, body))
    assert msg.payload == REGISTRATION


def test_split_package_keeps_the_body_undecoded() -> None:
    msg = decode_frame(encode_frame(MSG_LOCATION, PHONE["2019"], 9, b"\x00" * 10, "2019", package=(3, 2)))
    assert msg.header.package == (3, 2)
    assert msg.payload is None and msg.body == b"\x00" * 10


def _error(frame: bytes) -> Jt808Error:
    with pytest.raises(Jt808Error) as caught:
        decode_frame(frame)
    assert "\n" not in str(caught.value)
    return caught.value


def test_bad_checksum_is_reported_with_both_values_and_the_header() -> None:
    frame = bytearray(bytes.fromhex(FRAME_2013_LOCATION))
    frame[-2] ^= 0xFF
    err = _error(bytes(frame))
    assert str(err) == "checksum mismatch: frame says 0x1e, computed 0xe1"
    assert err.kind == "checksum"
    assert err.header is not None and (err.header.message_id, err.header.serial) == (MSG_LOCATION, 33)


def test_truncated_frame() -> None:
    content = bytes.fromhex(FRAME_2013_LOCATION)[1:-2]
    err = _error(_with_checksum(content[:-28]))
    assert str(err) == "frame truncated: body length 40 but 12 bytes present"
    assert err.kind == "length"
    assert str(_error(b"\x7e\x02\x00\x00\x7e")) == "frame too short: 3 bytes, the smallest frame has 13"


def test_unknown_message_id() -> None:
    err = _error(encode_frame(0x0F0F, PHONE["2013"], 1, b"\x01"))
    assert str(err) == "unknown message id 0x0f0f"
    assert err.kind == "unknown_message" and err.header is not None


def test_latitude_out_of_range() -> None:
    frame = encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix(lat_deg=91.2)))
    assert str(_error(frame)) == "latitude 91.2° out of range"
    frame = encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix(lon_deg=180.5)))
    assert str(_error(frame)) == "longitude 180.5° out of range"


def test_invalid_dates_and_bcd() -> None:
    body = bytearray(encode_location_body(_fix()))
    body[22:28] = bytes.fromhex("261345073015")
    assert str(_error(encode_frame(MSG_LOCATION, PHONE["2013"], 1, bytes(body)))) == (
        "time 2026-13-45 is not a valid date"
    )
    body[22:28] = bytes.fromhex("260901256100")
    assert "25:61:00 is not a valid time of day" in str(
        _error(encode_frame(MSG_LOCATION, PHONE["2013"], 1, bytes(body)))
    )
    body[22:28] = bytes.fromhex("26093a073015")
    assert "time BCD 0x26093a073015" in str(_error(encode_frame(MSG_LOCATION, PHONE["2013"], 1, bytes(body))))


def test_bad_escape_and_short_location_body() -> None:
    assert str(_error(bytes.fromhex("7e00027d037e"))) == "invalid escape: 0x7d followed by 0x03"
    err = _error(encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix())[:12]))
    assert str(err).startswith("0x0200 body truncated: flags and coordinates needs 16 bytes")
    # An additional item overrunning the body is dropped and counted, the fix kept (issue 10, as Traccar does).
    overrun = decode_frame(encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix()) + b"\x31\x02\x01"))
    assert isinstance(overrun.payload, LocationReport)
    clean = decode_frame(encode_frame(MSG_LOCATION, PHONE["2013"], 1, encode_location_body(_fix()))).payload
    assert isinstance(clean, LocationReport) and clean.extra and clean.lenient == ()
    assert overrun.payload.extra == clean.extra and overrun.payload.lenient == ("extra_item_overrun",)


def test_split_frames_skips_garbage_and_keeps_partial_frames() -> None:
    one = bytes.fromhex(FRAME_2013_LOCATION)
    two = bytes.fromhex(FRAME_2019_LOCATION)
    three = encode_frame(MSG_HEARTBEAT, PHONE["2013"], 5, b"")
    stream = b"GET / HTTP/1.1\r\n" + one + b"\x00\xff" + two + three[:6]
    frames, rest = split_frames(stream)
    assert frames == [one, two]
    assert rest == three[:6]
    frames, rest = split_frames(rest + three[6:])
    assert frames == [three] and rest == b""
    # joined mid-frame: the tail of a frame we never saw ends with a 0x7e right before the next start
    assert split_frames(one[10:] + two) == ([two], b"")
    assert split_frames(b"no delimiter at all") == ([], b"")


def test_split_frames_byte_by_byte() -> None:
    stream = bytes.fromhex(FRAME_2019_LOCATION) * 3
    frames: list[bytes] = []
    rest = b""
    for i in range(len(stream)):
        new, rest = split_frames(rest + stream[i : i + 1])
        frames += new
    assert [decode_frame(f).serial for f in frames] == [0x0102] * 3 and rest == b""


LOCATION_KEYS = {"lat_deg", "lon_deg", "altitude_m", "speed_kmh", "direction_deg", "time"} | {
    "alarm_flags", "status_flags", "extra",
}  # fmt: skip
HEADER_KEYS = {"message_id", "version", "phone", "serial"}


def test_message_to_json_contract() -> None:
    out = message_to_json(decode_frame(bytes.fromhex(FRAME_2013_LOCATION)))
    assert set(out) == HEADER_KEYS | LOCATION_KEYS
    assert out["message_id"] == "0x0200" and out["version"] == "2013" and out["phone"] == "013800138000"
    assert out["serial"] == 33
    assert out["time"] == "2026-09-01T07:30:15+08:00"
    assert out["extra"] == {"0x01": 345.6, "0x30": 31, "0x31": 12}
    json.dumps(out)

    batch = encode_batch_body([_fix(), _fix(speed_kmh=0.0)])
    out = message_to_json(decode_frame(encode_frame(MSG_LOCATION_BATCH, PHONE["2019"], 2, batch, "2019")))
    assert set(out) == HEADER_KEYS | {"locations"}
    assert out["message_id"] == "0x0704" and out["version"] == "2019"
    assert [set(item) for item in out["locations"]] == [LOCATION_KEYS, LOCATION_KEYS]
    assert out["locations"][1]["speed_kmh"] == 0.0
    json.dumps(out)

    out = message_to_json(decode_frame(encode_frame(MSG_HEARTBEAT, PHONE["2013"], 3, b"")))
    assert out == {"message_id": "0x0002", "version": "2013", "phone": "013800138000", "serial": 3}


@pytest.mark.parametrize("version", VERSIONS)
def test_replies_answer_in_the_terminal_version_with_platform_serials(version: Jt808Version) -> None:
    request = decode_frame(
        encode_frame(MSG_REGISTER, PHONE[version], 41, encode_registration_body(REGISTRATION, version), version)
    )
    serials = SerialCounter(start=65535)
    reply = decode_frame(registration_reply(request, "code-1", serials=serials))
    assert (reply.message_id, reply.version, reply.phone, reply.serial) == (
        MSG_REGISTER_REPLY,
        version,
        PHONE[version],
        65535,
    )
    assert reply.payload == RegistrationReply(41, 0, "code-1")
    reply = decode_frame(general_reply(request, 2, serials))
    assert (reply.message_id, reply.serial) == (MSG_PLATFORM_REPLY, 0)  # the counter wraps
    assert reply.payload == GeneralReply(41, MSG_REGISTER, 2)
    refused = decode_frame(registration_reply(request, "ignored", result=3, serials=serials))
    assert refused.payload == RegistrationReply(41, 3, "")


def test_encoder_refuses_what_it_cannot_send() -> None:
    with pytest.raises(Jt808Error, match="phone"):
        encode_frame(MSG_HEARTBEAT, "1380013800012345", 1, b"")
    with pytest.raises(Jt808Error, match="1024 bytes is over the 1023-byte limit"):
        encode_frame(MSG_LOCATION, PHONE["2013"], 1, b"\x00" * 1024)
    with pytest.raises(Jt808Error, match="allows 7"):
        encode_registration_body(Registration(1, 1, "m", "x", "TOO-LONG-ID", 1, "p"))
    with pytest.raises(Jt808Error, match="timezone-aware"):
        encode_location_body(_fix(time=datetime(2026, 9, 1)))
