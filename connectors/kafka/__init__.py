"""Kafka for the pipelines and the doors: clients and topic names, the Beam source and the Beam sink.

`clients` holds the one producer configuration, the broker check and `Topics`; `source` the
Splittable-DoFn reader; `sink` the writer. Everything is importable from here.
"""

from safecampus.connectors.kafka.clients import (
    JSON_HEADERS,
    Header,
    KafkaUnavailableError,
    ProducerRecord,
    Topics,
    check_kafka,
    committed_offsets,
    json_records,
    produce_batch,
    read_from_start,
    reliable_producer,
    view_consumer,
)
from safecampus.connectors.kafka.sink import WriteToKafka
from safecampus.connectors.kafka.source import EVERY_PARTITION, Instance, KafkaMessage, ReadFromKafka

__all__ = [
    "EVERY_PARTITION",
    "JSON_HEADERS",
    "Header",
    "Instance",
    "KafkaMessage",
    "KafkaUnavailableError",
    "ProducerRecord",
    "ReadFromKafka",
    "Topics",
    "WriteToKafka",
    "check_kafka",
    "committed_offsets",
    "json_records",
    "produce_batch",
    "read_from_start",
    "reliable_producer",
    "view_consumer",
]
