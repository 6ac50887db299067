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

Answers: 200 once the sink has the body, 404 for other paths, 405 for other methods, 411
without a length, 413 over the route's limit (`MAX_BODY_BYTES`, `ESCORT_MAX_BODY_BYTES` for
/escort), 503 when the sink fails (the device retries).

    gateway = SecurityHttpGateway(producer.send_envelope, port=0)
    gateway.start()          # serves in a background thread
    print(gateway.bound_port)
    gateway.stop()
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from safecampus.schemas.common import Domain
from safecampus.schemas.envelope import RawEnvelope, SourceFormat

log = logging.getLogger(__name__)

EnvelopeSink = Callable[[RawEnvelope], None]

MAX_BODY_BYTES = 16 * 1024 * 1024  # an ISAPI post with a few JPEG snapshots stays far below 16 MiB
ESCORT_MAX_BODY_BYTES = 16 * 1024  # an escort confirmation is about 100 bytes of JSON
DRAIN_BYTES = 1024 * 1024  # read this much of a refused body so the client sees the 413, not a reset
READ_TIMEOUT_S = 15.0  # a stalled client must not hold a worker thread forever
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # RFC 9110 §8.3: what a body without a type is
ROUTES: dict[str, SourceFormat] = {
    "/": "isapi",
    "/isapi": "isapi",
    "/ISAPI/Event/notification/alert": "isapi",
    "/gb28181": "gb28181",
    "/alarmbox": "alarmbox",
    "/escort": "bus-json",
}
DOMAINS: dict[SourceFormat, Domain] = {"bus-json": "bus"}  # every other route is a security device's


class BodyTooLarge(ValueError):
    """The request body is over the gateway's limit."""


class SecurityHttpGateway:
    """A threading HTTP server on 127.0.0.1 that hands each POSTed body to `sink` unchanged."""

    def __init__(
        self,
        sink: EnvelopeSink,
        host: str = "127.0.0.1",
        port: int = 0,
        gateway_id: str = "http-gw-1",
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.sink, self.gateway_id, self.max_body_bytes = sink, gateway_id, max_body_bytes
        self.received = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def bound_port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread (for tests and for embedding in the CLI)."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="security-gw", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop` is called from another one."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

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

    def _count(self, accepted: bool) -> None:
        with self._lock:
            if accepted:
                self.received += 1
            else:
                self.rejected += 1


def escort_terminal(body: bytes) -> str | None:
    """The terminal id an escort confirmation names, or None (the pipeline then refuses the body)."""
    try:
        form = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    terminal = form.get("terminal_id") if isinstance(form, dict) else None
    return terminal if isinstance(terminal, str) and terminal else None


def _handler_for(gateway: SecurityHttpGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # cameras keep the connection open between alarms
        timeout = READ_TIMEOUT_S
        server_version = "safecampus-gateway"

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's naming)
            source = ROUTES.get(urlsplit(self.path).path.rstrip("/") or "/")
            if source is None:
                self._reject(404, "unknown path; post to /isapi, /gb28181, /alarmbox or /escort")
                return
            limit = gateway.body_limit(source)
            try:
                body = self._read_body(limit)
            except BodyTooLarge:
                self._drain()
                self._reject(413, f"body over {limit} bytes")
                return
            except ValueError as exc:
                status = 411 if "length" in str(exc) else 400
                self._reject(status, str(exc))
                return
            except (TimeoutError, ConnectionError):
                self.close_connection = True
                gateway._count(False)
                return
            try:
                gateway.sink(gateway.envelope(source, body, self.headers.get("Content-Type")))
            except Exception:  # the body is not stored: ask the device to send it again
                log.exception("HTTP gateway: the sink refused a %s body of %d bytes", source, len(body))
                self._reject(503, "could not store the body; retry")
                return
            gateway._count(True)
            self._answer(200, b"")

        def do_GET(self) -> None:  # noqa: N802
            known = (urlsplit(self.path).path.rstrip("/") or "/") in ROUTES
            self._reject(405 if known else 404, "only POST is accepted")

        def _read_body(self, limit: int) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked(limit)
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                raise ValueError("Content-Length is required")
            if not length_text.strip().isdigit():
                raise ValueError(f"Content-Length is not a number (got {length_text[:20]!r})")
            length = int(length_text)
            if length > limit:
                raise BodyTooLarge()
            return self.rfile.read(length)

        def _read_chunked(self, limit: int) -> bytes:
            parts: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ValueError("malformed chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: nothing we need
                    return b"".join(parts)
                total += size
                if total > limit:
                    raise BodyTooLarge()
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)

        def _drain(self) -> None:
            """Read (and drop) a bounded part of a refused body: closing on unread data sends a reset."""
            length_text = self.headers.get("Content-Length", "")
            left = min(int(length_text), DRAIN_BYTES) if length_text.strip().isdigit() else 0
            try:
                while left > 0 and (got := self.rfile.read(min(left, 65536))):
                    left -= len(got)
            except (TimeoutError, ConnectionError):
                pass

        def _reject(self, status: int, reason: str) -> None:
            gateway._count(False)
            self.close_connection = True  # an unread body would be taken for the next request
            self._answer(status, (reason + "\n").encode("utf-8"))

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("security gateway %s: " + format, self.client_address[0], *args)

    return Handler
