"""Kafka source and sink against a real broker, run on the Prism runner."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
import confluent_kafka
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from safecampus.connectors.kafka import (
    KafkaMessage,
    KafkaUnavailableError,
    ProducerRecord,
    ReadFromKafka,
    WriteToKafka,
    check_kafka,
    committed_offsets,
    produce_batch,
    read_from_start,
)

pytestmark = pytest.mark.integration

N = 600
Row = tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """A fresh input and output topic with 2 partitions each, deleted afterwards."""
    name = f"test.kafka.{uuid.uuid4().hex[:10]}"
    src, dst = f"{name}.in", f"{name}.out"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(src, 2, 1), NewTopic(dst, 2, 1)])
    try:
        yield src, dst
    finally:
        admin.delete_topics([src, dst])
        admin.close()


def _records(n: int) -> list[ProducerRecord]:
    # Seven keys spread the records over both partitions.
    return [(f"k{i % 7}".encode(), f"v{i}".encode(), [("i", str(i).encode()), ("source", b"test")]) for i in range(n)]


def _as_rows(records: list[ProducerRecord]) -> Counter[Row]:
    return Counter((k, v, tuple(h)) for k, v, h in records)


def _to_producer_records(batch: list[KafkaMessage]) -> list[ProducerRecord]:
    return [(m.key, m.value, list(m.headers)) for m in batch]


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> Counter[Row]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(tps)
    rows: Counter[Row] = Counter()
    deadline = time.monotonic() + timeout_s
    # Read until `expected` rows arrived, then a little longer to catch duplicates.
    while time.monotonic() < deadline and sum(rows.values()) < expected:
        for records in consumer.poll(timeout_ms=500).values():
            rows.update((r.key, r.value, tuple(r.headers)) for r in records)
    for records in consumer.poll(timeout_ms=1000).values():
        rows.update((r.key, r.value, tuple(r.headers)) for r in records)
    consumer.close()
    return rows


def _committed_equals_end(bootstrap: str, topic: str, group: str, timeout_s: float = 30) -> dict[int, tuple]:
    """Wait until the committed offsets reach the end offsets; return {partition: (committed, end)}."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    end = consumer.end_offsets(tps)
    deadline = time.monotonic() + timeout_s
    while True:
        state = {tp.partition: (consumer.committed(tp), end[tp]) for tp in tps}
        if all(c == e for c, e in state.values()) or time.monotonic() > deadline:
            consumer.close()
            return state
        time.sleep(0.5)


def _prism_options(prism_location: str, streaming: bool) -> PipelineOptions:
    return PipelineOptions(runner="PrismRunner", prism_location=prism_location, streaming=streaming)


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "batch"])
def test_read_write_on_prism_commits_offsets(
    kafka_bootstrap: str, prism_location: str, topics: tuple[str, str], streaming: bool
) -> None:
    src, dst = topics
    records = _records(N)
    produce_batch(kafka_bootstrap, src, records)
    group = f"{src}.group"

    with beam.Pipeline(options=_prism_options(prism_location, streaming)) as p:
        _ = (
            p
            | ReadFromKafka(kafka_bootstrap, [src], group, max_batch=100, stop_at_end=True)
            | beam.Map(_to_producer_records)
            | WriteToKafka(kafka_bootstrap, dst)
        )

    assert _read_all(kafka_bootstrap, dst, N) == _as_rows(records)  # every record, exactly once
    state = _committed_equals_end(kafka_bootstrap, src, group)
    assert all(c == e for c, e in state.values()), state
    assert all(e > 0 for _, e in state.values()), "both partitions should have had records"


def test_second_run_resumes_from_committed_offsets(
    kafka_bootstrap: str, prism_location: str, topics: tuple[str, str]
) -> None:
    src, dst = topics
    first, second = _records(N)[: N // 2], _records(N)[N // 2 :]
    group = f"{src}.group"

    def run() -> None:
        with beam.Pipeline(options=_prism_options(prism_location, streaming=True)) as p:
            _ = (
                p
                | ReadFromKafka(kafka_bootstrap, [src], group, stop_at_end=True)
                | beam.Map(_to_producer_records)
                | WriteToKafka(kafka_bootstrap, dst)
            )

    produce_batch(kafka_bootstrap, src, first)
    run()
    assert _committed_equals_end(kafka_bootstrap, src, group)  # wait for the commits
    produce_batch(kafka_bootstrap, src, second)
    run()
    assert _read_all(kafka_bootstrap, dst, N) == _as_rows(first + second)  # nothing read twice


def _fail_on(value: bytes) -> Callable[[list[KafkaMessage]], list[KafkaMessage]]:
    def check(batch: list[KafkaMessage]) -> list[KafkaMessage]:
        if any(m.value == value for m in batch):
            raise RuntimeError(f"injected failure on {value!r}")
        return batch

    return check


def test_failed_bundle_commits_nothing_and_replays(
    kafka_bootstrap: str, prism_location: str, topics: tuple[str, str]
) -> None:
    src, dst = topics
    records = _records(N)
    produce_batch(kafka_bootstrap, src, records)
    group = f"{src}.group"
    bad = b"v300"

    def pipeline(fault: bool) -> beam.Pipeline:
        p = beam.Pipeline(options=_prism_options(prism_location, streaming=True))
        read = p | ReadFromKafka(kafka_bootstrap, [src], group, max_batch=50, stop_at_end=True)
        if fault:
            read = read | beam.Map(_fail_on(bad))
        _ = read | beam.Map(_to_producer_records) | WriteToKafka(kafka_bootstrap, dst)
        return p

    with pytest.raises(Exception, match="injected failure"):
        pipeline(fault=True).run().wait_until_finish()
    # The failed batch's offsets were never committed: the group is before the bad record.
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    bad_record = next(
        r for tp in [TopicPartition(src, p) for p in (0, 1)] for r in _partition_records(consumer, tp) if r.value == bad
    )
    committed = consumer.committed(TopicPartition(src, bad_record.partition))
    consumer.close()
    assert committed is None or committed <= bad_record.offset

    pipeline(fault=False).run().wait_until_finish()
    rows = _read_all(kafka_bootstrap, dst, N)
    assert set(rows) == set(_as_rows(records))  # at least once: all arrive, some may be repeated
    state = _committed_equals_end(kafka_bootstrap, src, group)
    assert all(c == e for c, e in state.values()), state


def _partition_records(consumer: KafkaConsumer, tp: TopicPartition) -> list[Any]:
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    out: list[Any] = []
    while consumer.position(tp) < end:
        out += consumer.poll(timeout_ms=500).get(tp, [])
    return out


def test_unbounded_read_streams_and_commits(kafka_bootstrap: str, prism_location: str, topics: tuple[str, str]) -> None:
    src, dst = topics
    records = _records(N)
    group = f"{src}.group"
    pipeline = beam.Pipeline(options=_prism_options(prism_location, streaming=True))
    _ = (
        pipeline
        | ReadFromKafka(kafka_bootstrap, [src], group)
        | beam.Map(_to_producer_records)
        | WriteToKafka(kafka_bootstrap, dst)
    )
    result = pipeline.run()
    try:
        # Records produced while the pipeline runs arrive too (the source polls, not a snapshot).
        threading.Timer(3.0, produce_batch, (kafka_bootstrap, src, records)).start()
        assert _read_all(kafka_bootstrap, dst, N, timeout_s=90) == _as_rows(records)
        state = _committed_equals_end(kafka_bootstrap, src, group)
        assert all(c == e for c, e in state.values()), state
    finally:
        result.cancel()


def test_check_kafka_on_closed_port_raises_one_line() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KafkaUnavailableError) as info:
        check_kafka(f"127.0.0.1:{port}", timeout_s=1)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Kafka is not reachable at 127.0.0.1:{port}")


def test_check_kafka_on_running_broker(kafka_bootstrap: str) -> None:
    assert check_kafka(kafka_bootstrap) is None  # answers: no error
    with pytest.raises(KafkaUnavailableError, match="not reachable at 127.0.0.1:1"):
        check_kafka("127.0.0.1:1", timeout_s=1)  # the same check fails where no broker listens


def test_read_from_start_gives_what_was_on_the_topic_and_stops_at_its_end(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    src, dst = topics
    assert list(read_from_start(kafka_bootstrap, dst)) == []  # an empty topic
    produce_batch(kafka_bootstrap, src, _records(40))
    values = list(read_from_start(kafka_bootstrap, src))
    assert Counter(values) == Counter(v for _, v, _ in _records(40))  # both partitions, each value once


class _CoordinatorMoving:
    """A consumer whose group coordinator answers NOT_COORDINATOR `refusals` times, then the offsets: what a
    broker just started, or one whose coordinator moved, answers (CI saw it fail a job before this)."""

    def __init__(self, refusals: int, code: int) -> None:
        self.refusals, self.code, self.asked = refusals, code, 0

    def committed(self, partitions: list[Any], timeout: float) -> list[Any]:
        self.asked += 1
        if self.asked <= self.refusals:
            raise confluent_kafka.KafkaException(confluent_kafka.KafkaError(self.code))
        return partitions


def test_committed_offsets_asks_again_while_the_coordinator_moves() -> None:
    asked = [confluent_kafka.TopicPartition("raw.bus", 0)]
    consumer = _CoordinatorMoving(2, confluent_kafka.KafkaError.NOT_COORDINATOR)
    assert committed_offsets(consumer, asked, 1.0) == asked  # type: ignore[arg-type]
    assert consumer.asked == 3


def test_committed_offsets_raises_what_asking_again_cannot_mend_and_gives_up_in_time() -> None:
    refused = _CoordinatorMoving(1, confluent_kafka.KafkaError.GROUP_AUTHORIZATION_FAILED)
    with pytest.raises(confluent_kafka.KafkaException):
        committed_offsets(refused, [], 1.0)  # type: ignore[arg-type]
    assert refused.asked == 1
    never = _CoordinatorMoving(10**6, confluent_kafka.KafkaError.NOT_COORDINATOR)
    with pytest.raises(confluent_kafka.KafkaException):
        committed_offsets(never, [], 1.0, patience_s=1.0)  # type: ignore[arg-type]
    assert 2 <= never.asked < 10
