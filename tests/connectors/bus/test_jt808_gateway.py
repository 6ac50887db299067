"""JT/T 808 gateway over real TCP on 127.0.0.1: many terminals at once, bad frames, misbehaving peers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import encode_auth_body, encode_location_body, encode_registration_body
from safecampus.connectors.bus.jt808_frame import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_PLATFORM_REPLY,
    MSG_REGISTER,
    MSG_REGISTER_REPLY,
    RESULT_MESSAGE_ERROR,
    RESULT_SUCCESS,
    RESULT_UNSUPPORTED,
    Jt808Version,
    encode_frame,
    split_frames,
)
from safecampus.connectors.bus.jt808_gateway import Jt808Gateway
from safecampus.connectors.bus.jt808_messages import (
    Authentication,
    GeneralReply,
    Jt808Message,
    LocationReport,
    Registration,
    RegistrationReply,
)
from safecampus.schemas.common import SHANGHAI

TERMINALS = 200
TIMEOUT_S = 5


class RecordingSink:
    """Keeps every frame the gateway stored, per peer, in arrival order."""

    def __init__(self) -> None:
        self.frames: dict[str, list[bytes]] = defaultdict(list)

    async def __call__(self, frame: bytes, peer: str) -> None:
        self.frames[peer].append(frame)


class Terminal:
    """A scripted bus terminal: sends frames, reads the platform's replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        host, port = writer.get_extra_info("sockname")[:2]
        self.peer = f"{host}:{port}"
        self.sent: list[bytes] = []
        self._pending: list[bytes] = []
        self._buffer = b""

    @classmethod
    async def connect(cls, port: int) -> Terminal:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, *frames: bytes, chunk: int | None = None) -> None:
        self.sent += frames
        data = b"".join(frames)
        step = chunk or len(data)
        for i in range(0, len(data), step):  # chunked writes exercise partial frames at the gateway
            self.writer.write(data[i : i + step])
            await self.writer.drain()

    async def reply(self) -> Jt808Message:
        while not self._pending:
            data = await asyncio.wait_for(self.reader.read(4096), TIMEOUT_S)
            assert data, "the gateway closed the connection"
            frames, self._buffer = split_frames(self._buffer + data)
            self._pending += frames
        return decode_frame(self._pending.pop(0))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _phone(i: int, version: Jt808Version) -> str:
    return f"{13800000000 + i:0{12 if version == '2013' else 20}d}"


def _fix(i: int, n: int) -> LocationReport:
    start = datetime(2026, 9, 1, 7, 0, tzinfo=SHANGHAI)
    return LocationReport(
        lat_deg=32.0 + i / 1000,
        lon_deg=118.8 + n / 1000,
        time=start + timedelta(seconds=15 * n),
        speed_kmh=30.5,
    )


def _assert_general_reply(msg: Jt808Message, serial: int, message_id: int, result: int = RESULT_SUCCESS) -> None:
    assert msg.message_id == MSG_PLATFORM_REPLY
    assert msg.payload == GeneralReply(serial, message_id, result)


async def _run_terminal(i: int, port: int, gateway: Jt808Gateway) -> Terminal:
    version: Jt808Version = "2019" if i % 2 else "2013"
    phone = _phone(i, version)
    t = await Terminal.connect(port)

    def frame(message_id: int, serial: int, body: bytes) -> bytes:
        return encode_frame(message_id, phone, serial, body, version)

    registration = Registration(32, 100, "70111", "BSJ-A6", f"T{i:06d}", 2, f"苏A{i:05d}")
    await t.send(frame(MSG_REGISTER, 0, encode_registration_body(registration, version)), chunk=7)
    reply = await t.reply()
    assert (reply.message_id, reply.version, reply.phone, reply.serial) == (
        MSG_REGISTER_REPLY,
        version,
        phone,
        0,
    )
    assert isinstance(reply.payload, RegistrationReply) and reply.payload.reply_serial == 0
    assert reply.payload.result == 0 and reply.payload.auth_code == gateway.auth_code(phone)

    auth = Authentication(reply.payload.auth_code, "86123456789" + f"{i:04d}", "V1.0")
    await t.send(frame(MSG_AUTH, 1, encode_auth_body(auth, version)))
    reply = await t.reply()
    assert reply.serial == 1
    _assert_general_reply(reply, 1, MSG_AUTH)

    # five fixes in one write: the gateway must split them and answer each
    await t.send(*(frame(MSG_LOCATION, 2 + n, encode_location_body(_fix(i, n))) for n in range(5)))
    for n in range(5):
        reply = await t.reply()
        assert (reply.serial, reply.phone, reply.version) == (2 + n, phone, version)
        _assert_general_reply(reply, 2 + n, MSG_LOCATION)

    await t.send(frame(MSG_HEARTBEAT, 7, b""))
    reply = await t.reply()
    assert reply.serial == 7
    _assert_general_reply(reply, 7, MSG_HEARTBEAT)
    return t


async def _run_bad_terminal(port: int) -> Terminal:
    phone = _phone(999, "2013")
    t = await Terminal.connect(port)
    bad = bytearray(encode_frame(MSG_LOCATION, phone, 40, encode_location_body(_fix(999, 0))))
    bad[-2] ^= 0x55  # break the checksum, header still readable
    await t.send(b"\x00\x01garbage\xff", bytes(bad), b"\x7e\x01\x02\x7e", encode_frame(0x0F0F, phone, 41, b""))
    _assert_general_reply(await t.reply(), 40, MSG_LOCATION, RESULT_MESSAGE_ERROR)
    _assert_general_reply(await t.reply(), 41, 0x0F0F, RESULT_UNSUPPORTED)  # the 3-byte frame got no answer
    await t.send(encode_frame(MSG_HEARTBEAT, phone, 42, b""))
    _assert_general_reply(await t.reply(), 42, MSG_HEARTBEAT)  # still served after its bad frames
    t.sent = [bytes(bad), b"\x7e\x01\x02\x7e", t.sent[-2], t.sent[-1]]  # garbage outside frames is not stored
    return t


def test_200_terminals_register_authenticate_report_and_one_bad_terminal() -> None:
    async def scenario() -> None:
        sink = RecordingSink()
        gateway = Jt808Gateway(sink, port=0)
        await gateway.start()
        try:
            results = await asyncio.wait_for(
                asyncio.gather(
                    _run_bad_terminal(gateway.bound_port),
                    *(_run_terminal(i, gateway.bound_port, gateway) for i in range(TERMINALS)),
                ),
                timeout=TIMEOUT_S * 2,
            )
            for terminal in results:
                assert sink.frames[terminal.peer] == terminal.sent  # byte for byte, in order
            assert gateway.frames_received == TERMINALS * 8 + 4
            assert gateway.bad_frames == 3
            assert gateway.connections_total == TERMINALS + 1
            await asyncio.gather(*(t.close() for t in results))
        finally:
            await gateway.stop()

    asyncio.run(scenario())


def test_a_start_without_an_end_over_64_kib_drops_only_that_connection() -> None:
    async def scenario() -> None:
        sink = RecordingSink()
        gateway = Jt808Gateway(sink, port=0)
        await gateway.start()
        try:
            flooder = await Terminal.connect(gateway.bound_port)
            good = await Terminal.connect(gateway.bound_port)
            await flooder.send(b"\x7e" + b"\x00" * (65 * 1024))
            assert await asyncio.wait_for(flooder.reader.read(), TIMEOUT_S) == b""  # closed by the gateway
            await good.send(encode_frame(MSG_HEARTBEAT, _phone(1, "2013"), 3, b""))
            _assert_general_reply(await good.reply(), 3, MSG_HEARTBEAT)
            assert gateway.connections_dropped == 1
            assert sink.frames[flooder.peer] == []
            await good.close()
            await flooder.close()
        finally:
            await gateway.stop()

    asyncio.run(scenario())


def test_a_failing_sink_gets_no_acknowledgement_and_a_hang_up() -> None:
    async def failing(frame: bytes, peer: str) -> None:
        raise ConnectionError("Kafka is not reachable")

    async def scenario() -> None:
        gateway = Jt808Gateway(failing, port=0)
        await gateway.start()
        try:
            terminal = await Terminal.connect(gateway.bound_port)
            await terminal.send(encode_frame(MSG_HEARTBEAT, _phone(1, "2013"), 3, b""))
            assert await asyncio.wait_for(terminal.reader.read(), TIMEOUT_S) == b""  # no 0x8001, just closed
            assert gateway.sink_failures == 1
            await terminal.close()
        finally:
            await gateway.stop()

    asyncio.run(scenario())


def test_bound_port_needs_a_started_gateway() -> None:
    gateway = Jt808Gateway(RecordingSink(), port=0)
    try:
        _ = gateway.bound_port
    except RuntimeError as exc:
        assert "call await gateway.start() first" in str(exc)
    else:
        raise AssertionError("bound_port should fail before start()")


def test_stop_closes_open_connections_quietly(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        gateway = Jt808Gateway(RecordingSink(), port=0)
        await gateway.start()
        terminal = await Terminal.connect(gateway.bound_port)
        await terminal.send(encode_frame(MSG_HEARTBEAT, _phone(1, "2019"), 3, b"", "2019") + b"\x7e\x02")
        _assert_general_reply(await terminal.reply(), 3, MSG_HEARTBEAT)
        await gateway.stop()
        assert await asyncio.wait_for(terminal.reader.read(), TIMEOUT_S) == b""
        assert gateway.connections_open == 0
        await terminal.close()

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
