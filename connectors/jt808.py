"""JT/T 808 codec (2013 and 2019): frames, location reports and the platform's replies.

Pure functions over bytes, no I/O; the TCP side lives in `jt808_gateway.py`.

    >>> msg = decode_frame(bytes.fromhex("7e000200000138001380000001a97e"))
    >>> msg.message_id, msg.version, msg.phone, msg.serial
    (2, '2013', '013800138000', 1)

Layouts follow JT/T 808-2013 and JT/T 808-2019: a frame is 0x7e, header, body, XOR checksum,
0x7e, with 0x7e / 0x7d escaped as 0x7d 0x02 / 0x7d 0x01. Words are big-endian, strings GBK.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, TypeAlias

Jt808Version: TypeAlias = Literal["2013", "2019"]
ErrorKind: TypeAlias = Literal["escape", "length", "checksum", "unknown_message", "invalid"]
ExtraValue: TypeAlias = int | float | str

CHINA_TZ = timezone(timedelta(hours=8))  # terminal clocks are Beijing time (UTC+8) by the standard

# Message ids (terminal → platform, then platform → terminal).
MSG_TERMINAL_REPLY = 0x0001
MSG_HEARTBEAT = 0x0002
MSG_UNREGISTER = 0x0003
MSG_REGISTER = 0x0100
MSG_AUTH = 0x0102
MSG_LOCATION = 0x0200
MSG_LOCATION_BATCH = 0x0704
MSG_PLATFORM_REPLY = 0x8001
MSG_REGISTER_REPLY = 0x8100

# Result byte of the platform general reply 0x8001.
RESULT_SUCCESS = 0
RESULT_FAILURE = 1
RESULT_MESSAGE_ERROR = 2
RESULT_UNSUPPORTED = 3

# Alarm flag bits of 0x0200 (JT/T 808 table "报警标志位定义"; same bits in 2013 and 2019).
ALARM_EMERGENCY = 1 << 0
ALARM_OVERSPEED = 1 << 1
ALARM_FATIGUE = 1 << 2
ALARM_DANGER_WARNING = 1 << 3
ALARM_GNSS_FAULT = 1 << 4
ALARM_POWER_UNDERVOLTAGE = 1 << 7
ALARM_POWER_LOSS = 1 << 8
ALARM_OVERSPEED_WARNING = 1 << 13
ALARM_FATIGUE_WARNING = 1 << 14
ALARM_DRIVING_TIME_EXCEEDED = 1 << 18
ALARM_PARKING_TIMEOUT = 1 << 19
ALARM_AREA_IN_OUT = 1 << 20
ALARM_ROUTE_IN_OUT = 1 << 21
ALARM_SECTION_TIME = 1 << 22
ALARM_ROUTE_DEVIATION = 1 << 23
ALARM_VSS_FAULT = 1 << 24
ALARM_FUEL_ABNORMAL = 1 << 25
ALARM_STOLEN = 1 << 26
ALARM_ILLEGAL_IGNITION = 1 << 27
ALARM_ILLEGAL_DISPLACEMENT = 1 << 28
ALARM_COLLISION_WARNING = 1 << 29
ALARM_ROLLOVER_WARNING = 1 << 30
ALARM_ILLEGAL_DOOR_OPENING = 1 << 31

# Status flag bits of 0x0200 (JT/T 808 table "状态位定义").
STATUS_ACC_ON = 1 << 0
STATUS_POSITIONED = 1 << 1
STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3
STATUS_OUT_OF_SERVICE = 1 << 4
STATUS_DOOR_LOCKED = 1 << 12
STATUS_DOOR1_OPEN = 1 << 13  # door 1 is the front door
STATUS_DOOR2_OPEN = 1 << 14

# Additional items of 0x0200 decoded to numbers: id → (byte length, divisor or None for raw int).
_KNOWN_EXTRA: dict[int, tuple[int, int | None]] = {
    0x01: (4, 10),  # mileage, 0.1 km
    0x02: (2, 10),  # fuel, 0.1 L
    0x03: (2, 10),  # speed from the tachograph, 0.1 km/h
    0x25: (4, None),  # extended vehicle signal status bits
    0x30: (1, None),  # wireless signal strength
    0x31: (1, None),  # GNSS satellites in use
}

_PHONE_BYTES: dict[Jt808Version, int] = {"2013": 6, "2019": 10}
# Registration field widths (maker id, model, terminal id) differ between the versions.
_REGISTRATION_WIDTHS: dict[Jt808Version, tuple[int, int, int]] = {"2013": (5, 20, 7), "2019": (11, 30, 30)}
_VERSION_FLAG = 1 << 14
_PACKAGE_FLAG = 1 << 13
_MAX_BODY = 0x3FF  # body length is the low 10 bits of the properties word


class Jt808Error(ValueError):
    """A frame that cannot be decoded; str() is one plain-words line.

    `kind` says what went wrong; `header` is set when the header was readable, so a platform can
    still answer the terminal (0x8001 with result 2 or 3).
    """

    def __init__(self, message: str, kind: ErrorKind = "invalid", header: Jt808Header | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.header = header


@dataclass(frozen=True)
class Jt808Header:
    """The message header; `package` is (total, index) when the body is one piece of a split message."""

    message_id: int
    version: Jt808Version
    phone: str  # the BCD digits as sent, leading zeros kept (12 digits in 2013, 20 in 2019)
    serial: int
    protocol_version: int | None = None  # 2019 only
    encryption: int = 0
    package: tuple[int, int] | None = None


@dataclass(frozen=True)
class LocationReport:
    """One position fix (0x0200 body, or one item of 0x0704). South/west are negative degrees."""

    lat_deg: float
    lon_deg: float
    time: datetime
    altitude_m: int = 0
    speed_kmh: float = 0.0
    direction_deg: int = 0
    alarm_flags: int = 0
    status_flags: int = 0
    extra: dict[int, ExtraValue] = field(default_factory=dict)


@dataclass(frozen=True)
class LocationBatch:
    """0x0704: several fixes; batch_type 0 is a normal batch, 1 a blind-area (stored) upload."""

    locations: tuple[LocationReport, ...]
    batch_type: int = 0


@dataclass(frozen=True)
class Registration:
    """0x0100 terminal registration."""

    province_id: int
    city_id: int
    maker_id: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str


@dataclass(frozen=True)
class Authentication:
    """0x0102 terminal authentication; imei and software_version exist only in 2019."""

    token: str
    imei: str = ""
    software_version: str = ""


@dataclass(frozen=True)
class GeneralReply:
    """0x8001 platform general reply (also 0x0001, the terminal's general reply)."""

    reply_serial: int
    reply_id: int
    result: int


@dataclass(frozen=True)
class RegistrationReply:
    """0x8100 registration reply; auth_code is present only when result is 0."""

    reply_serial: int
    result: int
    auth_code: str = ""


Payload: TypeAlias = (
    LocationReport | LocationBatch | Registration | Authentication | GeneralReply | RegistrationReply | None
)


@dataclass(frozen=True)
class Jt808Message:
    """A decoded frame. `payload` is None for empty bodies and for pieces of split messages."""

    header: Jt808Header
    body: bytes
    payload: Payload

    @property
    def message_id(self) -> int:
        return self.header.message_id

    @property
    def version(self) -> Jt808Version:
        return self.header.version

    @property
    def phone(self) -> str:
        return self.header.phone

    @property
    def serial(self) -> int:
        return self.header.serial


class SerialCounter:
    """The platform's own message serial numbers, 0..65535 then wrapping; keep one per connection."""

    def __init__(self, start: int = 0) -> None:
        self._next = start & 0xFFFF

    def next(self) -> int:
        value = self._next
        self._next = (value + 1) & 0xFFFF
        return value


_default_serials = SerialCounter()


class _Reader:
    """Reads big-endian fields from a body, failing with the field's name when bytes run out."""

    def __init__(self, data: bytes, what: str, header: Jt808Header | None) -> None:
        self.data, self.what, self.header, self.pos = data, what, header, 0

    def take(self, n: int, name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise Jt808Error(
                f"{self.what} truncated: {name} needs {n} bytes at offset {self.pos}"
                f" but {len(self.data) - self.pos} remain",
                "length",
                self.header,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")

    def rest(self) -> bytes:
        chunk, self.pos = self.data[self.pos :], len(self.data)
        return chunk

    def remaining(self) -> int:
        return len(self.data) - self.pos


def _xor(data: bytes) -> int:
    checksum = 0
    for byte in data:
        checksum ^= byte
    return checksum


def _escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")  # 0x7d first, or we'd double it


def _unescape(data: bytes) -> bytes:
    if b"\x7e" in data:
        raise Jt808Error("frame contains an unescaped 0x7e: it is two frames or a damaged one", "escape")
    parts = data.split(b"\x7d")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part or part[0] not in (1, 2):
            following = f"0x{part[0]:02x}" if part else "nothing (or another 0x7d)"
            raise Jt808Error(f"invalid escape: 0x7d followed by {following}", "escape")
        out.append(0x7D if part[0] == 1 else 0x7E)
        out += part[1:]
    return bytes(out)


def _bcd(raw: bytes, name: str, header: Jt808Header | None = None) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise Jt808Error(f"{name} BCD 0x{text} has a nibble that is not a decimal digit", "invalid", header)
    return text


def _to_bcd(digits: str, size: int, name: str) -> bytes:
    if not digits.isdigit() or len(digits) > size * 2:
        raise Jt808Error(f"{name} {digits!r} must be at most {size * 2} decimal digits")
    return bytes.fromhex(digits.zfill(size * 2))


def _gbk(raw: bytes, name: str, header: Jt808Header | None) -> str:
    try:
        return raw.split(b"\x00", 1)[0].decode("gbk")  # fixed-width fields are padded with 0x00
    except UnicodeDecodeError:
        raise Jt808Error(f"{name} 0x{raw.hex()} is not GBK text", "invalid", header) from None


def _fixed(text: str, width: int, name: str, version: Jt808Version) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > width:
        raise Jt808Error(f"{name} {text!r} is {len(raw)} bytes; the {version} layout allows {width}")
    return raw.ljust(width, b"\x00")


def _parse_header(content: bytes) -> tuple[Jt808Header, int, int]:
    """Header, header length and declared body length of an unescaped frame without checksum."""
    message_id, props = struct.unpack_from(">HH", content)
    version: Jt808Version = "2019" if props & _VERSION_FLAG else "2013"
    reader = _Reader(content, f"{version} header", None)
    reader.take(4, "id and properties")
    protocol_version = reader.uint(1, "protocol version") if version == "2019" else None
    phone = _bcd(reader.take(_PHONE_BYTES[version], "phone"), "phone")
    serial = reader.uint(2, "serial")
    package = None
    if props & _PACKAGE_FLAG:
        package = (reader.uint(2, "package total"), reader.uint(2, "package index"))
    header = Jt808Header(message_id, version, phone, serial, protocol_version, (props >> 10) & 0x7, package)
    return header, reader.pos, props & _MAX_BODY


def decode_frame(frame: bytes) -> Jt808Message:
    """Decode one frame (with or without its 0x7e delimiters); raises Jt808Error when it is bad."""
    if frame[:1] == b"\x7e":
        frame = frame[1:]
    if frame[-1:] == b"\x7e":
        frame = frame[:-1]
    data = _unescape(frame)
    if len(data) < 13:  # 12-byte 2013 header + checksum
        raise Jt808Error(f"frame too short: {len(data)} bytes, the smallest frame has 13", "length")
    content, checksum = data[:-1], data[-1]
    header, header_len, body_len = _parse_header(content)
    body = content[header_len:]
    # A cut-off frame's last byte is no checksum: say it is short rather than "checksum mismatch".
    if len(body) < body_len:
        raise Jt808Error(f"frame truncated: body length {body_len} but {len(body)} bytes present", "length", header)
    computed = _xor(content)
    if computed != checksum:
        raise Jt808Error(
            f"checksum mismatch: frame says 0x{checksum:02x}, computed 0x{computed:02x}", "checksum", header
        )
    if len(body) > body_len:
        raise Jt808Error(f"frame too long: body length {body_len} but {len(body)} bytes present", "length", header)
    decoder = _DECODERS.get(header.message_id)
    if decoder is None:
        raise Jt808Error(f"unknown message id 0x{header.message_id:04x}", "unknown_message", header)
    if header.encryption & 1:
        raise Jt808Error("body is RSA-encrypted; turn encryption off for this terminal", "invalid", header)
    payload = None if header.package is not None else decoder(_Reader(body, f"0x{header.message_id:04x} body", header))
    return Jt808Message(header, body, payload)


def encode_frame(
    message_id: int,
    phone: str,
    serial: int,
    body: bytes,
    version: Jt808Version = "2013",
    protocol_version: int = 1,
    package: tuple[int, int] | None = None,
) -> bytes:
    """Build a complete frame: header, body, checksum, escapes and the two 0x7e delimiters."""
    if len(body) > _MAX_BODY:
        raise Jt808Error(f"body of {len(body)} bytes is over the {_MAX_BODY}-byte limit; split it into packages")
    props = len(body) | (_VERSION_FLAG if version == "2019" else 0) | (_PACKAGE_FLAG if package else 0)
    header = struct.pack(">HH", message_id, props)
    if version == "2019":
        header += bytes([protocol_version])
    header += _to_bcd(phone, _PHONE_BYTES[version], "phone") + struct.pack(">H", serial & 0xFFFF)
    if package:
        header += struct.pack(">HH", *package)
    content = header + body
    return b"\x7e" + _escape(content + bytes([_xor(content)])) + b"\x7e"


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut a TCP byte stream into frames (each with its 0x7e delimiters) and the unfinished rest.

    Bytes outside 0x7e ... 0x7e are skipped; two adjacent 0x7e start a new frame at the second.
    """
    frames: list[bytes] = []
    start = buffer.find(b"\x7e")
    while start != -1:
        end = buffer.find(b"\x7e", start + 1)
        if end == -1:
            return frames, buffer[start:]
        if end == start + 1:  # an end delimiter whose start we never saw
            start = end
            continue
        frames.append(buffer[start : end + 1])
        start = buffer.find(b"\x7e", end + 1)
    return frames, b""


def _decode_time(raw: bytes, header: Jt808Header | None) -> datetime:
    digits = _bcd(raw, "time", header)
    y, mo, d, h, mi, s = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    try:
        date(2000 + y, mo, d)
    except ValueError:
        raise Jt808Error(f"time 20{y:02d}-{mo:02d}-{d:02d} is not a valid date", "invalid", header) from None
    try:
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=CHINA_TZ)
    except ValueError:
        raise Jt808Error(f"time {h:02d}:{mi:02d}:{s:02d} is not a valid time of day", "invalid", header) from None


def _decode_extra(item_id: int, value: bytes) -> ExtraValue:
    size, divisor = _KNOWN_EXTRA.get(item_id, (-1, None))
    if len(value) != size:  # unknown or vendor-reused ids stay hex rather than failing the fix
        return value.hex()
    number = int.from_bytes(value, "big")
    return number / divisor if divisor else number


def _decode_location(reader: _Reader) -> LocationReport:
    alarm, status, lat_raw, lon_raw = struct.unpack(">IIII", reader.take(16, "flags and coordinates"))
    altitude, speed, direction = struct.unpack(">HHH", reader.take(6, "altitude, speed and direction"))
    time = _decode_time(reader.take(6, "time"), reader.header)
    for name, raw, limit in (("latitude", lat_raw, 90), ("longitude", lon_raw, 180)):
        if raw > limit * 1_000_000:
            raise Jt808Error(f"{name} {raw / 1e6:g}° out of range", "invalid", reader.header)
    extra: dict[int, ExtraValue] = {}
    while reader.remaining():
        item_id = reader.uint(1, "additional item id")
        size = reader.uint(1, f"length of additional item 0x{item_id:02x}")
        extra[item_id] = _decode_extra(item_id, reader.take(size, f"additional item 0x{item_id:02x}"))
    return LocationReport(
        lat_deg=-lat_raw / 1e6 if status & STATUS_SOUTH else lat_raw / 1e6,
        lon_deg=-lon_raw / 1e6 if status & STATUS_WEST else lon_raw / 1e6,
        time=time,
        altitude_m=altitude,
        speed_kmh=speed / 10,
        direction_deg=direction,
        alarm_flags=alarm,
        status_flags=status,
        extra=extra,
    )


def _decode_batch(reader: _Reader) -> LocationBatch:
    count, batch_type = reader.uint(2, "count"), reader.uint(1, "type")
    locations = []
    for i in range(count):
        size = reader.uint(2, f"length of location {i + 1} of {count}")
        item = _Reader(reader.take(size, f"location {i + 1} of {count}"), f"location {i + 1}", reader.header)
        locations.append(_decode_location(item))
    if reader.remaining():
        left = reader.remaining()
        raise Jt808Error(f"batch of {count} locations has {left} bytes left over", "length", reader.header)
    return LocationBatch(tuple(locations), batch_type)


def _decode_registration(reader: _Reader) -> Registration:
    maker_w, model_w, id_w = _REGISTRATION_WIDTHS[reader.header.version if reader.header else "2013"]
    if model_w == 20 and reader.remaining() < 2 + 2 + 5 + 20 + 7 + 1:
        model_w = 8  # JT/T 808-2011 terminals, still in service, send an 8-byte model under a 2013 header
    province, city = reader.uint(2, "province"), reader.uint(2, "city")
    maker, model = reader.take(maker_w, "maker id"), reader.take(model_w, "model")
    terminal_id, color = reader.take(id_w, "terminal id"), reader.uint(1, "plate colour")
    h = reader.header
    return Registration(
        province_id=province,
        city_id=city,
        maker_id=_gbk(maker, "maker id", h),
        model=_gbk(model, "model", h),
        terminal_id=_gbk(terminal_id, "terminal id", h),
        plate_color=color,
        plate=_gbk(reader.rest(), "plate", h),
    )


def _decode_auth(reader: _Reader) -> Authentication:
    h = reader.header
    if h is None or h.version == "2013":
        return Authentication(_gbk(reader.rest(), "token", h))
    token = reader.take(reader.uint(1, "token length"), "token")
    imei, software = reader.take(15, "IMEI"), reader.take(20, "software version")
    return Authentication(_gbk(token, "token", h), _gbk(imei, "IMEI", h), _gbk(software, "software version", h))


def _decode_general_reply(reader: _Reader) -> GeneralReply:
    return GeneralReply(reader.uint(2, "reply serial"), reader.uint(2, "reply id"), reader.uint(1, "result"))


def _decode_registration_reply(reader: _Reader) -> RegistrationReply:
    serial, result = reader.uint(2, "reply serial"), reader.uint(1, "result")
    return RegistrationReply(serial, result, _gbk(reader.rest(), "auth code", reader.header))


def _decode_empty(reader: _Reader) -> None:
    return None


_DECODERS: dict[int, Callable[[_Reader], Payload]] = {
    MSG_TERMINAL_REPLY: _decode_general_reply,
    MSG_HEARTBEAT: _decode_empty,
    MSG_UNREGISTER: _decode_empty,
    MSG_REGISTER: _decode_registration,
    MSG_AUTH: _decode_auth,
    MSG_LOCATION: _decode_location,
    MSG_LOCATION_BATCH: _decode_batch,
    MSG_PLATFORM_REPLY: _decode_general_reply,
    MSG_REGISTER_REPLY: _decode_registration_reply,
}


def encode_location_body(report: LocationReport) -> bytes:
    """The 0x0200 body of a fix; the south/west status bits follow the signs of the coordinates."""
    status = report.status_flags & ~(STATUS_SOUTH | STATUS_WEST)
    status |= (STATUS_SOUTH if report.lat_deg < 0 else 0) | (STATUS_WEST if report.lon_deg < 0 else 0)
    if report.time.tzinfo is None:
        raise Jt808Error("location time must be timezone-aware, e.g. datetime(..., tzinfo=CHINA_TZ)")
    time = report.time.astimezone(CHINA_TZ)
    body = struct.pack(
        ">IIIIHHH",
        report.alarm_flags,
        status,
        round(abs(report.lat_deg) * 1e6),
        round(abs(report.lon_deg) * 1e6),
        report.altitude_m,
        round(report.speed_kmh * 10),
        report.direction_deg,
    ) + bytes.fromhex(time.strftime("%y%m%d%H%M%S"))
    for item_id, value in report.extra.items():
        if isinstance(value, str):
            raw = bytes.fromhex(value)
        elif item_id not in _KNOWN_EXTRA:
            raise Jt808Error(f"additional item 0x{item_id:02x} is not a known number; give its value as hex")
        else:
            size, divisor = _KNOWN_EXTRA[item_id]
            raw = round(value * (divisor or 1)).to_bytes(size, "big")
        body += bytes([item_id, len(raw)]) + raw
    return body


def encode_batch_body(reports: list[LocationReport], batch_type: int = 0) -> bytes:
    """The 0x0704 body: count, type, then each location body prefixed by its length."""
    body = struct.pack(">HB", len(reports), batch_type)
    for report in reports:
        item = encode_location_body(report)
        body += struct.pack(">H", len(item)) + item
    return body


def encode_registration_body(registration: Registration, version: Jt808Version = "2013") -> bytes:
    """The 0x0100 body, with the fixed field widths of the given version."""
    maker_w, model_w, id_w = _REGISTRATION_WIDTHS[version]
    r = registration
    return (
        struct.pack(">HH", r.province_id, r.city_id)
        + _fixed(r.maker_id, maker_w, "maker id", version)
        + _fixed(r.model, model_w, "model", version)
        + _fixed(r.terminal_id, id_w, "terminal id", version)
        + bytes([r.plate_color])
        + r.plate.encode("gbk")
    )


def encode_auth_body(auth: Authentication, version: Jt808Version = "2013") -> bytes:
    """The 0x0102 body: the token alone (2013), or token length, token, IMEI, software version (2019)."""
    token = auth.token.encode("gbk")
    if version == "2013":
        return token
    return (
        bytes([len(token)])
        + token
        + _fixed(auth.imei, 15, "IMEI", version)
        + _fixed(auth.software_version, 20, "software version", version)
    )


def _reply_frame(h: Jt808Header, message_id: int, body: bytes, serials: SerialCounter | None) -> bytes:
    serial = (serials or _default_serials).next()
    return encode_frame(message_id, h.phone, serial, body, h.version, h.protocol_version or 1)


def general_reply(
    request: Jt808Message | Jt808Header, result: int = RESULT_SUCCESS, serials: SerialCounter | None = None
) -> bytes:
    """0x8001 answering `request` with the same version and phone; serial from the platform's counter."""
    h = request.header if isinstance(request, Jt808Message) else request
    return _reply_frame(h, MSG_PLATFORM_REPLY, struct.pack(">HHB", h.serial, h.message_id, result), serials)


def registration_reply(
    request: Jt808Message | Jt808Header, auth_code: str, result: int = 0, serials: SerialCounter | None = None
) -> bytes:
    """0x8100 answering a 0x0100; the auth code is sent only on success (result 0)."""
    h = request.header if isinstance(request, Jt808Message) else request
    body = struct.pack(">HB", h.serial, result) + (auth_code.encode("gbk") if result == 0 else b"")
    return _reply_frame(h, MSG_REGISTER_REPLY, body, serials)


def _location_json(report: LocationReport) -> dict[str, Any]:
    return {
        "lat_deg": report.lat_deg,
        "lon_deg": report.lon_deg,
        "altitude_m": report.altitude_m,
        "speed_kmh": report.speed_kmh,
        "direction_deg": report.direction_deg,
        "time": report.time.isoformat(),
        "alarm_flags": report.alarm_flags,
        "status_flags": report.status_flags,
        "extra": {f"0x{item_id:02x}": value for item_id, value in report.extra.items()},
    }


def message_to_json(msg: Jt808Message) -> dict[str, Any]:
    """A JSON-ready dict: message_id, version, phone, serial, then the decoded body's fields."""
    out: dict[str, Any] = {
        "message_id": f"0x{msg.message_id:04x}",
        "version": msg.version,
        "phone": msg.phone,
        "serial": msg.serial,
    }
    payload = msg.payload
    if isinstance(payload, LocationReport):
        out.update(_location_json(payload))
    elif isinstance(payload, LocationBatch):
        out["locations"] = [_location_json(item) for item in payload.locations]
    elif isinstance(payload, GeneralReply):
        out.update(reply_serial=payload.reply_serial, reply_id=f"0x{payload.reply_id:04x}", result=payload.result)
    elif payload is not None:
        out.update(asdict(payload))
    return out
