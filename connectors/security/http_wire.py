"""HTTP/1.1 on asyncio streams for the device gateway: request heads, bodies with deadlines, answers.

Strict about safety, for a server facing devices it does not control: a head must be complete
and well formed, a chunk size is 1-16 hex digits (a size of -1 is a 400 at once), a body arrives
within its `BodyClock` or is a 408, a body shorter than its Content-Length is a 400, and every
problem is a `Refusal` carrying the status, the reason counted and one line to log.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qs, urlsplit

DRAIN_BYTES = 1024 * 1024  # read this much of a refused body so the client sees the answer, not a reset
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\ngateway full; retry\n"
)


@dataclass(frozen=True)
class HttpLimits:
    """What clients may hold of the gateway; the defaults suit a city's cameras on one gateway."""

    max_connections: int = 2048
    backlog: int = 1024  # after a network blip every camera reposts at once
    max_pending: int = 256  # bodies read and waiting for the sink
    sink_workers: int = 16
    header_timeout_s: float = 5.0  # request line and headers (also the keep-alive idle time)
    body_grace_s: float = 5.0
    min_body_rate: float = 16 * 1024.0  # bytes/s a body must average after the grace
    write_timeout_s: float = 5.0
    max_head_bytes: int = 32 * 1024
    max_headers: int = 100


class Refusal(Exception):
    """An answer other than 200: the status, the count's name and one line for the log and the client."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason = status, reason


class ClientGone(Exception):
    """The client hung up or stopped reading."""


class BodyTooLarge(ValueError):
    """The request body is over the gateway's limit."""


class BodyClock:
    """A body's deadline: `grace_s`, plus one second per `rate` bytes received."""

    def __init__(self, grace_s: float, rate: float) -> None:
        self.start, self.grace_s, self.rate, self.got = time.monotonic(), grace_s, rate, 0

    def remaining(self) -> float:
        left = self.start + self.grace_s + self.got / self.rate - time.monotonic()
        if left <= 0:
            raise self.late()
        return left

    def late(self) -> Refusal:
        return Refusal(408, "body_timeout", f"body slower than {self.rate:g} bytes/s")


@dataclass
class Request:
    """A parsed request head; header names lower case, every value kept."""

    method: str
    target: str
    version: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    @property
    def url(self) -> SplitResult:
        return urlsplit(self.target)

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("connection") or "").lower()
        return "close" not in connection and (self.version != "HTTP/1.0" or "keep-alive" in connection)

    def body_length(self, limit: int) -> int | None:
        """The Content-Length, or None for a chunked body; refuses what cannot be framed safely."""
        transfer = self.header("transfer-encoding")
        lengths = self.headers.get("content-length", [])
        if transfer is not None:
            if lengths:
                raise Refusal(400, "bad_request", "both Transfer-Encoding and Content-Length")
            if transfer.strip().lower() != "chunked":
                raise Refusal(501, "bad_request", f"Transfer-Encoding {transfer[:20]!r} is not supported")
            return None
        if not lengths:
            raise Refusal(411, "length_required", "Content-Length is required")
        if len(set(lengths)) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 12:
            raise Refusal(400, "bad_request", f"Content-Length is not one number (got {lengths[0][:20]!r})")
        if int(lengths[0]) > limit:
            raise Refusal(413, "too_large", f"body over {limit} bytes")
        return int(lengths[0])


async def read_head(reader: asyncio.StreamReader, timeout_s: float, idle_is_refused: bool) -> bytes | None:
    """A request head (up to CRLF CRLF), or None when the client closed or idled between requests."""
    try:
        async with asyncio.timeout(timeout_s):
            return await reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        if reader._buffer:  # type: ignore[attr-defined]  # a head begun and not finished: slowloris
            raise Refusal(408, "header_timeout", f"no complete head within {timeout_s:g} s") from None
        if idle_is_refused:
            raise Refusal(408, "idle_timeout", f"no request within {timeout_s:g} s") from None
        return None
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ClientGone("closed in the middle of a head") from None
        return None
    except asyncio.LimitOverrunError:
        raise Refusal(431, "head_too_large", "request head too large") from None


def request_token(authorization: str | None, query: str) -> str | None:
    """A device's token: `Authorization: Bearer …`, else `?token=…` (cameras that take only a URL)."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    values = parse_qs(query).get("token") if query else None
    return values[0] if values else None


def parse_head(head: bytes, max_headers: int) -> Request:
    """The request line and header fields of a head ending in CRLF CRLF."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise Refusal(400, "bad_request", "malformed request line")
    if len(lines) - 1 > max_headers:
        raise Refusal(431, "head_too_large", f"over {max_headers} header fields")
    request = Request(parts[0], parts[1], parts[2])
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in b" \t":
            raise Refusal(400, "bad_request", "malformed header field")
        request.headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1").strip())
    return request


async def read_exactly(reader: asyncio.StreamReader, length: int, clock: BodyClock) -> bytes:
    chunks: list[bytes] = []
    left = length
    while left > 0:
        try:
            async with asyncio.timeout(clock.remaining()):
                data = await reader.read(min(left, 65536))
        except TimeoutError:
            raise clock.late() from None
        if not data:
            got = length - left
            raise Refusal(400, "short_body", f"body of {got} bytes is shorter than its Content-Length {length}")
        clock.got += len(data)
        left -= len(data)
        chunks.append(data)
    return b"".join(chunks)


async def read_line(reader: asyncio.StreamReader, clock: BodyClock) -> bytes:
    try:
        async with asyncio.timeout(clock.remaining()):
            line = await reader.readuntil(b"\n")
    except TimeoutError:
        raise clock.late() from None
    except asyncio.IncompleteReadError:
        raise Refusal(400, "short_body", "chunked body ended before its last chunk") from None
    except asyncio.LimitOverrunError:
        raise Refusal(400, "bad_chunk", "chunk line too long") from None
    clock.got += len(line)
    return line


async def read_chunked(reader: asyncio.StreamReader, limit: int, clock: BodyClock, max_trailers: int = 100) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_text = (await read_line(reader, clock)).split(b";", 1)[0].strip()
        if _HEX.fullmatch(size_text) is None:
            raise Refusal(400, "bad_chunk", f"malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(max_trailers):  # trailers: nothing we need
                if (await read_line(reader, clock)).strip() == b"":
                    return b"".join(parts)
            raise Refusal(400, "bad_chunk", "too many trailer fields")
        total += size
        if total > limit:
            raise Refusal(413, "too_large", f"chunked body over {limit} bytes")
        parts.append(await read_exactly(reader, size, clock))
        if (await read_line(reader, clock)).strip() != b"":
            raise Refusal(400, "bad_chunk", "chunk data longer than its size")


async def drain(reader: asyncio.StreamReader) -> None:
    """Read (and drop) a bounded part of a refused body: closing on unread data sends a reset."""
    left = DRAIN_BYTES
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            while left > 0 and (got := await reader.read(min(left, 65536))):
                left -= len(got)


async def answer(
    writer: asyncio.StreamWriter, status: int, body: bytes, close: bool, write_timeout_s: float = 5.0
) -> None:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nServer: safecampus-gateway\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
    )
    if status == 401:
        head += 'WWW-Authenticate: Bearer realm="safecampus"\r\n'
    if status == 503:
        head += "Retry-After: 1\r\n"
    if status == 405:  # RFC 9110 §15.5.6: a 405 lists what the resource takes
        head += "Allow: POST\r\n"
    if close:
        head += "Connection: close\r\n"
    writer.write(head.encode("latin-1") + b"\r\n" + body)
    try:
        async with asyncio.timeout(write_timeout_s):
            await writer.drain()
    except TimeoutError:
        raise ClientGone("not reading its answer") from None


async def say_busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 503 at once, without reading the request: then drop what it sent so it sees the 503, not a reset."""
    with contextlib.suppress(Exception):
        writer.write(_BUSY)
        writer.write_eof()
        async with asyncio.timeout(0.5):
            while await reader.read(65536):
                pass
    writer.close()
