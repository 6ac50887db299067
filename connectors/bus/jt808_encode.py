"""Encoding JT/T 808 bodies and the platform's replies.

The gateway sends `general_reply`, `registration_reply` and `resend_request`; the simulator and the
tests build terminal frames with the body encoders and `encode_frame`, or `encode_pieces` for a
message split into packages (message properties bit 13, package total and index in the header).

    >>> encode_frame(MSG_LOCATION, "013800000001", 1, encode_location_body(report))
    >>> encode_pieces(MSG_LOCATION_BATCH, "013800000001", 7, encode_batch_body(reports), piece_bytes=512)
"""

from __future__ import annotations

import math
import struct

from safecampus.connectors.bus.jt808_frame import (
    MAX_BODY,
    MSG_PLATFORM_REPLY,
    MSG_REGISTER_REPLY,
    MSG_RESEND_REQUEST,
    RESULT_SUCCESS,
    Jt808Error,
    Jt808Header,
    Jt808Version,
    SerialCounter,
    encode_frame,
    fixed,
)
from safecampus.connectors.bus.jt808_messages import (
    KNOWN_EXTRA,
    REGISTRATION_WIDTHS,
    STATUS_SOUTH,
    STATUS_WEST,
    Authentication,
    ExtraValue,
    Jt808Message,
    LocationReport,
    Registration,
)
from safecampus.schemas.common import SHANGHAI

_default_serials = SerialCounter()


def encode_location_body(report: LocationReport) -> bytes:
    """The 0x0200 body of a fix; the south/west status bits follow the signs of the coordinates."""
    status = report.status_flags & ~(STATUS_SOUTH | STATUS_WEST)
    status |= (STATUS_SOUTH if report.lat_deg < 0 else 0) | (STATUS_WEST if report.lon_deg < 0 else 0)
    if report.time.tzinfo is None:
        raise Jt808Error("location time must be timezone-aware, e.g. datetime(..., tzinfo=SHANGHAI)")
    try:
        time = report.time.astimezone(SHANGHAI)
    except OverflowError:
        raise Jt808Error(f"location time {report.time.isoformat()} cannot be shown in Beijing time") from None
    if not 2000 <= time.year <= 2099:  # BCD YYMMDD: 1999 would silently become 2099
        raise Jt808Error(f"location time {time.isoformat()} is outside 2000-2099, all a JT/T 808 time can hold")
    fields = {
        "alarm flags": (report.alarm_flags, 0xFFFFFFFF),
        "status flags": (status, 0xFFFFFFFF),
        # What the word holds, not what is plausible: a test may build a bad terminal's 91° on purpose.
        "latitude": (_scaled(abs(report.lat_deg), 1e6), 0xFFFFFFFF),
        "longitude": (_scaled(abs(report.lon_deg), 1e6), 0xFFFFFFFF),
        "altitude": (report.altitude_m, 0xFFFF),
        "speed": (_scaled(report.speed_kmh, 10), 0xFFFF),
        "direction": (report.direction_deg, 0xFFFF),
    }
    for name, (value, limit) in fields.items():
        if not 0 <= value <= limit:
            raise Jt808Error(f"location {name} {value} is outside 0..{limit}, what the 0x0200 field can hold")
    body = struct.pack(">IIIIHHH", *(value for value, _ in fields.values()))
    body += bytes.fromhex(time.strftime("%y%m%d%H%M%S"))
    for item_id, item in report.extra.items():
        body += _extra_item(item_id, item)
    return body


def _scaled(value: float, factor: float) -> int:
    """`value` × `factor` rounded; -1 (out of every range) for NaN and infinity."""
    product = value * factor  # a finite value may still overflow to infinity here
    return round(product) if math.isfinite(product) else -1


def _extra_item(item_id: int, value: ExtraValue) -> bytes:
    """One additional item: id, length, value (hex text as given, or a known number scaled)."""
    if not 0 <= item_id <= 0xFF:
        raise Jt808Error(f"additional item id {item_id} is not one byte")
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise Jt808Error(f"additional item 0x{item_id:02x} value {value[:20]!r} is not hex") from None
    elif item_id not in KNOWN_EXTRA:
        raise Jt808Error(f"additional item 0x{item_id:02x} is not a known number; give its value as hex")
    else:
        size, divisor = KNOWN_EXTRA[item_id]
        scaled = value * (divisor or 1)
        if not (math.isfinite(scaled) and 0 <= round(scaled) < 256**size):
            raise Jt808Error(f"additional item 0x{item_id:02x} value {value} does not fit in {size} bytes")
        raw = round(scaled).to_bytes(size, "big")
    if len(raw) > 0xFF:
        raise Jt808Error(f"additional item 0x{item_id:02x} is {len(raw)} bytes; an item holds at most 255")
    return bytes([item_id, len(raw)]) + raw


def encode_batch_body(reports: list[LocationReport], batch_type: int = 0) -> bytes:
    """The 0x0704 body: count, type, then each location body prefixed by its length."""
    body = struct.pack(">HB", len(reports), batch_type)
    for report in reports:
        item = encode_location_body(report)
        body += struct.pack(">H", len(item)) + item
    return body


def encode_registration_body(registration: Registration, version: Jt808Version = "2013") -> bytes:
    """The 0x0100 body, with the fixed field widths of the given version."""
    maker_w, model_w, id_w = REGISTRATION_WIDTHS[version]
    r = registration
    return (
        struct.pack(">HH", r.province_id, r.city_id)
        + fixed(r.maker_id, maker_w, "maker id", version)
        + fixed(r.model, model_w, "model", version)
        + fixed(r.terminal_id, id_w, "terminal id", version)
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
        + fixed(auth.imei, 15, "IMEI", version)
        + fixed(auth.software_version, 20, "software version", version)
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


def encode_pieces(
    message_id: int,
    phone: str,
    first_serial: int,
    body: bytes,
    version: Jt808Version = "2013",
    protocol_version: int = 1,
    piece_bytes: int = MAX_BODY,
) -> list[bytes]:
    """A message split into frames of at most `piece_bytes` of body each, numbered 1..total, with
    consecutive serials from `first_serial` (JT/T 808-2013 §7.12: pieces take increasing serials)."""
    if not 1 <= piece_bytes <= MAX_BODY:
        raise Jt808Error(f"a piece holds 1 to {MAX_BODY} bytes of body, not {piece_bytes}")
    chunks = [body[i : i + piece_bytes] for i in range(0, len(body), piece_bytes)] or [b""]
    if len(chunks) > 0xFFFF:
        raise Jt808Error(f"a body of {len(body)} bytes needs {len(chunks)} pieces; the header counts at most 65535")
    total = len(chunks)
    return [
        encode_frame(message_id, phone, first_serial + i, chunk, version, protocol_version, (total, i + 1))
        for i, chunk in enumerate(chunks)
    ]


def resend_request(piece: Jt808Header, missing: list[int], serials: SerialCounter | None = None) -> bytes:
    """0x8003 asking the terminal for the `missing` pieces (at most 255) of the message `piece` belongs to:
    the first piece's serial, the count (BYTE), then each index (WORD), as JT/T 808-2013 §8.4 lays it out."""
    if piece.package is None:
        raise Jt808Error("a re-send request answers a piece of a split message; this header has no package fields")
    first_serial = (piece.serial - piece.package[1] + 1) & 0xFFFF
    indices = missing[:255]
    body = struct.pack(">HB", first_serial, len(indices)) + b"".join(struct.pack(">H", i) for i in indices)
    return _reply_frame(piece, MSG_RESEND_REQUEST, body, serials)
