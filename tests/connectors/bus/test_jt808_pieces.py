"""Split JT/T 808 messages (message properties bit 13): golden pieces, joined in order, out of order,
with a piece repeated or missing; the gateway answering each piece, asking for the missing one
(0x8003) and storing the message once; the pipeline reading what the gateway stored."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from safecampus.config import Settings
from safecampus.connectors.bus.jt808_decode import decode_frame, decode_message
from safecampus.connectors.bus.jt808_encode import encode_batch_body, encode_pieces
from safecampus.connectors.bus.jt808_frame import (
    MSG_LOCATION_BATCH,
    MSG_PLATFORM_REPLY,
    MSG_RESEND_REQUEST,
    Jt808Error,
    split_frames,
    unescape,
)
from safecampus.connectors.bus.jt808_gateway import Jt808Gateway, Jt808Limits
from safecampus.connectors.bus.jt808_messages import GeneralReply, LocationBatch, LocationReport, ResendRequest
from safecampus.connectors.bus.jt808_packets import Jt808Reassembler, ReassemblyLimits
from safecampus.connectors.registry import RegistryView
from safecampus.gateways import jt808_envelope
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.normalize import normalize_lines
from safecampus.schemas.common import SHANGHAI

PHONE = "013800000044"
FIRST_SERIAL = 0xFFFE  # the serials of the pieces run on and wrap past 65535


def _fixes(n: int) -> list[LocationReport]:
    start = datetime(2026, 9, 1, 7, 30, tzinfo=SHANGHAI)
    return [
        LocationReport(lat_deg=31.78 + i / 1e4, lon_deg=119.95, time=start + timedelta(seconds=15 * i), speed_kmh=32.5)
        for i in range(n)
    ]


BODY = encode_batch_body(_fixes(5), batch_type=1)  # a blind-area upload: 3 + 5 × (2 + 28) = 153 bytes
PIECES = encode_pieces(MSG_LOCATION_BATCH, PHONE, FIRST_SERIAL, BODY, piece_bytes=64)


def test_golden_pieces_carry_bit_13_the_total_and_their_index_with_consecutive_serials() -> None:
    assert len(BODY) == 153 and len(PIECES) == 3  # 64 + 64 + 25
    for index, (frame, size, serial) in enumerate(
        zip(PIECES, (64, 64, 25), (0xFFFE, 0xFFFF, 0x0000), strict=True), start=1
    ):
        raw = unescape(frame[1:-1])
        # read by hand from JT/T 808-2013 table 2: id WORD, properties WORD, phone BCD[6], serial WORD, total, index
        assert raw[0:2] == b"\x07\x04"
        assert int.from_bytes(raw[2:4], "big") == 0x2000 | size  # bit 13 set, body length in the low 10 bits
        assert raw[4:10].hex() == PHONE
        assert int.from_bytes(raw[10:12], "big") == serial
        assert (int.from_bytes(raw[12:14], "big"), int.from_bytes(raw[14:16], "big")) == (3, index)
        assert raw[16:-1] == BODY[64 * (index - 1) : 64 * index]
    assert decode_frame(PIECES[1]).payload is None  # a piece alone is no message yet


@pytest.mark.parametrize(
    "order",
    [(0, 1, 2), (2, 0, 1), (1, 2, 0, 1), (0, 0, 1, 2, 2)],
    ids=["in_order", "out_of_order", "one_repeated", "repeats_and_order"],
)
def test_pieces_join_to_the_message_whatever_the_order_and_repeats(order: tuple[int, ...]) -> None:
    message = decode_message(b"".join(PIECES[i] for i in order))
    assert isinstance(message.payload, LocationBatch) and message.payload.batch_type == 1
    assert [r.lat_deg for r in message.payload.locations] == [round(31.78 + i / 1e4, 6) for i in range(5)]
    assert message.body == BODY and message.header.package is None
    assert (message.phone, message.serial) == (PHONE, FIRST_SERIAL)  # the message keeps its first piece's serial


def test_a_missing_piece_is_incomplete_and_says_which() -> None:
    with pytest.raises(Jt808Error, match="2 of 3 pieces received, missing piece 2") as caught:
        decode_message(PIECES[2] + PIECES[0])
    assert caught.value.kind == "incomplete" and caught.value.header is not None
    assert caught.value.header.phone == PHONE


def test_pieces_of_two_messages_are_not_joined() -> None:
    other = encode_pieces(MSG_LOCATION_BATCH, "013800000045", 1, BODY, piece_bytes=64)
    with pytest.raises(Jt808Error, match="different messages"):
        decode_message(PIECES[0] + other[1] + PIECES[2])


def _pipeline() -> BusPipeline:
    return BusPipeline(Settings(), RegistryView())


def _line(data: bytes) -> bytes:
    return jt808_envelope(data, "jt808-gw-test").model_dump_json().encode()


def test_the_pipeline_reads_a_stored_split_message_as_the_unsplit_one_and_dlqs_an_incomplete_one() -> None:
    whole = b"".join(PIECES[i] for i in (1, 0, 2, 2))
    gapped = PIECES[0] + PIECES[2]
    out = normalize_lines(_pipeline(), [(1, _line(whole)), (2, _line(gapped))], "raw.bus")
    fixes = [event for _, event in out.events]
    assert [e.kind for e in fixes] == ["fix"] * 5 and {e.terminal_id for e in fixes} == {PHONE}
    assert [e.occurred_at for e in fixes] == [r.time.astimezone(UTC) for r in _fixes(5)]
    [dead] = out.dlq
    assert (dead.step, dead.source_offset) == ("reassemble", 2)
    assert "missing piece 2" in dead.reason and "stopped waiting" in dead.reason
    assert base64.b64decode(dead.payload_b64) == gapped  # the pieces that came, their original bytes


def _limits(**changed: float) -> ReassemblyLimits:
    return ReassemblyLimits(**{"timeout_s": 60.0, "max_bytes": 4096, "max_pieces": 16, **changed})  # type: ignore[arg-type]


def test_reassembler_stores_once_ignores_repeats_and_gives_up_in_time() -> None:
    counts: Counter[str] = Counter()
    pieces = Jt808Reassembler(_limits(), counts)
    header = [decode_frame(p).header for p in PIECES]
    assert pieces.add(header[2], PIECES[2], 0.0) == []
    assert pieces.add(header[2], PIECES[2], 1.0) == []  # repeated: nothing new
    assert pieces.add(header[0], PIECES[0], 2.0) == []
    assert pieces.due(29.0) == ([], [])
    resend, given_up = pieces.due(30.0)  # halfway: ask once for the missing piece
    assert resend == [(header[2], [2])] and given_up == []
    assert pieces.due(31.0) == ([], [])
    resend, given_up = pieces.due(60.0)
    assert resend == [] and given_up == [PIECES[0] + PIECES[2]]  # index order, each piece once
    assert pieces.next_due() is None
    assert counts["jt808_piece_repeated"] == 1 and counts["jt808_split_timeout"] == 1


def test_reassembler_limits_a_terminal_and_flushes_at_disconnect() -> None:
    small = Jt808Reassembler(_limits(max_bytes=150))
    h = [decode_frame(p).header for p in PIECES]
    assert small.add(h[0], PIECES[0], 0.0) == []
    assert small.add(h[1], PIECES[1], 0.0) == [PIECES[0] + PIECES[1]]  # over 150 bytes held: stored as it is
    few = Jt808Reassembler(_limits(max_pieces=2))
    assert few.add(h[0], PIECES[0], 0.0) == [PIECES[0]]  # announces 3 pieces, 2 allowed: stored alone
    left = Jt808Reassembler(_limits())
    left.add(h[1], PIECES[1], 0.0)
    assert left.flush() == [PIECES[1]] and left.flush() == []


class _Sink:
    def __init__(self) -> None:
        self.stored: list[bytes] = []
        self.arrived = asyncio.Event()

    async def __call__(self, data: bytes, peer: str) -> None:
        self.stored.append(data)
        self.arrived.set()


async def _replies(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    frames: list[bytes] = []
    buffer = b""
    while len(frames) < n:
        data = await asyncio.wait_for(reader.read(4096), 10)
        assert data, "the gateway closed the connection"
        got, buffer = split_frames(buffer + data)
        frames += got
    return frames


def test_gateway_answers_each_piece_asks_for_the_missing_one_and_stores_the_message_once() -> None:
    async def scenario() -> None:
        sink = _Sink()
        gateway = Jt808Gateway(sink, port=0, limits=Jt808Limits(pieces=_limits(timeout_s=1.0)))
        await gateway.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.bound_port)
            writer.write(PIECES[2] + PIECES[0] + PIECES[0])  # out of order, one repeated, piece 2 lost
            await writer.drain()
            answers = [decode_frame(f) for f in await _replies(reader, 4)]
            replies, [ask] = answers[:3], answers[3:]
            for reply, piece in zip(replies, (PIECES[2], PIECES[0], PIECES[0]), strict=True):
                sent = decode_frame(piece).header
                assert reply.message_id == MSG_PLATFORM_REPLY
                assert reply.payload == GeneralReply(sent.serial, MSG_LOCATION_BATCH, 0)
            assert ask.message_id == MSG_RESEND_REQUEST and ask.phone == PHONE
            assert ask.payload == ResendRequest(FIRST_SERIAL, (2,))  # the first piece's serial, then the index
            assert sink.stored == []  # nothing stored while the message is open
            writer.write(PIECES[1])  # the terminal sends piece 2 again, unchanged (§7.12)
            await writer.drain()
            [reply] = [decode_frame(f) for f in await _replies(reader, 1)]
            assert reply.payload == GeneralReply(0xFFFF, MSG_LOCATION_BATCH, 0)
            await asyncio.wait_for(sink.arrived.wait(), 10)
            assert sink.stored == [b"".join(PIECES)]  # once, in index order, the original frames
            assert gateway.counts["jt808_split_reassembled"] == 1 and gateway.counts["jt808_piece_repeated"] == 1

            sink.arrived.clear()
            writer.write(PIECES[0])  # a new message that never completes
            await writer.drain()
            await _replies(reader, 2)  # its 0x8001, then the 0x8003 halfway to the timeout
            await asyncio.wait_for(sink.arrived.wait(), 10)
            assert sink.stored[1] == PIECES[0] and gateway.counts["jt808_split_timeout"] == 1
            writer.close()
            await writer.wait_closed()
        finally:
            await gateway.stop()

    asyncio.run(scenario())


def test_gateway_stores_what_a_terminal_left_unfinished_when_it_hangs_up() -> None:
    async def scenario() -> None:
        sink = _Sink()
        gateway = Jt808Gateway(sink, port=0)
        await gateway.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.bound_port)
            writer.write(PIECES[1])
            await writer.drain()
            await _replies(reader, 1)
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(sink.arrived.wait(), 10)
            assert sink.stored == [PIECES[1]] and gateway.counts["jt808_split_disconnected"] == 1
        finally:
            await gateway.stop()

    asyncio.run(scenario())
