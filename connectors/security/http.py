"""HTTP gateway for campus security devices: stores every POSTed body unchanged as a raw envelope.

Hikvision cameras post ISAPI alarm-server notifications (XML, or multipart/form-data with an
XML part and pictures), GB/T 28181 platforms relay Notify bodies, alarm boxes post JSON. The
gateway decodes nothing: each body becomes a `RawEnvelope` (source by path, the request's
Content-Type, receive time in UTC, gateway id, key None) handed to a sink — e.g. a Kafka
producer for raw.security — before the device gets its answer, so raw is stored first.

    path                                   source
    /, /isapi, /ISAPI/Event/notification/alert   isapi
    /gb28181                               gb28181
    /alarmbox                              alarmbox

Answers: 200 once the sink has the body, 404 for other paths, 405 for other methods, 411
without a length, 413 over `MAX_BODY_BYTES`, 503 when the sink fails (the device retries).

    gateway = SecurityHttpGateway(producer.send_envelope, port=0)
    gateway.start()          # serves in a background thread
    print(gateway.bound_port)
    gateway.stop()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from safecampus.schemas.envelope import RawEnvelope, SourceFormat

log = logging.getLogger(__name__)

EnvelopeSink = Callable[[RawEnvelope], None]

MAX_BODY_BYTES = 16 * 1024 * 1024  # an ISAPI post with a few JPEG snapshots stays far below 16 MiB
DRAIN_BYTES = 1024 * 1024  # read this much of a refused body so the client sees the 413, not a reset
READ_TIMEOUT_S = 15.0  # a stalled client must not hold a worker thread forever
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # RFC 9110 §8.3: what a body without a type is
ROUTES: dict[str, SourceFormat] = {
    "/": "isapi",
    "/isapi": "isapi",
    "/ISAPI/Event/notification/alert": "isapi",
    "/gb28181": "gb28181",
    "/alarmbox": "alarmbox",
}


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

    def envelope(self, source: SourceFormat, body: bytes, content_type: str | None) -> RawEnvelope:
        """The raw envelope of one request body, exactly as received."""
        return RawEnvelope.of_bytes(
            body,
            domain="security",
            source=source,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            received_at=datetime.now(UTC),
            gateway=self.gateway_id,
            key=None,  # the device id is inside the body; the pipeline finds it when decoding
        )

    def _count(self, accepted: bool) -> None:
        with self._lock:
            if accepted:
                self.received += 1
            else:
                self.rejected += 1


def _handler_for(gateway: SecurityHttpGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # cameras keep the connection open between alarms
        timeout = READ_TIMEOUT_S
        server_version = "safecampus-gateway"

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's naming)
            source = ROUTES.get(urlsplit(self.path).path.rstrip("/") or "/")
            if source is None:
                self._reject(404, "unknown path; post to /isapi, /gb28181 or /alarmbox")
                return
            try:
                body = self._read_body()
            except BodyTooLarge:
                self._drain()
                self._reject(413, f"body over {gateway.max_body_bytes} bytes")
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
                log.exception("security gateway: the sink refused a %s body of %d bytes", source, len(body))
                self._reject(503, "could not store the body; retry")
                return
            gateway._count(True)
            self._answer(200, b"")

        def do_GET(self) -> None:  # noqa: N802
            known = (urlsplit(self.path).path.rstrip("/") or "/") in ROUTES
            self._reject(405 if known else 404, "only POST is accepted")

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                raise ValueError("Content-Length is required")
            if not length_text.strip().isdigit():
                raise ValueError(f"Content-Length is not a number (got {length_text[:20]!r})")
            length = int(length_text)
            if length > gateway.max_body_bytes:
                raise BodyTooLarge()
            return self.rfile.read(length)

        def _read_chunked(self) -> bytes:
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
                if total > gateway.max_body_bytes:
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
