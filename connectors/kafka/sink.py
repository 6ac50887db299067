"""The one Kafka sink of the Beam pipelines.

`WriteToKafka` produces batches of `(key, value, headers)` with acks=all and idempotence, and flushes
in `finish_bundle`, so its records are in Kafka before the reading bundle can be finalized. The writers
of a worker process share one producer per broker.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from kafka import KafkaProducer

from safecampus.connectors.kafka.clients import ProducerRecord, reliable_producer

_FLUSH_TIMEOUT_S = 30.0
# One producer per broker in a worker process, shared by every writer (events, DLQ, alerts, KPIs...): each
# kafka-python client runs threads of its own, and a worker's threads share one GIL.
_PRODUCERS: dict[str, KafkaProducer] = {}
_PRODUCERS_LOCK = threading.Lock()


def _shared_producer(bootstrap: str) -> KafkaProducer:
    with _PRODUCERS_LOCK:
        producer = _PRODUCERS.get(bootstrap)
        if producer is None:
            producer = _PRODUCERS[bootstrap] = reliable_producer(bootstrap)
        return producer


def _discard_producer(bootstrap: str, broken: KafkaProducer) -> None:
    """Forget a producer whose flush failed, so the next bundle of any writer starts a fresh one."""
    with _PRODUCERS_LOCK:
        if _PRODUCERS.get(bootstrap) is broken:
            del _PRODUCERS[bootstrap]
    broken.close(timeout=1)


class _WriteBatches(beam.DoFn):
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap, self._topic = bootstrap, topic

    def setup(self) -> None:
        self._futures: list[Any] = []

    def process(self, batch: Sequence[ProducerRecord]) -> None:
        send = _shared_producer(self._bootstrap).send
        # No flush here: the producer sends within linger_ms (5 ms) by itself; waiting for the acks of every
        # batch of every output topic held the worker for a round trip each (finish_bundle waits, once).
        self._futures += [send(self._topic, key=k, value=v, headers=list(h)) for k, v, h in batch]

    def finish_bundle(self) -> None:
        # Durable before the bundle completes: the source commits its offsets only after that.
        self._flush()
        futures, self._futures = self._futures, []
        for future in futures:
            future.get(timeout=_FLUSH_TIMEOUT_S)  # raises the send error, which fails (and retries) the bundle

    def _flush(self) -> None:
        """Flush, bounded: with the broker away, the bundle fails (its offsets stay uncommitted) rather than hang.
        The producer is made again, so one whose connections went bad is not reused."""
        producer = _shared_producer(self._bootstrap)
        try:
            producer.flush(timeout=_FLUSH_TIMEOUT_S)
        except Exception:
            _discard_producer(self._bootstrap, producer)
            self._futures = []
            raise


class WriteToKafka(beam.PTransform):
    """Write batches of `(key, value, headers)` to `topic`; sent at once, flushed and checked by the bundle's end."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self._bootstrap, self._topic = bootstrap, topic

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "Produce" >> beam.ParDo(_WriteBatches(self._bootstrap, self._topic))
