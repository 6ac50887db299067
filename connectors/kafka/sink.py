"""The one Kafka sink of the Beam pipelines.

`WriteToKafka` produces batches of `(key, value, headers)` with acks=all and idempotence, and flushes
in `finish_bundle`, so its records are in Kafka before the reading bundle can be finalized.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apache_beam as beam

from safecampus.connectors.kafka.clients import ProducerRecord, reliable_producer


class _WriteBatches(beam.DoFn):
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap, self._topic = bootstrap, topic

    def setup(self) -> None:
        self._producer = reliable_producer(self._bootstrap)
        self._futures: list[Any] = []

    def process(self, batch: Sequence[ProducerRecord]) -> None:
        send = self._producer.send
        self._futures += [send(self._topic, key=k, value=v, headers=list(h)) for k, v, h in batch]
        # Out now rather than at the bundle's end: a bundle can last a second or more, a flush takes ms.
        self._producer.flush()

    def finish_bundle(self) -> None:
        # Durable before the bundle completes: the source commits its offsets only after that.
        self._producer.flush()
        futures, self._futures = self._futures, []
        for future in futures:
            future.get()  # raises the send error, which fails (and retries) the bundle

    def teardown(self) -> None:
        self._producer.close()


class WriteToKafka(beam.PTransform):
    """Write batches of `(key, value, headers)` to `topic`; each batch is flushed, and checked by the bundle's end."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self._bootstrap, self._topic = bootstrap, topic

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "Produce" >> beam.ParDo(_WriteBatches(self._bootstrap, self._topic))
