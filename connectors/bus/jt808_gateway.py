"""JT/T 808 TCP gateway: accepts bus terminals, hands every raw frame to a sink, answers them.

Each frame is passed to the sink unchanged (even when it cannot be decoded), then decoded
and answered the way terminals expect: 0x8100 to a registration, 0x8001 to everything else.

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
from collections.abc import Awaitable, Callable

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import general_reply, registration_reply
from safecampus.connectors.bus.jt808_frame import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_LOCATION_BATCH,
    MSG_REGISTER,
    MSG_UNREGISTER,
    RESULT_MESSAGE_ERROR,
    RESULT_SUCCESS,
    RESULT_UNSUPPORTED,
    Jt808Error,
    SerialCounter,
    split_frames,
)
from safecampus.connectors.bus.jt808_messages import Authentication, Jt808Message

log = logging.getLogger(__name__)

FrameSink = Callable[[bytes, str], Awaitable[None]]

MAX_BUFFER_BYTES = 64 * 1024  # a legal frame is under 2.1 KiB even fully escaped; more is not JT/T 808
_GENERAL_REPLY_TO = frozenset({MSG_AUTH, MSG_HEARTBEAT, MSG_LOCATION, MSG_LOCATION_BATCH, MSG_UNREGISTER})


class Jt808Gateway:
    """An asyncio TCP server for JT/T 808 terminals; counters feed the gateway's metrics.

    The gateway accepts every registration and authentication: whether a bus is allowed on the
    road is checked downstream against the operator registry, where the raw frames end up.
    """

    def __init__(
        self,
        sink: FrameSink,
        host: str = "127.0.0.1",
        port: int = 7808,
        gateway_id: str = "jt808-gw",
        max_buffer_bytes: int = MAX_BUFFER_BYTES,
    ) -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self.gateway_id = gateway_id
        self.max_buffer_bytes = max_buffer_bytes
        self.frames_received = 0
        self.bad_frames = 0
        self.sink_failures = 0
        self.connections_total = 0
        self.connections_dropped = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

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
        log.info("%s listening for JT/T 808 terminals on %s:%d", self.gateway_id, self.host, self.bound_port)

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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each connection in its own task
        self._connections.add(task)
        self.connections_total += 1
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "unknown"
        try:
            await self._connection(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("terminal %s disconnected: %s", peer, exc)
        except asyncio.CancelledError:
            # stop() cancels us; ending quietly avoids Python 3.11's stream callback logging an error
            log.debug("closing terminal %s: gateway stopping", peer)
        except Exception:
            # one terminal's failure must never reach the server or the other terminals
            log.exception("unexpected error serving terminal %s; closing its connection", peer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        serials = SerialCounter()  # the platform's serial numbers are per connection
        buffer = b""
        while data := await reader.read(4096):
            frames, buffer = split_frames(buffer + data)
            if len(buffer) > self.max_buffer_bytes:
                self.connections_dropped += 1
                log.warning("terminal %s sent %d bytes without a frame end; dropping it", peer, len(buffer))
                return
            for frame in frames:
                self.frames_received += 1
                try:
                    await self.sink(frame, peer)
                except Exception:
                    # unstored data must not be acknowledged: the terminal resends after we hang up
                    self.sink_failures += 1
                    self.connections_dropped += 1
                    log.exception("could not store a frame from %s; closing so the terminal resends", peer)
                    return
                reply = self._reply(frame, peer, serials)
                if reply:
                    writer.write(reply)
            await writer.drain()

    def _reply(self, frame: bytes, peer: str, serials: SerialCounter) -> bytes | None:
        """The answer to one frame, or None when the terminal expects none."""
        try:
            msg = decode_frame(frame)
        except Jt808Error as exc:
            self.bad_frames += 1
            log.warning("bad JT/T 808 frame from %s: %s", peer, exc)
            if exc.header is None:
                return None  # no readable header: nobody to address an answer to
            result = RESULT_UNSUPPORTED if exc.kind == "unknown_message" else RESULT_MESSAGE_ERROR
            return general_reply(exc.header, result, serials)
        if msg.message_id == MSG_REGISTER:
            return registration_reply(msg, self.auth_code(msg.phone), serials=serials)
        if msg.message_id == MSG_AUTH:
            self._check_auth(msg, peer)
        if msg.message_id in _GENERAL_REPLY_TO:
            return general_reply(msg, RESULT_SUCCESS, serials)
        return None

    def _check_auth(self, msg: Jt808Message, peer: str) -> None:
        if isinstance(msg.payload, Authentication) and msg.payload.token != self.auth_code(msg.phone):
            # accepted anyway: terminals keep old codes across platform moves; the registry check flags them
            log.info("terminal %s (%s) authenticated with a code this gateway did not issue", msg.phone, peer)
