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
    /counter                               security  counter (pick-up centres' counters and barriers)
    /escort                                bus       bus-json
    /inspection                            fire      inspection-json

An escort confirmation is the escort app's JSON form (connectors/bus/escort.py), e.g.
`{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}`;
its envelope is keyed by the terminal id when the body names one (so it lands on the bus's
raw.bus partition, next to its JT/T 808 frames); the bus pipeline validates it. An inspection
app posts a childcare fire-safety inspection form (schemas/fire.py) to /inspection, keyed by the
institution id it names; the fire pipeline validates it (a bad form goes to the DLQ).

Answers: 200 once the sink has the body, 400 for a malformed request (a bad chunk size, a body
shorter than its Content-Length: never stored), 401 without a valid device token (when tokens
are configured), 404 for other paths, 405 for other methods, 408 when the head or the body is
too slow, 411 without a length, 413 over the route's limit (`MAX_BODY_BYTES`,
`ESCORT_MAX_BODY_BYTES` for /escort, `INSPECTION_MAX_BODY_BYTES` for /inspection; chunked bodies
too), 431 for an oversized head, 503 when the gateway is full or the sink fails (the device retries).

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
import socket
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from safecampus.connectors.guard import RefusalLog
from safecampus.connectors.security.http_wire import (
    BodyClock,
    ClientGone,
    HttpLimits,
    Refusal,
    answer,
    drain,
    parse_head,
    read_chunked,
    read_exactly,
    read_head,
    request_token,
    say_busy,
)
from safecampus.connectors.security.tokens import TokenStore
from safecampus.schemas.common import Domain
from safecampus.schemas.envelope import RawEnvelope, SourceFormat

log = logging.getLogger(__name__)

EnvelopeSink = Callable[[RawEnvelope], None]

MAX_BODY_BYTES = 16 * 1024 * 1024  # an ISAPI post with a few JPEG snapshots stays far below 16 MiB
ESCORT_MAX_BODY_BYTES = 16 * 1024  # an escort confirmation is about 100 bytes of JSON
COUNTER_MAX_BODY_BYTES = 16 * 1024  # a counter reading too (connectors/security/counter.py)
INSPECTION_MAX_BODY_BYTES = 256 * 1024  # a form of 200 findings at most (pipelines/domain.py MAX_JSON_BYTES)
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # RFC 9110 §8.3: what a body without a type is
ROUTES: dict[str, SourceFormat] = {
    "/": "isapi",
    "/isapi": "isapi",
    "/ISAPI/Event/notification/alert": "isapi",
    "/gb28181": "gb28181",
    "/alarmbox": "alarmbox",
    "/counter": "counter",
    "/escort": "bus-json",
    "/inspection": "inspection-json",
}
DOMAINS: dict[SourceFormat, Domain] = {"bus-json": "bus", "inspection-json": "fire"}  # else a security device's
# A camera's id is inside its XML (the pipeline finds it); an escort confirmation names its terminal, an
# inspection its institution: the key keeps them on the partition of the bus's frames, the institution's forms.
KEY_FIELDS: dict[SourceFormat, str] = {
    "bus-json": "terminal_id",
    "inspection-json": "institution_id",
    "counter": "device_id",  # a centre's counts stay on its device's partition, in one detector
}
BODY_LIMITS: dict[SourceFormat, int] = {
    "bus-json": ESCORT_MAX_BODY_BYTES,
    "inspection-json": INSPECTION_MAX_BODY_BYTES,
    "counter": COUNTER_MAX_BODY_BYTES,
}


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
        self._refusals = RefusalLog(gateway_id, log)
        self.counts: Counter[str] = self._refusals.counts  # answers and refusals by reason, for metrics
        self.received = 0
        self.rejected = 0
        self._sock = socket.create_server((host, port), backlog=self.limits.backlog)
        self._executor = ThreadPoolExecutor(self.limits.sink_workers, thread_name_prefix="security-gw-sink")
        self._connections: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def bound_port(self) -> int:
        return int(self._sock.getsockname()[1])

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

    def body_limit(self, source: SourceFormat) -> int:  # the largest body a route takes
        return min(self.max_body_bytes, BODY_LIMITS.get(source, self.max_body_bytes))

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
            key=form_key(body, KEY_FIELDS[source]) if source in KEY_FIELDS else None,
        )

    def refuse(self, reason: str, peer: str, detail: str) -> None:
        """Count a refusal and log it once (connectors/guard.py)."""
        self.rejected += 1
        self._refusals.refuse(reason, peer, detail)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._serve, sock=self._sock, backlog=self.limits.backlog, limit=self.limits.max_head_bytes
        )
        mode = "open: no device tokens configured" if self.tokens is None else f"{len(self.tokens or ())} device tokens"
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
            await say_busy(reader, writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._connection(reader, writer, peer)
        except (ClientGone, ConnectionError, asyncio.IncompleteReadError) as exc:
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

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        served = 0
        while True:
            try:
                head = await read_head(reader, self.limits.header_timeout_s, idle_is_refused=not served)
                if head is None:
                    self.counts["keepalive_closed" if served else "client_closed"] += 1
                    return
                if not await self._request(head, reader, writer, peer):
                    return
            except Refusal as refusal:
                self.refuse(refusal.reason, peer, str(refusal))
                if refusal.status == 413:
                    await drain(reader)
                await answer(
                    writer, refusal.status, (str(refusal) + "\n").encode("utf-8"), True, self.limits.write_timeout_s
                )
                return
            served += 1

    async def _request(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> bool:
        """Serve one request; True to keep the connection for the next."""
        request = parse_head(head, self.limits.max_headers)
        url = request.url
        source = ROUTES.get(url.path.rstrip("/") or "/")
        if source is None:
            raise Refusal(
                404, "unknown_path", "unknown path; post to /isapi, /gb28181, /alarmbox, /escort or /inspection"
            )
        if request.method != "POST":
            raise Refusal(405, "method", "only POST is accepted")
        device = self._authenticate(request.header("authorization"), url.query)
        limit = self.body_limit(source)
        length = request.body_length(limit)
        if (request.header("expect") or "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        clock = BodyClock(self.limits.body_grace_s, self.limits.min_body_rate)
        if length is None:
            body = await read_chunked(reader, limit, clock, self.limits.max_headers)
        else:
            body = await read_exactly(reader, length, clock)
        if not body:  # nothing a device sends is empty: storing it would only put a blank line in the DLQ
            raise Refusal(400, "empty_body", "the body is empty")
        if self._pending >= self.limits.max_pending:
            raise Refusal(503, "busy", f"{self._pending} bodies waiting for the store; retry")
        self._pending += 1
        try:
            envelope = self.envelope(source, body, request.header("content-type"))
            await asyncio.get_running_loop().run_in_executor(self._executor, self.sink, envelope)
        except Exception as exc:  # the body is not stored: ask the device to send it again
            self.counts["sink_failed"] += 1
            self.rejected += 1
            log.error("HTTP gateway: the sink refused a %s body of %d bytes: %s", source, len(body), exc)
            await answer(writer, 503, b"could not store the body; retry\n", True, self.limits.write_timeout_s)
            return False
        finally:
            self._pending -= 1
        self.received += 1
        self.counts["accepted"] += 1
        if device is not None:
            log.debug("%s: %d bytes from %s (%s)", self.gateway_id, len(body), device, source)
        await answer(writer, 200, b"", not request.keep_alive, self.limits.write_timeout_s)
        return request.keep_alive

    def _authenticate(self, authorization: str | None, query: str) -> str | None:
        """The device's name (None when the gateway runs open); a missing or unknown token is a 401."""
        if self.tokens is None:
            return None
        token = request_token(authorization, query)
        device = self.tokens.verify(token)
        if device is None:  # the token itself is never logged
            raise Refusal(401, "unauthorized", "a valid device token is required" if token else "no device token")
        return device


def escort_terminal(body: bytes) -> str | None:
    """The terminal id an escort confirmation names, or None (the pipeline then refuses the body)."""
    return form_key(body, "terminal_id")


def form_key(body: bytes, field: str) -> str | None:
    """The id a JSON form names in `field` (an escort's terminal, an inspection's institution), or None."""
    try:
        form = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    key = form.get(field) if isinstance(form, dict) else None
    return key if isinstance(key, str) and 0 < len(key) <= 64 else None
