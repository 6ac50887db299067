"""Kafka clients and topic names: the producer and consumer configurations, the broker check, the topics.

The pipelines' own reader and writer (the hot path, `source` and `sink`) use librdkafka through
confluent-kafka: its fetching, batching and acks run in C threads outside the GIL. A streaming run's
profile put kafka-python's IO and sender threads at a quarter of the worker's CPU, and a bare
consume → produce loop took 55 µs of CPU per record with kafka-python against 6 µs with librdkafka
(README, streaming). The doors and tools (gateways, `publish`, admin, tests) keep kafka-python.

>>> topics = Topics()                      # Topics("t1-") in tests: every name prefixed
>>> topics.raw("bus"), topics.events("bus"), topics.alerts
('raw.bus', 'events.bus', 'alerts')
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import confluent_kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import BaseModel

from safecampus.schemas.common import Domain

log = logging.getLogger(__name__)
_START_HINT = "start it with make kafka"
# Answers of a group coordinator that is starting or moving: asked again, they pass.
_COORDINATOR_MOVING = frozenset(
    {
        confluent_kafka.KafkaError.NOT_COORDINATOR,
        confluent_kafka.KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        confluent_kafka.KafkaError.COORDINATOR_NOT_AVAILABLE,
        confluent_kafka.KafkaError._TIMED_OUT,
    }
)

Header = tuple[str, bytes]
ProducerRecord = tuple[bytes | None, bytes, Sequence[Header]]
"""What `WriteToKafka` takes, in batches: (key, value, headers)."""
JSON_HEADERS: tuple[Header, ...] = (("content-type", b"application/json"),)


def json_records(items: Iterable[BaseModel], key: Callable[[Any], str]) -> list[ProducerRecord]:
    """Records as Kafka records of their JSON, keyed by `key(record)` (a fingerprint, a subject, a topic)."""
    return [(key(r).encode(), r.model_dump_json().encode(), JSON_HEADERS) for r in items]


# kafka-python 3 renamed the option that bounds the first connection.
_BOOTSTRAP_TIMEOUT = (
    "bootstrap_timeout_ms" if "bootstrap_timeout_ms" in KafkaConsumer.DEFAULT_CONFIG else "api_version_auto_timeout_ms"
)


class Topics:
    """Every topic name, optionally prefixed (tests isolate themselves with a prefix)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.alerts = f"{prefix}alerts"
        self.dlq = f"{prefix}dlq"
        self.kpis = f"{prefix}kpis"
        self.operations = f"{prefix}operations"  # operators' acknowledgements and suppression windows

    def raw(self, domain: Domain) -> str:
        return f"{self.prefix}raw.{domain}"

    def events(self, domain: Domain) -> str:
        return f"{self.prefix}events.{domain}"

    def derived(self, name: str, domain: Domain) -> str:
        """The stream of records a domain's rules derive, e.g. `runs.bus`."""
        return f"{self.prefix}{name}.{domain}"


class KafkaUnavailableError(RuntimeError):
    """The broker does not answer; the message is one line that says how to start it."""


def check_kafka(bootstrap: str, timeout_s: float = 5) -> None:
    """Raise `KafkaUnavailableError` unless a broker answers a metadata request at `bootstrap`."""
    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            **{_BOOTSTRAP_TIMEOUT: int(timeout_s * 1000)},
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            reconnect_backoff_max_ms=200,
        )
        consumer.topics()
    except Exception as exc:  # any failure means the same thing to the caller
        raise KafkaUnavailableError(f"Kafka is not reachable at {bootstrap} — {_START_HINT}") from exc
    finally:
        if consumer is not None:
            consumer.close()


def produce_batch(bootstrap: str, topic: str, records: Iterable[ProducerRecord]) -> int:
    """Produce records synchronously (acks=all) and return how many were written; for tests and tools."""
    producer = reliable_producer(bootstrap)
    try:
        futures = [producer.send(topic, key=k, value=v, headers=list(h)) for k, v, h in records]
        producer.flush()
        for future in futures:
            future.get()  # raises the send error, if any
        return len(futures)
    finally:
        producer.close()


def reliable_producer(bootstrap: str, batch_size: int = 16384) -> KafkaProducer:
    """The one producer configuration: acks=all, retries, idempotence (a retried send never doubles)."""
    config: dict[str, Any] = {"acks": "all", "retries": 10, "linger_ms": 5, "batch_size": batch_size}
    # Idempotence keeps producer retries from writing duplicates; older kafka-python lacks the option.
    if "enable_idempotence" in KafkaProducer.DEFAULT_CONFIG:
        config["enable_idempotence"] = True
    return KafkaProducer(bootstrap_servers=bootstrap, **config)


_LIBRDKAFKA_LOG = logging.getLogger("safecampus.kafka.librdkafka")  # its connection errors, in our logs
METADATA_MAX_AGE_MS = 10_000  # after a broker restart an idle client names no leader until its metadata ages
REQUEST_TIMEOUT_MS = 15_000  # a commit or a fetch that blocks (the broker is away) fails within this


def pipeline_producer(bootstrap: str) -> confluent_kafka.Producer:
    """The pipelines' producer (librdkafka): acks=all, idempotence (a retried send never doubles), delivery
    bounded so that a flush with the broker away fails the bundle rather than hangs."""
    return confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 30_000,
            "topic.metadata.refresh.interval.ms": METADATA_MAX_AGE_MS,
            "logger": _LIBRDKAFKA_LOG,
        }
    )


def pipeline_consumer(bootstrap: str, group_id: str) -> confluent_kafka.Consumer:
    """The pipelines' consumer (librdkafka), for partitions it is assigned: it never joins the group nor
    commits by itself (the reader commits what its finalized bundles hold)."""
    return confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,  # an idle partition answers within this: bounds produce → output latency
            # librdkafka fetches ahead in the background, by default up to 64 MiB per partition and client; a
            # reader caches a client per partition it has read, so bound what each one holds (~5 MiB here).
            "queued.min.messages": 10_000,
            "queued.max.messages.kbytes": 8192,
            "socket.timeout.ms": REQUEST_TIMEOUT_MS,
            "topic.metadata.refresh.interval.ms": METADATA_MAX_AGE_MS,
            "logger": _LIBRDKAFKA_LOG,
        }
    )


def committed_offsets(
    consumer: confluent_kafka.Consumer,
    partitions: list[confluent_kafka.TopicPartition],
    timeout_s: float,
    patience_s: float = 60.0,
) -> list[confluent_kafka.TopicPartition]:
    """The group's committed offsets of `partitions`, asked again while the broker answers with a retriable
    error: a broker just started, or whose group coordinator just moved, says NOT_COORDINATOR or
    COORDINATOR_LOAD_IN_PROGRESS for a few seconds, and that must not fail the job."""
    deadline = time.monotonic() + patience_s
    pause = 0.2
    while True:
        try:
            return consumer.committed(partitions, timeout_s)
        except confluent_kafka.KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = isinstance(error, confluent_kafka.KafkaError) and (
                error.retriable() or error.code() in _COORDINATOR_MOVING
            )
            if not retriable or time.monotonic() + pause > deadline:
                raise
            log.info("Kafka: committed offsets not available yet (%s); asking again in %.1f s", error, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def view_consumer(bootstrap: str, topics: Sequence[str]) -> KafkaConsumer:
    """A consumer with no group that follows `topics` from their end: a live view, committing nothing."""
    return KafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="latest", enable_auto_commit=False)


def read_from_start(bootstrap: str, topic: str, timeout_s: float = 30) -> Iterator[bytes]:
    """Every value on `topic` from its start up to its end when called (no group, nothing committed).

    A topic that does not exist yet yields nothing."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = {tp: offset for tp, offset in consumer.end_offsets(partitions).items() if offset > 0}
        idle = 0.0
        while ends and idle < timeout_s:
            batch = consumer.poll(timeout_ms=500)
            idle = 0.0 if batch else idle + 0.5
            for tp, records in batch.items():
                for record in records:
                    if tp in ends and record.offset < ends[tp]:
                        yield record.value
                if tp in ends and consumer.position(tp) >= ends[tp]:
                    del ends[tp]
    finally:
        consumer.close()
