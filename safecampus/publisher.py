"""Publish raw envelopes (simulation files) to the raw.<domain> topics, in real time or faster.

    safecampus simulate --to kafka --kafka 127.0.0.1:9092 --speed 60

A raw topic record is one envelope exactly as a replay file line holds it: value = the envelope JSON,
key = the envelope's device id, headers source / content-type / received-at, and the record
timestamp = received_at, which the streaming pipelines use as event time (their watermark).
`speed` N > 0 keeps the gaps between received_at times, divided by N; 0 sends as fast as possible.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from kafka import KafkaProducer

from safecampus.connectors.kafka import reliable_producer

__all__ = ["RawRecord", "publish", "publish_files", "raw_record", "raw_producer"]


class RawRecord(NamedTuple):
    """One raw topic record; `timestamp_ms` is None for a line that is not an envelope (sent as is)."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp_ms: int | None


def raw_record(line: bytes) -> RawRecord:
    """The Kafka record of one replay-file line; an unreadable line is kept as is (the pipeline DLQs it)."""
    try:
        envelope = json.loads(line)  # json, not pydantic: the pipeline validates, this only routes
        received = datetime.fromisoformat(envelope["received_at"])
    except (ValueError, KeyError, TypeError):
        return RawRecord(None, line, [], None)
    key = envelope.get("key")
    headers = [
        ("source", str(envelope.get("source", "")).encode()),
        ("content-type", str(envelope.get("content_type", "")).encode()),
        ("received-at", str(envelope["received_at"]).encode()),
    ]
    return RawRecord(key.encode() if isinstance(key, str) else None, line, headers, int(received.timestamp() * 1000))


def raw_producer(bootstrap: str) -> KafkaProducer:
    """The project's reliable producer, with bigger batches: a simulated day is a bulk load."""
    return reliable_producer(bootstrap, batch_size=256 * 1024)


def publish(
    bootstrap: str,
    records: Iterable[tuple[str, bytes]],
    speed: float = 0,
    on_sent: Callable[[str, int], None] | None = None,
) -> int:
    """Send (topic, line) pairs in order, paced by received_at / `speed`; returns how many were sent.

    Everything is flushed and acknowledged before this returns; a failed send raises.
    """
    producer = raw_producer(bootstrap)
    sent, pending = 0, []
    first_ts: int | None = None
    started = time.monotonic()
    try:
        for topic, line in records:
            record = raw_record(line)
            if speed > 0 and record.timestamp_ms is not None:
                first_ts = record.timestamp_ms if first_ts is None else first_ts
                delay = started + (record.timestamp_ms - first_ts) / 1000 / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            pending.append(
                producer.send(
                    topic, key=record.key, value=record.value, headers=record.headers, timestamp_ms=record.timestamp_ms
                )
            )
            sent += 1
            if on_sent:
                on_sent(topic, 1)
            if len(pending) >= 10_000:  # bounded memory for futures; errors surface early
                _settle(producer, pending)
        _settle(producer, pending)
    finally:
        producer.close()
    return sent


def _settle(producer: KafkaProducer, pending: list[Any]) -> None:
    producer.flush()
    for future in pending:
        future.get()
    pending.clear()


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            line = line.rstrip(b"\n")
            if line.strip():
                yield line


def _received_at(item: tuple[str, bytes]) -> float:
    # A byte search, not a JSON parse: merging only needs the one field.
    line = item[1]
    start = line.find(b'"received_at":"')
    end = line.find(b'"', start + 15) if start >= 0 else -1
    try:
        return datetime.fromisoformat(line[start + 15 : end].decode("ascii")).timestamp() if end > 0 else 0.0
    except ValueError:
        return 0.0


def merged_files(files: Sequence[tuple[str, Path]]) -> Iterator[tuple[str, bytes]]:
    """(topic, line) from several received_at-sorted files, merged in received_at order."""
    streams = [((topic, line) for line in _lines(path)) for topic, path in files]
    return heapq.merge(*streams, key=_received_at)


def publish_files(
    bootstrap: str,
    files: Sequence[tuple[str, Path]],
    speed: float = 0,
    on_sent: Callable[[str, int], None] | None = None,
) -> int:
    """Publish each (topic, replay file) merged by receive time; see `publish`."""
    return publish(bootstrap, merged_files(files), speed, on_sent)
