"""Running the device gateways: where received payloads go (Kafka raw topics or a JSONL file).

Each payload is stored unchanged, as a raw envelope, before the device gets its answer:
`safecampus gateway jt808 --port 7808 --kafka 127.0.0.1:9092` for bus terminals and
`safecampus gateway http --port 8080 --kafka 127.0.0.1:9092` for cameras, alarm boxes and the
escort app's "all students off" confirmations (POST /escort, to raw.bus) and the inspection app's
fire-safety forms (POST /inspection, to raw.fire).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Container
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from safecampus.config import Settings
from safecampus.connectors.bus.jt808_decode import decode_message
from safecampus.connectors.bus.jt808_frame import Jt808Error
from safecampus.connectors.bus.jt808_gateway import Jt808Gateway, Jt808Limits
from safecampus.connectors.bus.jt808_packets import ReassemblyLimits
from safecampus.connectors.kafka import Topics
from safecampus.connectors.security.http import SecurityHttpGateway
from safecampus.connectors.security.tokens import TokenStore
from safecampus.publisher import raw_producer, raw_record
from safecampus.schemas.envelope import RawEnvelope

SEND_TIMEOUT_S = 10.0  # a device retries when we do not answer; better than an unstored ack


class RawSink(Protocol):
    def __call__(self, envelope: RawEnvelope) -> None: ...


class KafkaRawSink:
    """Writes each envelope to raw.<domain> and waits for the broker's acknowledgement (acks=all)."""

    def __init__(self, bootstrap: str, topics: Topics | None = None) -> None:
        self.producer = raw_producer(bootstrap)
        self.topics = topics or Topics()

    def __call__(self, envelope: RawEnvelope) -> None:
        record = raw_record(envelope.model_dump_json().encode("utf-8"))
        future = self.producer.send(
            self.topics.raw(envelope.domain),
            key=record.key,
            value=record.value,
            headers=record.headers,
            timestamp_ms=record.timestamp_ms,
        )
        future.get(timeout=SEND_TIMEOUT_S)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


class FileRawSink:
    """Appends each envelope as one JSONL line (a replay file), for use without Kafka."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a", encoding="utf-8")
        self.lock = threading.Lock()

    def __call__(self, envelope: RawEnvelope) -> None:
        with self.lock:
            self.handle.write(envelope.model_dump_json() + "\n")
            self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def jt808_envelope(frame: bytes, gateway_id: str) -> RawEnvelope:
    """A frame as received (or the pieces of a split message, together); the key is the terminal's phone
    number when the header is readable."""
    try:
        key: str | None = decode_message(frame).phone
    except Jt808Error as exc:
        key = exc.header.phone if exc.header else None
    return RawEnvelope(
        domain="bus",
        source="jt808",
        encoding="hex",
        payload=frame.hex(),
        content_type="application/octet-stream",
        received_at=datetime.now(UTC),
        gateway=gateway_id,
        key=key,
    )


def serve_jt808(
    port: int,
    sink: RawSink,
    gateway_id: str = "jt808-gw-1",
    on_ready: Callable[[], None] = lambda: None,
    known_terminals: Container[str] | None = None,
) -> None:
    """Serve JT/T 808 terminals on 127.0.0.1:`port` until interrupted.

    `known_terminals` (e.g. the registry's `buses_by_terminal`): terminals not in it are refused;
    None accepts every terminal and counts it as unverified.
    """

    async def store(frame: bytes, peer: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, sink, jt808_envelope(frame, gateway_id))

    async def main() -> None:
        limits = Jt808Limits(pieces=ReassemblyLimits.of(Settings().bus))  # [bus] jt808_piece_timeout_s, …
        gateway = Jt808Gateway(store, port=port, gateway_id=gateway_id, known_terminals=known_terminals, limits=limits)
        await gateway.start()  # binds: a taken port fails here, before anyone is told it listens
        on_ready()
        try:
            await asyncio.Event().wait()
        finally:
            await gateway.stop()

    asyncio.run(main())


def serve_http(
    port: int,
    sink: RawSink,
    gateway_id: str = "http-gw-1",
    on_ready: Callable[[], None] = lambda: None,
    tokens: TokenStore | None = None,
) -> None:
    """Serve camera, alarm-box and escort-app posts on 127.0.0.1:`port` until interrupted.

    With `tokens` every post needs its device's token; without, the gateway runs open.
    """
    gateway = SecurityHttpGateway(sink, port=port, gateway_id=gateway_id, tokens=tokens)  # binds: a taken port fails
    on_ready()
    try:
        gateway.serve_forever()
    finally:
        gateway.stop()
