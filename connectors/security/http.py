"""HTTP gateway for campus security devices: stores every POSTed body unchanged as a raw envelope.

Hikvision cameras post ISAPI alarm-server notifications (XML, or multipart/form-data with an
XML part and pictures), GB/T 28181 platforms relay Notify bodies, alarm boxes post JSON; the
school-bus escort app (照管员) posts its "all students off" confirmations here too. The
gateway decodes nothing: each body becomes a `RawEnvelope` (domain and source by path, the
request's Content-Type, receive time in UTC, gateway id, key None for security bodies) handed
to a sink — e.g. a Kafka producer for raw.<domain> — before the device gets its answer, so raw
is stored first.

    path                                   domain    source
    /, /isapi, /ISAPI/Event/notification/alert   security  isapi
    /gb28181                               security  gb28181
    /alarmbox                              security  alarmbox
    /escort                                bus       bus-json

An escort confirmation is the escort app's JSON form (connectors/bus/escort.py), e.g.
`{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}`;
its envelope is keyed by the terminal id when the body names one (so it lands on the bus's
raw.bus partition, next to its JT/T 808 frames); the bus pipeline validates it.

Answers: 200 once the sink has the body, 400 for a malformed request (a bad chunk size, a body
shorter than its Content-Length: never stored), 401 without a valid device token (when tokens
are configured), 404 for other paths, 405 for other methods, 408 when the head or the body is
too slow, 411 without a length, 413 over the route's limit (`MAX_BODY_BYTES`,
`ESCORT_MAX_BODY_BYTES` for /escort; chunked bodies too), 431 for an oversized head, 503 when
the gateway is full or the sink fails (the device retries).

The server is asyncio (`HttpLimits`): a waiting connection costs no thread, so idle and slow
clients cannot starve the others. The head must arrive within `header_timeout_s`, a body at
`min_body_rate` after `body_grace_s` (slowloris senders are dropped in seconds); connections are
capped (`max_connections`, a listen backlog of `backlog`) and bodies waiting for the sink too
(`max_pending`, run on `sink_workers` threads): the excess gets a quick 503. With a
`TokenStore` (connectors/security/tokens.py) every post needs its device's or NVR's token
(`Authorization: Bearer …` or `?token=…`); without one the gateway runs open and says so.
Every refusal is one INFO line (no traceback; repeats per reason and address folded) and a
count in `gateway.counts`; a client that hangs up is one DEBUG line.

    gateway = SecurityHttpGateway(producer.send_envelope, port=0)
    gateway.start()          # serves in a background thread
    print(gateway.bound_port)
    gateway.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from safecampus.connectors.security.tokens import TokenStore
from safecampus.schemas.common import Domain
from safecampus.schemas.envelope import RawEnvelope, SourceFormat

log = logging.getLogger(__name__)

EnvelopeSink = Callable[[RawEnvelope], None]

MAX_BODY_BYTES = 16 * 1024 * 1024  # an ISAPI post with a few JPEG snapshots stays far below 16 MiB
ESCORT_MAX_BODY_BYTES = 16 * 1024  # an escort confirmation is about 100 bytes of JSON
DRAIN_BYTES = 1024 * 1024  # read this much of a refused body so the client sees the answer, not a reset
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # RFC 9110 §8.3: what a body without a type is
LOG_REPEAT_S = 10.0  # one line per refusal reason and address in this window; the rest are counted
ROUTES: dict[str, SourceFormat] = {
    "/": "isapi",
    "/isapi": "isapi",
    "/ISAPI/Event/notification/alert": "isapi",
    "/gb28181": "gb28181",
    "/alarmbox": "alarmbox",
    "/escort": "bus-json",
}
DOMAINS: dict[SourceFormat, Domain] = {"bus-json": "bus"}  # every other route is a security device's
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


class _ClientGone(Exception):
    """The client hung up or stopped reading."""


class BodyTooLarge(ValueError):
    """The request body is over the gateway's limit."""


class _BodyClock:
    """A body's deadline: `grace_s`, plus one second per `rate` bytes received."""

    def __init__(self, grace_s: float, rate: float) -> None:
        self.start, self.grace_s, self.rate, self.got = time.monotonic(), grace_s, rate, 0

    def remaining(self) -> float:
        left = self.start + self.grace_s + self.got / self.rate - time.monotonic()
        if left <= 0:
            raise Refusal(408, "body_timeout", f"body slower than {self.rate:g} bytes/s")
        return left


class SecurityHttpGateway:
    """An asyncio HTTP/1.1 server on 127.0.0.1 that hands each POSTed body to `sink` unchanged.

    Binds in the constructor (a taken port fails there); `start` serves in a background thread,
    `serve_forever` in the calling one, `stop` ends either.
    """

    def __init__(
        self,
        sink: EnvelopeSink,
        host: str = "127.0.0.1",
        port: int = 0,
        gateway_id: str = "http-gw-1",
        max_body_bytes: int = MAX_BODY_BYTES,
        limits: HttpLimits | None = None,
        tokens: TokenStore | None = None,
    ) -> None:
        self.sink, self.gateway_id, self.max_body_bytes = sink, gateway_id, max_body_bytes
        self.limits = limits or HttpLimits()
        self.tokens = tokens if tokens is not None and len(tokens) else None
        self.counts: Counter[str] = Counter()  # answers and refusals by reason, for the metrics exporter
        self.received = 0
        self.rejected = 0
        self._sock = socket.create_server((host, port), backlog=self.limits.backlog)
        self._executor = ThreadPoolExecutor(self.limits.sink_workers, thread_name_prefix="security-gw-sink")
        self._connections: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def bound_port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def open(self) -> bool:
        """True when no device tokens are configured: every post is accepted."""
        return self.tokens is None

    @property
    def connections_open(self) -> int:
        return len(self._connections)

    def start(self) -> None:
        """Serve in a background thread (for tests and for embedding in the CLI)."""
        self._thread = threading.Thread(target=self.serve_forever, name="security-gw", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the HTTP gateway did not start within 10 s")

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop` is called from another one (or Ctrl-C)."""
        asyncio.run(self._main())

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (Ctrl-C)
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._sock.close()

    def body_limit(self, source: SourceFormat) -> int:
        """The largest body a route takes."""
        return min(self.max_body_bytes, ESCORT_MAX_BODY_BYTES) if source == "bus-json" else self.max_body_bytes

    def envelope(self, source: SourceFormat, body: bytes, content_type: str | None) -> RawEnvelope:
        """The raw envelope of one request body, exactly as received."""
        domain = DOMAINS.get(source, "security")
        return RawEnvelope.of_bytes(
            body,
            domain=domain,
            source=source,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            received_at=datetime.now(UTC),
            gateway=self.gateway_id,
            # A camera's id is inside its XML; the pipeline finds it when decoding. An escort
            # confirmation names its terminal: the key keeps it with the bus's frames.
            key=escort_terminal(body) if domain == "bus" else None,
        )

    def refuse(self, reason: str, peer: str, detail: str) -> None:
        """Count a refusal and log it: one INFO line, repeats from one address folded into the next line."""
        self.counts[reason] += 1
        self.rejected += 1
        address = peer.rsplit(":", 1)[0]
        now = time.monotonic()
        last, folded = self._logged.get((reason, address), (-LOG_REPEAT_S, 0))
        if now - last < LOG_REPEAT_S:
            self._logged[(reason, address)] = (last, folded + 1)
            return
        if len(self._logged) > 50_000:
            self._logged.clear()
        self._logged[(reason, address)] = (now, 0)
        more = f" (and {folded} more from {address} since the last line)" if folded else ""
        log.info("%s refused %s: %s [%s]%s", self.gateway_id, peer, detail, reason, more)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._serve, sock=self._sock, backlog=self.limits.backlog, limit=self.limits.max_head_bytes
        )
        mode = "open: no device tokens configured" if self.open else f"{len(self.tokens or ())} device tokens"
        log.info("%s serving on %s (%s)", self.gateway_id, self._sock.getsockname(), mode)
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "unknown"
        if len(self._connections) >= self.limits.max_connections:
            self.refuse("connection_cap", peer, f"{len(self._connections)} connections open, the gateway's cap")
            await self._say_busy(reader, writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._connection(reader, writer, peer)
        except (_ClientGone, ConnectionError, asyncio.IncompleteReadError) as exc:
            self.counts["client_gone"] += 1
            log.debug("%s: client %s hung up (%s)", self.gateway_id, peer, type(exc).__name__)
        except asyncio.CancelledError:
            log.debug("closing %s: gateway stopping", peer)
        except Exception:
            log.exception("unexpected error serving %s; closing its connection", peer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _say_busy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A 503 at once, without reading the request: then drop what it sent so it sees the 503, not a reset."""
        with contextlib.suppress(Exception):
            writer.write(_BUSY)
            writer.write_eof()
            async with asyncio.timeout(0.5):
                while await reader.read(65536):
                    pass
        writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        served = 0
        while True:
            try:
                async with asyncio.timeout(self.limits.header_timeout_s):
                    head = await reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                if reader._buffer:  # type: ignore[attr-defined]  # a head begun and not finished: slowloris
                    self.refuse("header_timeout", peer, f"no complete head within {self.limits.header_timeout_s:g} s")
                    await self._answer(writer, 408, b"request head too slow\n", close=True)
                elif served:
                    self.counts["keepalive_closed"] += 1  # an idle keep-alive connection: closed quietly
                else:
                    self.refuse("idle_timeout", peer, f"no request within {self.limits.header_timeout_s:g} s")
                return
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise
                return  # the client closed between requests
            except asyncio.LimitOverrunError:
                self.refuse("head_too_large", peer, f"request head over {self.limits.max_head_bytes} bytes")
                await self._answer(writer, 431, b"request head too large\n", close=True)
                return
            try:
                keep_alive = await self._request(head, reader, writer, peer)
            except Refusal as refusal:
                self.refuse(refusal.reason, peer, str(refusal))
                if refusal.status == 413:
                    await self._drain(reader)
                await self._answer(writer, refusal.status, (str(refusal) + "\n").encode("utf-8"), close=True)
                return
            if not keep_alive:
                return
            served += 1

    async def _request(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> bool:
        """Serve one request; True to keep the connection for the next."""
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise Refusal(400, "bad_request", "malformed request line")
        method, target, version = parts
        if len(lines) - 1 > self.limits.max_headers:
            raise Refusal(431, "head_too_large", f"over {self.limits.max_headers} header fields")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or line[:1] in b" \t":
                raise Refusal(400, "bad_request", "malformed header field")
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1").strip())

        def header(name: str) -> str | None:
            values = headers.get(name)
            return values[0] if values else None

        connection = (header("connection") or "").lower()
        keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        url = urlsplit(target)
        source = ROUTES.get(url.path.rstrip("/") or "/")
        if method != "POST":
            if source is None:
                raise Refusal(404, "unknown_path", "unknown path; post to /isapi, /gb28181, /alarmbox or /escort")
            raise Refusal(405, "method", "only POST is accepted")
        if source is None:
            raise Refusal(404, "unknown_path", "unknown path; post to /isapi, /gb28181, /alarmbox or /escort")
        device = self._authenticate(header("authorization"), url.query)
        limit = self.body_limit(source)
        transfer = header("transfer-encoding")
        lengths = headers.get("content-length", [])
        if transfer is not None:
            if lengths:
                raise Refusal(400, "bad_request", "both Transfer-Encoding and Content-Length")
            if transfer.strip().lower() != "chunked":
                raise Refusal(501, "bad_request", f"Transfer-Encoding {transfer[:20]!r} is not supported")
        elif not lengths:
            raise Refusal(411, "length_required", "Content-Length is required")
        elif len(set(lengths)) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 12:
            raise Refusal(400, "bad_request", f"Content-Length is not one number (got {lengths[0][:20]!r})")
        elif int(lengths[0]) > limit:
            raise Refusal(413, "too_large", f"body over {limit} bytes")
        if (header("expect") or "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        clock = _BodyClock(self.limits.body_grace_s, self.limits.min_body_rate)
        if transfer is not None:
            body = await self._read_chunked(reader, limit, clock)
        else:
            body = await self._read(reader, int(lengths[0]), clock)
        if self._pending >= self.limits.max_pending:
            raise Refusal(503, "busy", f"{self._pending} bodies waiting for the store; retry")
        self._pending += 1
        try:
            envelope = self.envelope(source, body, header("content-type"))
            await asyncio.get_running_loop().run_in_executor(self._executor, self.sink, envelope)
        except Exception as exc:  # the body is not stored: ask the device to send it again
            self.counts["sink_failed"] += 1
            self.rejected += 1
            log.error("HTTP gateway: the sink refused a %s body of %d bytes: %s", source, len(body), exc)
            await self._answer(writer, 503, b"could not store the body; retry\n", close=True)
            return False
        finally:
            self._pending -= 1
        self.received += 1
        self.counts["accepted"] += 1
        if device is not None:
            log.debug("%s: %d bytes from %s (%s)", self.gateway_id, len(body), device, source)
        await self._answer(writer, 200, b"", close=not keep_alive)
        return keep_alive

    def _authenticate(self, authorization: str | None, query: str) -> str | None:
        """The device's name (None when the gateway runs open); a missing or unknown token is a 401."""
        if self.tokens is None:
            return None
        token = None
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        elif query:
            values = parse_qs(query).get("token")
            token = values[0] if values else None
        device = self.tokens.verify(token)
        if device is None:  # the token itself is never logged
            raise Refusal(401, "unauthorized", "a valid device token is required" if token else "no device token")
        return device

    async def _read(self, reader: asyncio.StreamReader, length: int, clock: _BodyClock) -> bytes:
        chunks: list[bytes] = []
        left = length
        while left > 0:
            async with asyncio.timeout(clock.remaining()):
                data = await reader.read(min(left, 65536))
            if not data:
                got = length - left
                raise Refusal(400, "short_body", f"body of {got} bytes is shorter than its Content-Length {length}")
            clock.got += len(data)
            left -= len(data)
            chunks.append(data)
        return b"".join(chunks)

    async def _read_line(self, reader: asyncio.StreamReader, clock: _BodyClock) -> bytes:
        try:
            async with asyncio.timeout(clock.remaining()):
                line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise Refusal(400, "short_body", "chunked body ended before its last chunk") from None
        except asyncio.LimitOverrunError:
            raise Refusal(400, "bad_chunk", "chunk line too long") from None
        clock.got += len(line)
        return line

    async def _read_chunked(self, reader: asyncio.StreamReader, limit: int, clock: _BodyClock) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = (await self._read_line(reader, clock)).split(b";", 1)[0].strip()
            if _HEX.fullmatch(size_text) is None:
                raise Refusal(400, "bad_chunk", f"malformed chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                for _ in range(self.limits.max_headers):  # trailers: nothing we need
                    if (await self._read_line(reader, clock)).strip() == b"":
                        return b"".join(parts)
                raise Refusal(400, "bad_chunk", "too many trailer fields")
            total += size
            if total > limit:
                raise Refusal(413, "too_large", f"chunked body over {limit} bytes")
            parts.append(await self._read(reader, size, clock))
            if (await self._read_line(reader, clock)).strip() != b"":
                raise Refusal(400, "bad_chunk", "chunk data longer than its size")

    async def _drain(self, reader: asyncio.StreamReader) -> None:
        """Read (and drop) a bounded part of a refused body: closing on unread data sends a reset."""
        left = DRAIN_BYTES
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                while left > 0 and (got := await reader.read(min(left, 65536))):
                    left -= len(got)

    async def _answer(self, writer: asyncio.StreamWriter, status: int, body: bytes, close: bool) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nServer: safecampus-gateway\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        )
        if status == 401:
            head += 'WWW-Authenticate: Bearer realm="safecampus"\r\n'
        if status == 503:
            head += "Retry-After: 1\r\n"
        if close:
            head += "Connection: close\r\n"
        writer.write(head.encode("latin-1") + b"\r\n" + body)
        try:
            async with asyncio.timeout(self.limits.write_timeout_s):
                await writer.drain()
        except TimeoutError:
            raise _ClientGone("not reading its answer") from None


def escort_terminal(body: bytes) -> str | None:
    """The terminal id an escort confirmation names, or None (the pipeline then refuses the body)."""
    try:
        form = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    terminal = form.get("terminal_id") if isinstance(form, dict) else None
    return terminal if isinstance(terminal, str) and terminal else None
