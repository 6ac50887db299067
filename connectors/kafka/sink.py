"""The one Kafka sink of the Beam pipelines.

`WriteToKafka` produces batches of `(key, value, headers)` with acks=all and idempotence (librdkafka,
`pipeline_producer`), and flushes in `finish_bundle`, so its records are in Kafka before the reading
bundle can be finalized. The writers of a worker process share one producer per broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
import confluent_kafka

from safecampus.connectors.kafka.clients import ProducerRecord, pipeline_producer

_FLUSH_TIMEOUT_S = 30.0
# One producer per broker in a worker process, shared by every writer (events, DLQ, alerts, KPIs...):
# librdkafka batches across topics in threads of its own.
_PRODUCERS: dict[str, confluent_kafka.Producer] = {}
_PRODUCERS_LOCK = threading.Lock()


def _shared_producer(bootstrap: str) -> confluent_kafka.Producer:
    with _PRODUCERS_LOCK:
        producer = _PRODUCERS.get(bootstrap)
        if producer is None:
            producer = _PRODUCERS[bootstrap] = pipeline_producer(bootstrap)
        return producer


def _discard_producer(bootstrap: str, broken: confluent_kafka.Producer) -> None:
    """Forget a producer whose flush failed, so the next bundle of any writer starts a fresh one."""
    with _PRODUCERS_LOCK:
        if _PRODUCERS.get(bootstrap) is broken:
            del _PRODUCERS[bootstrap]


class KafkaWriteError(RuntimeError):
    """Records of a bundle were not acknowledged: the bundle fails and its input is read again."""


class _Deliveries:
    """One bundle's records in flight and the errors of their delivery reports (which another writer's flush
    may serve, on its thread); a report of an earlier, failed bundle counts against that bundle's own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending = 0
        self.errors: list[str] = []

    def sent(self, count: int) -> None:
        with self.lock:
            self.pending += count

    def delivered(self, error: confluent_kafka.KafkaError | None, _: Any) -> None:
        with self.lock:
            self.pending -= 1
            if error is not None:
                self.errors.append(str(error))


class _WriteBatches(beam.DoFn):
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap, self._topic = bootstrap, topic

    def start_bundle(self) -> None:
        self._bundle = _Deliveries()

    def process(self, batch: Sequence[ProducerRecord]) -> None:
        producer, report = _shared_producer(self._bootstrap), self._bundle.delivered
        self._bundle.sent(len(batch))
        # No flush here: the producer sends within linger.ms (5 ms) by itself; finish_bundle waits, once.
        for key, value, headers in batch:
            while True:
                try:
                    producer.produce(self._topic, value, key, headers=list(headers), on_delivery=report)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.05)
        producer.poll(0)  # serve the delivery reports that are in

    def finish_bundle(self) -> None:
        """Durable before the bundle completes: the source commits its offsets only after that. Bounded: with
        the broker away the bundle fails (its offsets stay uncommitted) rather than hang, and the producer is
        made again, so one whose connections went bad is not reused."""
        producer, bundle = _shared_producer(self._bootstrap), self._bundle
        deadline = time.monotonic() + _FLUSH_TIMEOUT_S
        # Wait for this bundle's reports, not for the whole queue (a flush): the other partitions' bundles keep
        # adding to it. Their reports, served here too, go to their own bundles.
        while bundle.pending > 0 and time.monotonic() < deadline:
            producer.poll(0.005)
        if bundle.pending or bundle.errors:
            _discard_producer(self._bootstrap, producer)
            why = bundle.errors[0] if bundle.errors else f"{bundle.pending} records not acknowledged in time"
            raise KafkaWriteError(f"writing to {self._topic} failed: {why}")


class WriteToKafka(beam.PTransform):
    """Write batches of `(key, value, headers)` to `topic`; sent at once, flushed and checked by the bundle's end."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self._bootstrap, self._topic = bootstrap, topic

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "Produce" >> beam.ParDo(_WriteBatches(self._bootstrap, self._topic))
