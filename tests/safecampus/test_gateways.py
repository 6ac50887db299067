"""Gateway sinks: frames and posts are stored unchanged, in a file or on the real broker."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from safecampus.connectors.bus.jt808_encode import encode_location_body
from safecampus.connectors.bus.jt808_frame import encode_frame
from safecampus.connectors.bus.jt808_messages import LocationReport
from safecampus.gateways import FileRawSink, KafkaRawSink, jt808_envelope, serve_jt808
from safecampus.schemas.envelope import RawEnvelope

FRAME = encode_frame(
    0x0200,
    "013800000001",
    7,
    encode_location_body(
        LocationReport(lat_deg=31.78, lon_deg=119.95, time=datetime(2026, 9, 1, tzinfo=UTC), speed_kmh=30)
    ),
)


def test_a_frame_keeps_its_bytes_and_terminal_key() -> None:
    envelope = jt808_envelope(FRAME, "gw")
    assert envelope.payload_bytes() == FRAME and envelope.key == "013800000001"
    broken = FRAME[:-2] + bytes([FRAME[-2] ^ 0xFF]) + FRAME[-1:]  # bad checksum: stored anyway, for the DLQ
    assert jt808_envelope(broken, "gw").payload_bytes() == broken


def test_the_jt808_gateway_writes_received_frames_to_a_replay_file(tmp_path: Path) -> None:
    path = tmp_path / "raw-bus.jsonl"
    sink = FileRawSink(path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threading.Thread(target=serve_jt808, args=(port, sink), daemon=True).start()
    for _ in range(50):
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    with conn:
        conn.sendall(FRAME)
        reply = conn.recv(64)
    assert reply.startswith(b"\x7e\x80\x01")  # the platform's general reply
    line = path.read_text(encoding="utf-8").splitlines()[0]
    assert RawEnvelope.model_validate_json(line).payload_bytes() == FRAME


@pytest.mark.integration
def test_the_kafka_sink_writes_to_the_raw_topic(kafka_bootstrap: str) -> None:
    marker = uuid.uuid4().hex
    envelope = RawEnvelope(
        domain="security",
        source="alarmbox",
        payload=json.dumps({"marker": marker}),
        received_at=datetime.now(UTC),
        key="CZ-0001-00",
    )
    sink = KafkaRawSink(kafka_bootstrap)
    sink(envelope)
    sink.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition("raw.security", p) for p in consumer.partitions_for_topic("raw.security") or ()]
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    for tp in partitions:
        consumer.seek(tp, max(0, ends[tp] - 50))
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + 30
    while not found and time.monotonic() < deadline:
        found = [r for batch in consumer.poll(timeout_ms=1000).values() for r in batch if marker.encode() in r.value]
    consumer.close()
    assert len(found) == 1
    assert found[0].key == b"CZ-0001-00" and dict(found[0].headers)["source"] == b"alarmbox"
    assert RawEnvelope.model_validate_json(found[0].value) == envelope
