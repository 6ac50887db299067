"""JT/T 808 TCP gateway: accepts bus terminals, hands every raw frame to a sink, answers them.

Each frame is passed to the sink unchanged (even when it cannot be decoded), then decoded
and answered the way terminals expect: 0x8100 to a registration, 0x8001 to everything else.
The pieces of a split message are answered one by one and stored together once all have come
(or what came, when the terminal does not complete it in time: connectors/bus/jt808_packets.py).

The gateway holds against bad clients (`Jt808Limits`): a connection that has not authenticated
(0x0102) within `auth_timeout_s`, that sends no whole frame for `idle_timeout_s`, or that keeps a
frame open for `frame_timeout_s` (a 1 byte/s sender) is closed; connections are capped in all and
per address; frames are rate-limited per terminal and per address, bytes per connection; a frame
longer than any legal one is never stored, and a connection stores at most `max_bad_frames`
undecodable frames. With `known_terminals` (e.g. the registry's `buses_by_terminal`) a terminal
it does not hold is refused as JT/T 808 says (0x8100 result 4, "terminal not in the database";
0x8001 result 1 to anything else), nothing of it stored; without, every terminal is accepted and
counted as unverified. Every refusal is one log line (INFO, no traceback; repeats of a reason
from one address are folded, connectors/guard.py) and one count in `gateway.counts`.

    async def store(frame: bytes, peer: str) -> None: ...  # e.g. produce to raw.bus

    gateway = Jt808Gateway(store, port=0)
    await gateway.start()
    print(gateway.bound_port)
    ...
    await gateway.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field

from safecampus.config import BusRules
from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import general_reply, registration_reply, resend_request
from safecampus.connectors.bus.jt808_frame import (
    MAX_FRAME_BYTES,
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_LOCATION_BATCH,
    MSG_REGISTER,
    MSG_UNREGISTER,
    RESULT_FAILURE,
    RESULT_MESSAGE_ERROR,
    RESULT_SUCCESS,
    RESULT_UNSUPPORTED,
    Jt808Error,
    Jt808Header,
    SerialCounter,
    split_frames,
)
from safecampus.connectors.bus.jt808_messages import Authentication, Jt808Message
from safecampus.connectors.bus.jt808_packets import Jt808Reassembler, ReassemblyLimits
from safecampus.connectors.guard import RateTable, RefusalLog, TokenBucket

log = logging.getLogger(__name__)

FrameSink = Callable[[bytes, str], Awaitable[None]]
Store = Callable[[bytes, "_Connection"], Awaitable[None]]  # the gateway's store: the sink, or hang up
PIECES_DUE = "pieces_due"  # a connection's deadline that is a split message's, not a refusal

# The longest legal frame: 2019 header with package fields (21) + body (1023) + checksum, every byte
# escaped, plus the two delimiters. Anything longer is not JT/T 808 and is never stored.
MAX_BUFFER_BYTES = MAX_FRAME_BYTES  # an unfinished frame longer than this drops the connection
REGISTER_TERMINAL_UNKNOWN = 4  # 0x8100 result: no such terminal in the database (JT/T 808 §8.6)
_GENERAL_REPLY_TO = frozenset({MSG_AUTH, MSG_HEARTBEAT, MSG_LOCATION, MSG_LOCATION_BATCH, MSG_UNREGISTER})


@dataclass(frozen=True)
class Jt808Limits:
    """What one terminal, one address and the whole gateway may use; the defaults suit a city fleet.

    Terminals authenticate right after connecting and heartbeat every 30-60 s (parameter 0x0001);
    a whole fleet behind one carrier NAT shares an address, hence the generous per-address limits.
    """

    auth_timeout_s: float = 60.0
    idle_timeout_s: float = 180.0  # three missed 60 s heartbeats
    frame_timeout_s: float = 10.0  # a frame once started must end within this
    max_connections: int = 20_000
    max_connections_per_address: int = 2_000
    terminal_frames_per_s: float = 20.0  # a terminal reports every few seconds; a backlog comes in bursts
    terminal_burst: int = 400
    address_frames_per_s: float = 2_000.0
    address_burst: int = 10_000
    connection_bytes_per_s: float = 64 * 1024.0
    connection_burst_bytes: int = 256 * 1024
    max_bad_frames: int = 16  # undecodable frames stored per connection (for the DLQ); then it is closed
    pieces: ReassemblyLimits = field(default_factory=lambda: ReassemblyLimits.of(BusRules()))  # split messages


class Refused(Exception):
    """A connection the gateway ends: `reason` is the count's name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _Connection:
    """One terminal connection's state, with its split messages' pieces (`pieces`, answered one by one)."""

    def __init__(self, peer: str, address: str, limits: Jt808Limits, pieces: Jt808Reassembler) -> None:
        self.peer, self.address, self.pieces = peer, address, pieces
        self.serials = SerialCounter()  # the platform's serial numbers are per connection
        self.opened = self.last_frame = time.monotonic()
        self.partial_since: float | None = None
        self.authenticated = False
        self.bad_frames = 0
        self.phones: set[str] = set()
        self.bytes = TokenBucket(limits.connection_bytes_per_s, limits.connection_burst_bytes)

    def deadline(self, limits: Jt808Limits) -> tuple[float, str, str]:
        """The earliest moment this connection must have progressed by, and what it is refused for then."""
        candidates = [
            (self.last_frame + limits.idle_timeout_s, "idle_timeout", f"no frame for {limits.idle_timeout_s:g} s")
        ]
        if not self.authenticated:
            candidates.append(
                (
                    self.opened + limits.auth_timeout_s,
                    "auth_timeout",
                    f"not authenticated within {limits.auth_timeout_s:g} s",
                )
            )
        if self.partial_since is not None:
            candidates.append(
                (
                    self.partial_since + limits.frame_timeout_s,
                    "frame_timeout",
                    f"a frame still open after {limits.frame_timeout_s:g} s",
                )
            )
        if (due := self.pieces.next_due()) is not None:
            candidates.append((due, PIECES_DUE, "a split message's time is up"))  # not a refusal: see pieces_due
        return min(candidates)

    async def piece(self, msg: Jt808Message, frame: bytes, store: Store) -> bytes:
        """Hold one piece, store the message when it is whole; the piece's 0x8001 (after the store)."""
        for data in self.pieces.add(msg.header, frame, time.monotonic()):
            await store(data, self)
        return general_reply(msg, RESULT_SUCCESS, self.serials)

    async def pieces_due(self, writer: asyncio.StreamWriter, store: Store) -> None:
        """Ask for missing pieces (0x8003) and store the split messages whose time ran out, incomplete."""
        resend, given_up = self.pieces.due(time.monotonic())
        for piece, missing in resend:
            writer.write(resend_request(piece, missing, self.serials))
        for data in given_up:
            log.info("a split message from %s timed out incomplete; stored for the DLQ", self.peer)
            await store(data, self)
        await writer.drain()

    async def flush(self, store: Store) -> None:
        """The split messages the terminal left unfinished when the connection ended: stored, for the DLQ."""
        try:
            for data in self.pieces.flush():
                await store(data, self)
        except (Exception, asyncio.CancelledError):  # the sink failed (logged by the store) or we are stopping
            log.info("unfinished split messages of %s could not be stored", self.peer)


class Jt808Gateway:
    """An asyncio TCP server for JT/T 808 terminals; `counts` feed the gateway's metrics."""

    def __init__(
        self,
        sink: FrameSink,
        host: str = "127.0.0.1",
        port: int = 7808,
        gateway_id: str = "jt808-gw",
        max_buffer_bytes: int = MAX_BUFFER_BYTES,
        limits: Jt808Limits | None = None,
        known_terminals: Container[str] | None = None,
    ) -> None:
        self.sink, self.host, self.port, self.gateway_id = sink, host, port, gateway_id
        self.max_buffer_bytes, self.known_terminals = max_buffer_bytes, known_terminals
        self.limits = limits or Jt808Limits()
        self._refusals = RefusalLog(gateway_id, log)
        self.counts: Counter[str] = self._refusals.counts  # refusals and leniencies by reason, for metrics
        self.frames_received = self.bad_frames = self.sink_failures = 0
        self.connections_total = self.connections_dropped = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._per_address: Counter[str] = Counter()
        self._terminal_rates = RateTable(self.limits.terminal_frames_per_s, self.limits.terminal_burst)
        self._address_rates = RateTable(self.limits.address_frames_per_s, self.limits.address_burst)

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port=0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the JT/T 808 gateway is not running; call await gateway.start() first")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections_open(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        # a large backlog: after a network blip a whole fleet reconnects at once
        self._server = await asyncio.start_server(self._serve, self.host, self.port, backlog=1024)
        checked = "registry" if self.known_terminals is not None else "no registry: terminals unverified"
        log.info(
            "%s listening for JT/T 808 terminals on %s:%d (%s)", self.gateway_id, self.host, self.bound_port, checked
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        log.info("%s stopped", self.gateway_id)

    def auth_code(self, phone: str) -> str:
        """The auth code given at registration: stable per terminal, so a re-registration gets the same."""
        return hashlib.sha256(f"{self.gateway_id}:{phone}".encode()).hexdigest()[:16]

    def refuse(self, reason: str, peer: str, detail: str) -> None:
        """Count a refusal and log it once (connectors/guard.py)."""
        self._refusals.refuse(reason, peer, detail)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each connection in its own task
        self.connections_total += 1
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "unknown"
        address = str(peername[0]) if peername else "unknown"
        if len(self._connections) >= self.limits.max_connections:
            self.refuse("connection_cap", peer, f"{len(self._connections)} connections open, the gateway's cap")
            writer.close()
            return
        if self._per_address[address] >= self.limits.max_connections_per_address:
            self.refuse("address_connection_cap", peer, f"{self._per_address[address]} connections from {address}")
            writer.close()
            return
        self._connections.add(task)
        self._per_address[address] += 1
        conn = _Connection(peer, address, self.limits, Jt808Reassembler(self.limits.pieces, self.counts))
        try:
            await self._connection(reader, writer, conn)
        except Refused as exc:
            self.connections_dropped += 1
            self.refuse(exc.reason, peer, str(exc))
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("terminal %s disconnected: %s", peer, exc)
        except asyncio.CancelledError:
            # stop() cancels us; ending quietly avoids Python 3.11's stream callback logging an error
            log.debug("closing terminal %s: gateway stopping", peer)
        except Exception:
            # one terminal's failure must never reach the server or the other terminals
            log.exception("unexpected error serving terminal %s; closing its connection", peer)
        finally:
            await conn.flush(self._store)
            self._connections.discard(task)
            if (left := self._per_address.pop(address) - 1) > 0:
                self._per_address[address] = left
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection) -> None:
        buffer = b""
        while True:
            deadline, reason, detail = conn.deadline(self.limits)
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    data = await reader.read(4096)
            except TimeoutError:
                if reason != PIECES_DUE:
                    raise Refused(reason, detail) from None
                await conn.pieces_due(writer, self._store)
                continue
            if not data:
                return
            if not conn.bytes.take(len(data)):
                raise Refused("read_rate", f"over {self.limits.connection_bytes_per_s:g} bytes/s")
            frames, buffer = split_frames(buffer + data)
            if len(buffer) > self.max_buffer_bytes:
                raise Refused("frame_too_long", f"{len(buffer)} bytes without a frame end")
            conn.partial_since = (conn.partial_since or time.monotonic()) if buffer else None
            for frame in frames:
                reply = await self._frame(frame, conn)
                if reply:
                    writer.write(reply)
            await conn.pieces_due(writer, self._store)

    async def _frame(self, frame: bytes, conn: _Connection) -> bytes | None:
        """Check, store and answer one frame; raises Refused to end the connection."""
        self.frames_received += 1
        conn.last_frame = time.monotonic()
        if len(frame) > MAX_FRAME_BYTES:
            raise Refused("frame_too_long", f"a {len(frame)}-byte frame; the longest legal one is {MAX_FRAME_BYTES}")
        if not self._address_rates.take(conn.address):
            raise Refused("address_rate", f"over {self.limits.address_frames_per_s:g} frames/s from {conn.address}")
        msg: Jt808Message | None = None
        error: Jt808Error | None = None
        try:
            msg = decode_frame(frame)
            header: Jt808Header | None = msg.header
        except Jt808Error as exc:
            error, header = exc, exc.header
        if header is not None:
            if not self._terminal_rates.take(header.phone):
                raise Refused(
                    "terminal_rate", f"terminal {header.phone} over {self.limits.terminal_frames_per_s:g} frames/s"
                )
            refusal = self._check_terminal(header, conn)
            if refusal is not None:
                return refusal
        if error is not None:
            conn.bad_frames += 1
            if conn.bad_frames > self.limits.max_bad_frames:
                raise Refused("bad_frame_limit", f"more than {self.limits.max_bad_frames} undecodable frames")
        if msg is not None and msg.header.package is not None:  # a piece: stored with the others, answered now
            return await conn.piece(msg, frame, self._store)
        await self._store(frame, conn)
        if error is not None:
            self.bad_frames += 1
            self.counts[f"bad_frame_{error.kind}"] += 1
            log.debug("bad JT/T 808 frame from %s: %s", conn.peer, error)
            return _bad_frame_reply(error, conn.serials)
        assert msg is not None
        if msg.message_id == MSG_AUTH:
            if isinstance(msg.payload, Authentication) and msg.payload.token != self.auth_code(msg.phone):
                # accepted anyway: terminals keep old codes across platform moves; the registry check flags them
                self.counts["auth_code_foreign"] += 1
                log.info("terminal %s (%s) authenticated with a code this gateway did not issue", msg.phone, conn.peer)
            conn.authenticated = True
        return _reply(msg, self.auth_code(msg.phone), conn.serials)

    async def _store(self, data: bytes, conn: _Connection) -> None:
        try:
            await self.sink(data, conn.peer)
        except Exception:
            # unstored data must not be acknowledged: the terminal resends after we hang up
            self.sink_failures += 1
            self.connections_dropped += 1
            self.counts["sink_failed"] += 1
            log.exception("could not store a frame from %s; closing so the terminal resends", conn.peer)
            raise ConnectionAbortedError("sink failed") from None

    def _check_terminal(self, header: Jt808Header, conn: _Connection) -> bytes | None:
        """None when the terminal may be served; else the refusal to send (nothing is stored)."""
        if header.phone in conn.phones:
            return None
        if self.known_terminals is None or header.phone in self.known_terminals:
            self.counts["unverified_terminal"] += self.known_terminals is None  # no registry: accepted, counted
            conn.phones.add(header.phone)
            return None
        conn.bad_frames += 1  # a refused frame costs the connection as a bad one does
        if conn.bad_frames > self.limits.max_bad_frames:
            raise Refused("unknown_terminal", f"terminal {header.phone} is not in the registry; closing")
        self.refuse("unknown_terminal", conn.peer, f"terminal {header.phone} is not in the registry")
        if header.message_id == MSG_REGISTER:
            return registration_reply(header, "", REGISTER_TERMINAL_UNKNOWN, conn.serials)
        return general_reply(header, RESULT_FAILURE, conn.serials)


def _bad_frame_reply(error: Jt808Error, serials: SerialCounter) -> bytes | None:
    if error.header is None:
        return None  # no readable header: nobody to address an answer to
    result = RESULT_UNSUPPORTED if error.kind == "unknown_message" else RESULT_MESSAGE_ERROR
    return general_reply(error.header, result, serials)


def _reply(msg: Jt808Message, auth_code: str, serials: SerialCounter) -> bytes | None:
    """The answer to one decoded frame, or None when the terminal expects none."""
    if msg.message_id == MSG_REGISTER:
        return registration_reply(msg, auth_code, serials=serials)
    if msg.message_id in _GENERAL_REPLY_TO:
        return general_reply(msg, RESULT_SUCCESS, serials)
    return None
