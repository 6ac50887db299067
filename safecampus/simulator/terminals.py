"""Simulated bus terminals speaking JT/T 808 to a gateway over TCP.

Each terminal of the simulated bus file opens its own connection, registers (0x0100),
authenticates (0x0102) with the code the platform returns, then sends its frames in receive-time
order, paced at N× real time (0 = as fast as possible), and reads the platform's replies.

    safecampus simulate --to jt808 --gateway 127.0.0.1:7808 --speed 60
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import encode_auth_body, encode_registration_body
from safecampus.connectors.bus.jt808_frame import MSG_AUTH, MSG_REGISTER, encode_frame, split_frames
from safecampus.connectors.bus.jt808_messages import Authentication, Registration, RegistrationReply


@dataclass
class DriveResult:
    """What the gateway saw from us and answered."""

    terminals: int = 0
    frames_sent: int = 0
    replies: int = 0


def terminal_frames(bus_file: Path) -> dict[str, list[tuple[datetime, bytes]]]:
    """The JT/T 808 frames of a simulated bus file, per terminal, with their receive times."""
    frames: dict[str, list[tuple[datetime, bytes]]] = defaultdict(list)
    with bus_file.open(encoding="utf-8") as handle:
        for line in handle:
            envelope = json.loads(line)
            if envelope.get("source") == "jt808" and envelope.get("key"):
                at = datetime.fromisoformat(envelope["received_at"])
                frames[envelope["key"]].append((at, bytes.fromhex(envelope["payload"])))
    return frames


async def _reply(reader: asyncio.StreamReader, pending: bytearray) -> bytes:
    while True:
        frames, rest = split_frames(bytes(pending))
        if frames:
            pending[:] = rest
            for extra in frames[1:]:
                pending[:0] = extra  # keep later replies for the next read
            return frames[0]
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("the gateway closed the connection")
        pending += chunk


async def _terminal(
    phone: str,
    frames: list[tuple[datetime, bytes]],
    host: str,
    port: int,
    start: datetime,
    speed: float,
    result: DriveResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    pending = bytearray()
    try:
        registration = Registration(32, 400, "CZSIM", "SC-808", phone[-7:], 1, f"苏D{phone[-5:]}")
        writer.write(encode_frame(MSG_REGISTER, phone, 0, encode_registration_body(registration)))
        await writer.drain()
        reply = decode_frame(await _reply(reader, pending)).payload
        code = reply.auth_code if isinstance(reply, RegistrationReply) else ""
        writer.write(encode_frame(MSG_AUTH, phone, 1, encode_auth_body(Authentication(code))))
        await writer.drain()
        await _reply(reader, pending)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for at, frame in frames:
            if speed > 0:
                delay = (at - start).total_seconds() / speed - (loop.time() - began)
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(frame)  # a split message's pieces go together: the gateway answers each
            await writer.drain()
            for _ in split_frames(frame)[0]:
                await _reply(reader, pending)
                result.frames_sent += 1
                result.replies += 1
        result.terminals += 1
    finally:
        writer.close()
        await writer.wait_closed()


def drive_gateway(bus_file: Path, host: str, port: int, speed: float = 0) -> DriveResult:
    """Play the simulated day's bus frames to a JT/T 808 gateway, one connection per terminal."""
    frames = terminal_frames(bus_file)
    result = DriveResult()
    if not frames:
        return result
    start = min(times[0][0] for times in frames.values())

    async def main() -> None:
        await asyncio.gather(
            *(_terminal(phone, sent, host, port, start, speed, result) for phone, sent in frames.items())
        )

    asyncio.run(main())
    return result
