"""JT/T 808 framing (2013 and 2019): delimiters, escapes, header, checksum, errors.

A frame is 0x7e, header, body, XOR checksum, 0x7e, with 0x7e / 0x7d escaped as 0x7d 0x02 /
0x7d 0x01. Words are big-endian, strings GBK. Pure functions over bytes, no I/O.

    >>> frames, rest = split_frames(buffer)        # a TCP byte stream → whole frames
    >>> encode_frame(MSG_HEARTBEAT, "013800138000", 1, b"")
    b'~\\x00\\x02\\x00\\x00\\x018\\x00\\x13\\x80\\x00\\x00\\x01\\xa9~'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal, TypeAlias

Jt808Version: TypeAlias = Literal["2013", "2019"]
ErrorKind: TypeAlias = Literal["escape", "length", "checksum", "unknown_message", "invalid", "incomplete"]

# Message ids (terminal → platform, then platform → terminal).
MSG_TERMINAL_REPLY = 0x0001
MSG_HEARTBEAT = 0x0002
MSG_UNREGISTER = 0x0003
MSG_REGISTER = 0x0100
MSG_AUTH = 0x0102
MSG_LOCATION = 0x0200
MSG_LOCATION_BATCH = 0x0704
MSG_PLATFORM_REPLY = 0x8001
MSG_RESEND_REQUEST = 0x8003  # 补传分包请求: the platform asks for the missing pieces of a split message
MSG_REGISTER_REPLY = 0x8100

# Result byte of the platform general reply 0x8001.
RESULT_SUCCESS = 0
RESULT_FAILURE = 1
RESULT_MESSAGE_ERROR = 2
RESULT_UNSUPPORTED = 3

PHONE_BYTES: dict[Jt808Version, int] = {"2013": 6, "2019": 10}
VERSION_FLAG = 1 << 14
PACKAGE_FLAG = 1 << 13
MAX_BODY = 0x3FF  # body length is the low 10 bits of the properties word
# The longest legal frame on the wire: a 21-byte 2019 package header, the body and the checksum, each
# byte escaped to two, and the two delimiters. Anything longer is refused before it is unescaped.
MAX_FRAME_BYTES = 2 * (21 + MAX_BODY + 1) + 2


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


class SerialCounter:
    """The platform's own message serial numbers, 0..65535 then wrapping; keep one per connection."""

    def __init__(self, start: int = 0) -> None:
        self._next = start & 0xFFFF

    def next(self) -> int:
        value = self._next
        self._next = (value + 1) & 0xFFFF
        return value


class Reader:
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


def xor(data: bytes) -> int:
    checksum = 0
    for byte in data:
        checksum ^= byte
    return checksum


def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")  # 0x7d first, or we'd double it


def unescape(data: bytes) -> bytes:
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


def bcd(raw: bytes, name: str, header: Jt808Header | None = None) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise Jt808Error(f"{name} BCD 0x{text} has a nibble that is not a decimal digit", "invalid", header)
    return text


def to_bcd(digits: str, size: int, name: str) -> bytes:
    if not digits.isdigit() or len(digits) > size * 2:
        raise Jt808Error(f"{name} {digits!r} must be at most {size * 2} decimal digits")
    return bytes.fromhex(digits.zfill(size * 2))


def gbk(raw: bytes, name: str, header: Jt808Header | None) -> str:
    try:
        return raw.split(b"\x00", 1)[0].decode("gbk")  # fixed-width fields are padded with 0x00
    except UnicodeDecodeError:
        raise Jt808Error(f"{name} 0x{raw.hex()} is not GBK text", "invalid", header) from None


def fixed(text: str, width: int, name: str, version: Jt808Version) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > width:
        raise Jt808Error(f"{name} {text!r} is {len(raw)} bytes; the {version} layout allows {width}")
    return raw.ljust(width, b"\x00")


def parse_header(content: bytes) -> tuple[Jt808Header, int, int]:
    """Header, header length and declared body length of an unescaped frame without checksum."""
    message_id, props = struct.unpack_from(">HH", content)
    version: Jt808Version = "2019" if props & VERSION_FLAG else "2013"
    reader = Reader(content, f"{version} header", None)
    reader.take(4, "id and properties")
    protocol_version = reader.uint(1, "protocol version") if version == "2019" else None
    phone = bcd(reader.take(PHONE_BYTES[version], "phone"), "phone")
    serial = reader.uint(2, "serial")
    package = None
    if props & PACKAGE_FLAG:
        package = (reader.uint(2, "package total"), reader.uint(2, "package index"))
    header = Jt808Header(message_id, version, phone, serial, protocol_version, (props >> 10) & 0x7, package)
    return header, reader.pos, props & MAX_BODY


def unframe(frame: bytes) -> tuple[Jt808Header, bytes]:
    """Header and body of one frame (with or without its 0x7e delimiters), lengths and checksum checked."""
    if len(frame) > MAX_FRAME_BYTES:
        raise Jt808Error(f"frame of {len(frame)} bytes; the longest legal frame has {MAX_FRAME_BYTES}", "length")
    if frame[:1] == b"\x7e":
        frame = frame[1:]
    if frame[-1:] == b"\x7e":
        frame = frame[:-1]
    data = unescape(frame)
    if len(data) < 13:  # 12-byte 2013 header + checksum
        raise Jt808Error(f"frame too short: {len(data)} bytes, the smallest frame has 13", "length")
    content, checksum = data[:-1], data[-1]
    header, header_len, body_len = parse_header(content)
    body = content[header_len:]
    # A cut-off frame's last byte is no checksum: say it is short rather than "checksum mismatch".
    if len(body) < body_len:
        raise Jt808Error(f"frame truncated: body length {body_len} but {len(body)} bytes present", "length", header)
    computed = xor(content)
    if computed != checksum:
        raise Jt808Error(
            f"checksum mismatch: frame says 0x{checksum:02x}, computed 0x{computed:02x}", "checksum", header
        )
    if len(body) > body_len:
        raise Jt808Error(f"frame too long: body length {body_len} but {len(body)} bytes present", "length", header)
    return header, body


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
    if len(body) > MAX_BODY:
        raise Jt808Error(f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit; split it into packages")
    props = len(body) | (VERSION_FLAG if version == "2019" else 0) | (PACKAGE_FLAG if package else 0)
    header = struct.pack(">HH", message_id, props)
    if version == "2019":
        header += bytes([protocol_version])
    header += to_bcd(phone, PHONE_BYTES[version], "phone") + struct.pack(">H", serial & 0xFFFF)
    if package:
        header += struct.pack(">HH", *package)
    content = header + body
    return b"\x7e" + escape(content + bytes([xor(content)])) + b"\x7e"


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
