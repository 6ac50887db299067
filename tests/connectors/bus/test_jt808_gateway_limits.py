"""The JT/T 808 gateway holds (issue 10): timeouts, caps, rate limits, the registry, bad-frame budgets.

Each test is one fault of issue 10's gateway list, over real TCP on loopback with short limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import encode_auth_body, encode_registration_body
from safecampus.connectors.bus.jt808_frame import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_PLATFORM_REPLY,
    MSG_REGISTER,
    MSG_REGISTER_REPLY,
    RESULT_FAILURE,
    RESULT_SUCCESS,
    encode_frame,
    split_frames,
)
from safecampus.connectors.bus.jt808_gateway import (
    MAX_FRAME_BYTES,
    REGISTER_TERMINAL_UNKNOWN,
    Jt808Gateway,
    Jt808Limits,
)
from safecampus.connectors.bus.jt808_messages import Authentication, GeneralReply, Jt808Message, Registration

KNOWN = "013800000001"
STRANGER = "013899999999"
FAST = Jt808Limits(auth_timeout_s=5, idle_timeout_s=5, frame_timeout_s=5)


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def __call__(self, frame: bytes, peer: str) -> None:
        self.frames.append(frame)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.buffer = reader, writer, b""
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> Jt808Message:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(4096), 5)
            assert data, "the gateway closed the connection"
            frames, self.buffer = split_frames(self.buffer + data)
            self.pending += frames
        return decode_frame(self.pending.pop(0))

    async def closed_within(self, seconds: float) -> float:
        """Seconds until the gateway hangs up (replies read and dropped); fails after `seconds`."""
        started = time.monotonic()
        async with asyncio.timeout(seconds):
            while await self.reader.read(4096):
                pass
        return time.monotonic() - started

    def close(self) -> None:
        self.writer.close()


def heartbeat(phone: str = KNOWN, serial: int = 1) -> bytes:
    return encode_frame(MSG_HEARTBEAT, phone, serial, b"")


def register(phone: str) -> bytes:
    return encode_frame(
        MSG_REGISTER, phone, 0, encode_registration_body(Registration(32, 100, "70111", "BSJ-A6", "T1", 2, "苏A1"))
    )


async def authenticate(client: Client, gateway: Jt808Gateway, phone: str = KNOWN) -> None:
    await client.send(encode_frame(MSG_AUTH, phone, 1, encode_auth_body(Authentication(gateway.auth_code(phone)))))
    assert (await client.reply()).payload == GeneralReply(1, MSG_AUTH, RESULT_SUCCESS)


def run(
    scenario: Callable[[Jt808Gateway, Sink], Awaitable[None]],
    limits: Jt808Limits = FAST,
    known: set[str] | None = None,
) -> Jt808Gateway:
    async def main() -> Jt808Gateway:
        sink = Sink()
        gateway = Jt808Gateway(sink, port=0, limits=limits, known_terminals=known)
        await gateway.start()
        try:
            await scenario(gateway, sink)
        finally:
            await gateway.stop()
        return gateway

    return asyncio.run(main())


def test_a_terminal_that_never_authenticates_is_closed_after_the_auth_timeout() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        silent, chatty = await Client.connect(gateway.bound_port), await Client.connect(gateway.bound_port)
        await chatty.send(heartbeat())  # frames before authentication are served, but do not authenticate
        assert (await chatty.reply()).payload == GeneralReply(1, MSG_HEARTBEAT, RESULT_SUCCESS)
        assert await silent.closed_within(2) < 2
        assert await chatty.closed_within(1) < 1
        assert gateway.counts["auth_timeout"] == 2

    run(scenario, replace(FAST, auth_timeout_s=0.5))


def test_an_authenticated_terminal_that_goes_quiet_is_closed_after_the_idle_timeout() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        client = await Client.connect(gateway.bound_port)
        await authenticate(client, gateway)
        assert await client.closed_within(2) >= 0.4
        assert gateway.counts["idle_timeout"] == 1 and gateway.counts["auth_timeout"] == 0

    run(scenario, replace(FAST, auth_timeout_s=0.2, idle_timeout_s=0.5))


def test_a_one_byte_per_interval_sender_is_dropped() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        client = await Client.connect(gateway.bound_port)
        await authenticate(client, gateway)
        started = time.monotonic()
        frame = heartbeat(serial=2)
        with pytest.raises((ConnectionError, AssertionError)):
            for byte in frame:  # bytes keep coming, but the frame never ends in time
                await client.send(bytes([byte]))
                await asyncio.sleep(0.1)
                if client.reader.at_eof():
                    raise AssertionError("closed")
        await client.closed_within(2)
        assert time.monotonic() - started < 1.5
        assert gateway.counts["frame_timeout"] == 1 and sink.frames[-1:] != [frame]

    run(scenario, replace(FAST, frame_timeout_s=0.5))


def test_connections_over_the_cap_and_over_the_per_address_cap_are_closed_at_once() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        first = [await Client.connect(gateway.bound_port, "127.0.0.2") for _ in range(2)]
        over_address = await Client.connect(gateway.bound_port, "127.0.0.2")
        assert await over_address.closed_within(1) < 1
        other = await Client.connect(gateway.bound_port, "127.0.0.3")
        over_all = await Client.connect(gateway.bound_port, "127.0.0.4")
        assert await over_all.closed_within(1) < 1
        assert gateway.counts["address_connection_cap"] == 1 and gateway.counts["connection_cap"] == 1
        for client in first:  # the ones inside the caps are served
            await client.send(heartbeat())
            assert (await client.reply()).message_id == MSG_PLATFORM_REPLY
        for client in (*first, other, over_address, over_all):
            client.close()

    run(scenario, replace(FAST, max_connections=3, max_connections_per_address=2))


def test_a_terminal_over_its_rate_is_cut_off_and_others_on_the_address_are_not() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        flood, neighbour = await Client.connect(gateway.bound_port), await Client.connect(gateway.bound_port)
        await flood.send(b"".join(heartbeat(serial=n) for n in range(50)))
        await flood.closed_within(2)
        assert gateway.counts["terminal_rate"] == 1
        assert len(sink.frames) == 5  # the burst, no more
        await neighbour.send(heartbeat("013800000002"))
        assert (await neighbour.reply()).message_id == MSG_PLATFORM_REPLY

    run(scenario, replace(FAST, terminal_frames_per_s=1, terminal_burst=5))


def test_an_address_over_its_rate_is_cut_off() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        flood = await Client.connect(gateway.bound_port, "127.0.0.5")
        await flood.send(b"".join(heartbeat(f"0138000{n:05d}") for n in range(100)))  # many terminals, one address
        await flood.closed_within(2)
        assert gateway.counts["address_rate"] == 1 and len(sink.frames) == 20
        good = await Client.connect(gateway.bound_port)
        await good.send(heartbeat())
        assert (await good.reply()).message_id == MSG_PLATFORM_REPLY

    run(scenario, replace(FAST, address_frames_per_s=1, address_burst=20))


def test_a_connection_over_its_byte_rate_is_cut_off() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        client = await Client.connect(gateway.bound_port)
        with pytest.raises(ConnectionError):
            for _ in range(100):
                await client.send(b"\x00" * 1024)  # garbage outside frames still costs the connection
                await asyncio.sleep(0.001)
        assert gateway.counts["read_rate"] == 1

    run(scenario, replace(FAST, connection_bytes_per_s=1024, connection_burst_bytes=8 * 1024))


def test_unregistered_terminals_are_refused_with_the_protocols_result_codes_and_not_stored() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        stranger = await Client.connect(gateway.bound_port)
        await stranger.send(register(STRANGER))
        reply = await stranger.reply()
        assert reply.message_id == MSG_REGISTER_REPLY and reply.payload is not None
        assert (reply.payload.result, reply.payload.auth_code) == (REGISTER_TERMINAL_UNKNOWN, "")  # type: ignore[union-attr]
        await stranger.send(heartbeat(STRANGER, 2))
        assert (await stranger.reply()).payload == GeneralReply(2, MSG_HEARTBEAT, RESULT_FAILURE)
        known = await Client.connect(gateway.bound_port)
        await known.send(register(KNOWN))
        reply = await known.reply()
        assert reply.payload.result == 0  # type: ignore[union-attr]
        await authenticate(known, gateway)
        assert sink.frames == [
            register(KNOWN),
            encode_frame(MSG_AUTH, KNOWN, 1, encode_auth_body(Authentication(gateway.auth_code(KNOWN)))),
        ]
        assert gateway.counts["unknown_terminal"] == 2 and gateway.counts["unverified_terminal"] == 0

    run(scenario, known={KNOWN})


def test_without_a_registry_terminals_are_accepted_and_counted_as_unverified() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        client = await Client.connect(gateway.bound_port)
        for serial in range(3):
            await client.send(heartbeat(STRANGER, serial))
            assert (await client.reply()).message_id == MSG_PLATFORM_REPLY
        assert gateway.counts["unverified_terminal"] == 1 and len(sink.frames) == 3  # once per terminal and connection

    run(scenario)


def test_bad_frames_are_stored_up_to_a_budget_and_an_overlong_frame_never() -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        tiny = await Client.connect(gateway.bound_port)
        await tiny.send(b"\x7e\x01\x7e" * 1000)  # issue 10: tiny bad frames stored at 12.7x their size
        await tiny.closed_within(2)
        assert len(sink.frames) == 4 and gateway.counts["bad_frame_limit"] == 1
        long = await Client.connect(gateway.bound_port)
        await long.send(b"\x7e" + b"\x01" * (MAX_FRAME_BYTES + 10) + b"\x7e")
        await long.closed_within(2)
        assert len(sink.frames) == 4 and gateway.counts["frame_too_long"] == 1

    run(scenario, replace(FAST, max_bad_frames=4))


def test_every_refusal_is_one_info_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(gateway: Jt808Gateway, sink: Sink) -> None:
        clients = [await Client.connect(gateway.bound_port) for _ in range(5)]
        for client in clients:
            await client.closed_within(2)

    with caplog.at_level(logging.INFO, logger="safecampus.connectors.bus.jt808_gateway"):
        gateway = run(scenario, replace(FAST, auth_timeout_s=0.2))
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert gateway.counts["auth_timeout"] == 5
    assert len(refusals) == 1  # repeats from one address are folded into the next line, still counted
    assert refusals[0].levelno == logging.INFO and refusals[0].exc_info is None
    assert "auth_timeout" in refusals[0].getMessage() and "\n" not in refusals[0].getMessage()
