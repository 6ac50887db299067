"""Decoding JT/T 808 frames into messages, a fix into named fields, and a message into JSON.

    >>> msg = decode_frame(bytes.fromhex("7e000200000138001380000001a97e"))
    >>> msg.message_id, msg.version, msg.phone, msg.serial
    (2, '2013', '013800138000', 1)
    >>> location_fields(report)["alarm_emergency"]   # the flag words, by name: nothing downstream reads bits
    False
    >>> decode_message(piece_1 + piece_3 + piece_2).payload   # a split message from its pieces, in any order

A split message (message properties bit 13) travels as pieces of one message id, each with the
total count and its index in the header. `decode_message` takes one frame, or the frames of all
the pieces of one message (as the gateway stores them, connectors/bus/jt808_packets.py): a piece
repeated counts once, the order does not matter, and a missing piece is a Jt808Error of kind
"incomplete" naming what arrived.

Terminal clocks are Beijing time by the standard (UTC+8, which is Asia/Shanghai: no DST).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

from safecampus.connectors.bus.jt808_frame import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_LOCATION_BATCH,
    MSG_PLATFORM_REPLY,
    MSG_REGISTER,
    MSG_REGISTER_REPLY,
    MSG_RESEND_REQUEST,
    MSG_TERMINAL_REPLY,
    MSG_UNREGISTER,
    Jt808Error,
    Jt808Header,
    Reader,
    bcd,
    gbk,
    split_frames,
    unframe,
)
from safecampus.connectors.bus.jt808_messages import (
    ALARM_EMERGENCY,
    ALARM_ILLEGAL_DOOR_OPENING,
    ALARM_OVERSPEED,
    ALARM_ROUTE_DEVIATION,
    KNOWN_EXTRA,
    REGISTRATION_WIDTHS,
    STATUS_ACC_ON,
    STATUS_DOOR1_OPEN,
    STATUS_DOOR2_OPEN,
    STATUS_POSITIONED,
    STATUS_SOUTH,
    STATUS_WEST,
    Authentication,
    ExtraValue,
    GeneralReply,
    Jt808Message,
    LocationBatch,
    LocationReport,
    Payload,
    Registration,
    RegistrationReply,
    ResendRequest,
)
from safecampus.schemas.common import SHANGHAI

_DOORS = STATUS_DOOR1_OPEN | STATUS_DOOR2_OPEN


def decode_frame(frame: bytes) -> Jt808Message:
    """Decode one frame (with or without its 0x7e delimiters); raises Jt808Error when it is bad."""
    header, body = unframe(frame)
    decoder = _DECODERS.get(header.message_id)
    if decoder is None:
        raise Jt808Error(f"unknown message id 0x{header.message_id:04x}", "unknown_message", header)
    if header.encryption & 1:
        raise Jt808Error("body is RSA-encrypted; turn encryption off for this terminal", "invalid", header)
    payload = None if header.package is not None else decoder(Reader(body, f"0x{header.message_id:04x} body", header))
    return Jt808Message(header, body, payload)


def decode_message(data: bytes) -> Jt808Message:
    """One message from one frame, or from the frames of the pieces of a split message (joined)."""
    if data.count(0x7E) <= 2 or data[:1] != b"\x7e":  # one frame: the common case, not split
        message = decode_frame(data)
        return message if message.header.package is None else join_pieces([message])
    frames, rest = split_frames(data)
    if rest or not frames:
        raise Jt808Error(f"{len(rest)} bytes after the last whole frame: a frame cut short", "length")
    return join_pieces([decode_frame(frame) for frame in frames])


def join_pieces(pieces: list[Jt808Message]) -> Jt808Message:
    """The message the pieces of one split message make: bodies joined in index order, then decoded."""
    first = pieces[0].header
    if first.package is None:
        raise Jt808Error("a whole message among the pieces of a split message", "invalid", first)
    total = first.package[0]
    by_index: dict[int, Jt808Message] = {}
    for piece in pieces:
        h = piece.header
        if h.package is None or (h.phone, h.message_id, h.package[0]) != (first.phone, first.message_id, total):
            raise Jt808Error("pieces of different messages (terminal, message id or total) stored as one", "invalid", h)
        if not 1 <= h.package[1] <= total:
            raise Jt808Error(f"piece index {h.package[1]} outside 1..{total}", "invalid", h)
        by_index.setdefault(h.package[1], piece)  # a piece sent again is the same piece (§7.12): counted once
    missing = [i for i in range(1, total + 1) if i not in by_index]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise Jt808Error(
            f"split message 0x{first.message_id:04x} of terminal {first.phone} is incomplete:"
            f" {len(by_index)} of {total} pieces received, missing piece {shown}",
            "incomplete",
            first,
        )
    body = b"".join(by_index[i].body for i in range(1, total + 1))
    header = replace(by_index[1].header, package=None)  # the message as sent, under its first piece's serial
    decoder = _DECODERS[header.message_id]  # decode_frame refused unknown ids already
    return Jt808Message(header, body, decoder(Reader(body, f"0x{header.message_id:04x} body", header)))


def location_fields(report: LocationReport) -> dict[str, Any]:
    """A fix as the protocol-neutral fields of a BusEvent: position, motion, and the flags by name."""
    alarm, status = report.alarm_flags, report.status_flags
    return {
        "lat_deg": report.lat_deg,
        "lon_deg": report.lon_deg,
        "speed_kmh": report.speed_kmh,
        "direction_deg": report.direction_deg % 360,
        "altitude_m": report.altitude_m,
        "positioned": bool(status & STATUS_POSITIONED),
        "ignition_on": bool(status & STATUS_ACC_ON),
        "door_open": bool(status & _DOORS),
        "alarm_emergency": bool(alarm & ALARM_EMERGENCY),
        "alarm_overspeed": bool(alarm & ALARM_OVERSPEED),
        "alarm_route_deviation": bool(alarm & ALARM_ROUTE_DEVIATION),
        "alarm_illegal_door_opening": bool(alarm & ALARM_ILLEGAL_DOOR_OPENING),
    }


def _decode_time(raw: bytes, header: Jt808Header | None) -> datetime:
    digits = bcd(raw, "time", header)
    y, mo, d, h, mi, s = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    try:
        date(2000 + y, mo, d)
    except ValueError:
        raise Jt808Error(f"time 20{y:02d}-{mo:02d}-{d:02d} is not a valid date", "invalid", header) from None
    try:
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=SHANGHAI)
    except ValueError:
        raise Jt808Error(f"time {h:02d}:{mi:02d}:{s:02d} is not a valid time of day", "invalid", header) from None


def _decode_extra(item_id: int, value: bytes) -> ExtraValue:
    size, divisor = KNOWN_EXTRA.get(item_id, (-1, None))
    if len(value) != size:  # unknown or vendor-reused ids stay hex rather than failing the fix
        return value.hex()
    number = int.from_bytes(value, "big")
    return number / divisor if divisor else number


def _decode_location(reader: Reader) -> LocationReport:
    alarm, status, lat_raw, lon_raw = struct.unpack(">IIII", reader.take(16, "flags and coordinates"))
    altitude, speed, direction = struct.unpack(">HHH", reader.take(6, "altitude, speed and direction"))
    time = _decode_time(reader.take(6, "time"), reader.header)
    for name, raw, limit in (("latitude", lat_raw, 90), ("longitude", lon_raw, 180)):
        if raw > limit * 1_000_000:
            raise Jt808Error(f"{name} {raw / 1e6:g}° out of range", "invalid", reader.header)
    extra: dict[int, ExtraValue] = {}
    lenient: tuple[str, ...] = ()
    while reader.remaining():
        if reader.remaining() < 2 or reader.data[reader.pos + 1] > reader.remaining() - 2:
            # An item whose declared length overruns the body (or a lone trailing byte): firmware
            # that miscounts. Keep the fix, drop the rest, count it (Traccar does the same).
            reader.rest()
            lenient = ("extra_item_overrun",)
            break
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
        lenient=lenient,
    )


def _decode_batch(reader: Reader) -> LocationBatch:
    count, batch_type = reader.uint(2, "count"), reader.uint(1, "type")
    locations = []
    for i in range(count):
        size = reader.uint(2, f"length of location {i + 1} of {count}")
        item = Reader(reader.take(size, f"location {i + 1} of {count}"), f"location {i + 1}", reader.header)
        locations.append(_decode_location(item))
    if reader.remaining():
        left = reader.remaining()
        raise Jt808Error(f"batch of {count} locations has {left} bytes left over", "length", reader.header)
    return LocationBatch(tuple(locations), batch_type)


def _decode_registration(reader: Reader) -> Registration:
    maker_w, model_w, id_w = REGISTRATION_WIDTHS[reader.header.version if reader.header else "2013"]
    if model_w == 20 and reader.remaining() < 2 + 2 + 5 + 20 + 7 + 1:
        model_w = 8  # JT/T 808-2011 terminals, still in service, send an 8-byte model under a 2013 header
    province, city = reader.uint(2, "province"), reader.uint(2, "city")
    maker, model = reader.take(maker_w, "maker id"), reader.take(model_w, "model")
    terminal_id, color = reader.take(id_w, "terminal id"), reader.uint(1, "plate colour")
    h = reader.header
    return Registration(
        province_id=province,
        city_id=city,
        maker_id=gbk(maker, "maker id", h),
        model=gbk(model, "model", h),
        terminal_id=gbk(terminal_id, "terminal id", h),
        plate_color=color,
        plate=gbk(reader.rest(), "plate", h),
    )


def _decode_auth(reader: Reader) -> Authentication:
    h = reader.header
    if h is None or h.version == "2013":
        return Authentication(gbk(reader.rest(), "token", h))
    token = reader.take(reader.uint(1, "token length"), "token")
    imei, software = reader.take(15, "IMEI"), reader.take(20, "software version")
    return Authentication(gbk(token, "token", h), gbk(imei, "IMEI", h), gbk(software, "software version", h))


def _decode_general_reply(reader: Reader) -> GeneralReply:
    return GeneralReply(reader.uint(2, "reply serial"), reader.uint(2, "reply id"), reader.uint(1, "result"))


def _decode_registration_reply(reader: Reader) -> RegistrationReply:
    serial, result = reader.uint(2, "reply serial"), reader.uint(1, "result")
    return RegistrationReply(serial, result, gbk(reader.rest(), "auth code", reader.header))


def _decode_resend_request(reader: Reader) -> ResendRequest:
    serial, count = reader.uint(2, "first piece serial"), reader.uint(1, "count")
    return ResendRequest(serial, tuple(reader.uint(2, f"piece {i + 1} of {count}") for i in range(count)))


def _decode_empty(reader: Reader) -> None:
    return None


_DECODERS: dict[int, Callable[[Reader], Payload]] = {
    MSG_TERMINAL_REPLY: _decode_general_reply,
    MSG_HEARTBEAT: _decode_empty,
    MSG_UNREGISTER: _decode_empty,
    MSG_REGISTER: _decode_registration,
    MSG_AUTH: _decode_auth,
    MSG_LOCATION: _decode_location,
    MSG_LOCATION_BATCH: _decode_batch,
    MSG_PLATFORM_REPLY: _decode_general_reply,
    MSG_REGISTER_REPLY: _decode_registration_reply,
    MSG_RESEND_REQUEST: _decode_resend_request,
}


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
