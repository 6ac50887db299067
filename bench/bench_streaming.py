"""Streaming benchmark: raw.<domain> → events.<domain> on Prism, beside a plain loop and Quix Streams.

    python bench/bench_streaming.py [--records 20000] [--seconds 10]

Prints figures, asserts nothing. Needs Kafka (make kafka) and the Prism binary (make prism).
Throughput is measured from the first to the last output record's timestamp on the events topic
(Kafka CreateTime, set by each writer), so start-up (Prism, worker, topic metadata) is left out.
Latency is from our send of a raw record to the CreateTime of the first alert it raised.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import psutil
from bench_replay import city_registry, city_store, machine  # bench/ is sys.path[0] when run as a script
from confluent_kafka import TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import NewTopic

from safecampus.config import Settings
from safecampus.connectors.kafka import Instance, Topics
from safecampus.connectors.kafka.clients import pipeline_consumer, pipeline_producer
from safecampus.pipelines.catalog import pipeline_for
from safecampus.pipelines.normalize import normalize_lines, tune_gc
from safecampus.pipelines.streaming_job import run_streaming
from safecampus.publisher import publish, raw_producer, raw_record
from safecampus.schemas.common import Domain
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.run import simulate
from safecampus.simulator.security_payloads import alarmbox_json, gb28181_keepalive_xml

BOOTSTRAP = "127.0.0.1:9092"
PRISM = str(Path.home() / ".cache/safecampus/prism-2.77.0/prism")
DOMAINS: tuple[Domain, ...] = ("security", "bus", "canteen", "fire")


class _DomainTopics(NamedTuple):
    raw: str
    events: str
    alerts: str
    dlq: str
    kpis: str
    runs: str


def _topics(prefix: str, domain: Domain, partitions: int = 2) -> _DomainTopics:
    named = Topics(prefix)
    topics = _DomainTopics(
        named.raw(domain), named.events(domain), named.alerts, named.dlq, named.kpis, named.derived("runs", domain)
    )
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    admin.close()
    return topics


def _span(topic: str, expected: int, timeout_s: float = 300) -> tuple[int, float]:
    """(records, seconds between first and last CreateTime) of a topic, once `expected` arrived."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([KafkaTopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
    stamps: list[int] = []
    deadline = time.monotonic() + timeout_s
    while len(stamps) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=10000).values():
            stamps += [r.timestamp for r in records]
    consumer.close()
    return len(stamps), (max(stamps) - min(stamps)) / 1000 if stamps else 0.0


def _expected_events(domain: Domain, lines: list[bytes]) -> int:
    pipeline = pipeline_for(domain, Settings(), city_registry())
    return len(normalize_lines(pipeline, list(enumerate(lines)), "bench").events)


def bench_prism(domain: Domain, lines: list[bytes], events: int, instances: int = 1) -> float:
    """Our runner; with `instances` > 1, that many processes (each a Prism and a worker) share the partitions."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics = _topics(prefix, domain, partitions=max(2, instances))
    publish(BOOTSTRAP, [(topics.raw, line) for line in lines])
    args = ([domain], BOOTSTRAP, PRISM, None, city_store())
    kwargs: dict[str, Any] = {"group_id": f"{prefix}g", "stop_at_end": True, "topic_prefix": prefix}
    if instances == 1:
        run_streaming(*args, **kwargs)
    else:
        spawn = multiprocessing.get_context("spawn")
        procs = [
            spawn.Process(target=run_streaming, args=args, kwargs={**kwargs, "instance": Instance(i, instances)})
            for i in range(instances)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    got, seconds = _span(topics.events, events)
    return got / seconds if seconds else float("nan")


class SameWork:
    """What the plain loop and Quix do per batch: normalize_lines, then the domain's detectors (plain Python)."""

    def __init__(self, domain: Domain) -> None:
        self.pipeline = pipeline_for(domain, Settings(), city_registry())
        self.detectors: dict[str, Any] = {}
        # The collector tuned as our pipelines tune it, so every runner has the same process settings.
        tune_gc(Settings().gc_young_threshold)

    def __call__(self, records: list[tuple[int, bytes]], topic: str, partition: int | None = None) -> list[bytes]:
        out = normalize_lines(self.pipeline, records, topic, partition)
        for subject, event in out.events:
            if subject not in self.detectors:
                self.detectors[subject] = self.pipeline.new_detector(subject)
            if self.detectors[subject] is not None:
                self.detectors[subject].observe(event)
        return [event.model_dump_json().encode() for _, event in out.events]


def bench_plain(domain: Domain, lines: list[bytes], events: int) -> float:
    """The ceiling: one process, consume → normalize + detect → produce with our client library (librdkafka
    through confluent-kafka, as the pipelines' reader and writer), no framework."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics = _topics(prefix, domain)
    publish(BOOTSTRAP, [(topics.raw, line) for line in lines])
    work = SameWork(domain)
    consumer = pipeline_consumer(BOOTSTRAP, f"{prefix}plain")
    consumer.assign([TopicPartition(topics.raw, p, 0) for p in (0, 1)])
    producer = pipeline_producer(BOOTSTRAP)
    headers = [("content-type", b"application/json")]
    left = len(lines)
    while left > 0:
        by_partition: dict[int, list[tuple[int, bytes]]] = {}
        for message in consumer.consume(1000, 0.2):
            if message.error() is None:
                by_partition.setdefault(message.partition(), []).append((message.offset(), message.value()))
        for partition, records in by_partition.items():
            left -= len(records)
            for value in work(records, topics.raw, partition):
                producer.produce(topics.events, value, headers=headers)
        producer.flush()
    consumer.close()
    got, seconds = _span(topics.events, events)
    return got / seconds if seconds else float("nan")


def bench_quix(domain: Domain, lines: list[bytes], events: int) -> float:
    """The peer: Quix Streams, one message at a time through the same normalize + detect."""
    from quixstreams import Application

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics = _topics(prefix, domain)
    publish(BOOTSTRAP, [(topics.raw, line) for line in lines])
    work = SameWork(domain)
    app = Application(
        broker_address=BOOTSTRAP,
        consumer_group=f"{prefix}quix",
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        loglevel=None,
        auto_create_topics=False,
    )
    source = app.topic(topics.raw, value_deserializer="bytes")
    sink = app.topic(topics.events, value_serializer="bytes", key_serializer="bytes")
    seen = [0]
    clock: list[float] = []  # when the first and the latest message were processed

    def normalize(value: bytes) -> list[bytes]:
        seen[0] += 1
        clock[1:] = [time.monotonic()]
        if seen[0] == 1:
            clock[:1] = [time.monotonic()]
        if seen[0] >= len(lines):
            threading.Timer(2.0, app.stop).start()  # let the last produce and commit finish
        return work([(0, value)], topics.raw)

    sdf = app.dataframe(source).apply(normalize, expand=True)
    sdf.to_topic(sink)
    app.run()
    # Quix stamps each output with its input's timestamp (the devices' day), so CreateTime spans say
    # nothing here: time it from the first to the last message it processed instead.
    got, _ = _span(topics.events, events)
    return got / (clock[-1] - clock[0]) if len(clock) == 2 and clock[-1] > clock[0] else float("nan")


def _live_line(index: int, devices: list[str], boxes: list[str]) -> tuple[bytes, bool]:
    """A security record stamped now: a heartbeat, or every 50th a one-key alarm (a new alert)."""
    at = datetime.now(UTC)
    if index % 50 == 0:  # a box of its own (not in the registry), so every alarm is a new alert
        device = f"LAT-{index:09d}"
        body = alarmbox_json(device, "one_key", "active", at)
        source = "alarmbox"
    else:
        device = devices[index % len(devices)]
        body = gb28181_keepalive_xml(device, index)
        source = "gb28181"
    envelope = RawEnvelope.of_bytes(body, domain="security", source=source, received_at=at, key=device)  # type: ignore[arg-type]
    return envelope.model_dump_json().encode(), index % 50 == 0


def bench_latency(rates: list[int], seconds: float, instances: int = 1) -> dict[int, tuple[float, float, int]]:
    """Produce→alert latency (p50, p99 in s, alerts) for security at each rate, `instances` running pipelines."""
    prefix = f"lat{uuid.uuid4().hex[:6]}."
    topics = _topics(prefix, "security", partitions=max(2, instances))
    registry = city_registry()
    devices = sorted(d.device_id for d in registry.devices.values() if d.kind == "camera")
    boxes = sorted(d.device_id for d in registry.devices.values() if d.kind == "alarm_box")
    spawn = multiprocessing.get_context("spawn")
    runs = [
        spawn.Process(
            target=run_streaming,
            args=(["security"], BOOTSTRAP, PRISM, None, city_store()),
            kwargs={"group_id": f"{prefix}g", "topic_prefix": prefix, "instance": Instance(i, instances)},
            daemon=True,
        )
        for i in range(instances)
    ]
    for run in runs:
        run.start()
    time.sleep(15)  # Prism and the worker start; the reader reaches the (empty) topic
    producer = raw_producer(BOOTSTRAP)
    sent: dict[str, tuple[int, float]] = {}  # alarm box → (rate, send time) of its pending alarm
    index = 0
    for rate in rates:
        start = time.time()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            line, alarm = _live_line(index, devices, boxes)
            record = raw_record(line)
            if alarm:
                sent[json.loads(line)["key"] + f"@{index}"] = (rate, time.time())
            producer.send(
                topics.raw, key=record.key, value=record.value, headers=record.headers, timestamp_ms=record.timestamp_ms
            )
            index += 1
        producer.flush()
        time.sleep(3)  # let the phase drain before the next one starts
    producer.close()
    time.sleep(5)
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign(
        [KafkaTopicPartition(topics.alerts, p) for p in sorted(consumer.partitions_for_topic(topics.alerts))]
    )
    # An alarm's alert is the first one_key alert of its box after it was sent: match in send order.
    pending: dict[str, list[tuple[int, float]]] = {}
    for key, value in sorted(sent.items(), key=lambda kv: kv[1][1]):
        pending.setdefault(key.split("@")[0], []).append(value)
    latencies: dict[int, list[float]] = {rate: [] for rate in rates}
    seen: set[str] = set()
    for _ in range(20):
        for records in consumer.poll(timeout_ms=500, max_records=10000).values():
            for r in sorted(records, key=lambda r: r.timestamp):
                alert = json.loads(r.value)
                if alert["rule"] != "security.one_key_alarm" or alert["fingerprint"] in seen:
                    continue
                seen.add(alert["fingerprint"])
                queue = pending.get(alert["subject"])
                if queue:
                    rate, at = queue.pop(0)
                    latencies[rate].append(r.timestamp / 1000 - at)
    consumer.close()
    _stop_children()
    result = {}
    for rate, values in latencies.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] if values else float("nan")
        result[rate] = (statistics.median(values) if values else float("nan"), p99, len(values))
    return result


def _stop_children() -> None:
    """The pipelines of the latency phase run until stopped: stop them and their Prism runners."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20000, help="raw records per domain")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each latency phase")
    parser.add_argument("--sim", type=Path, default=Path("out/bench-sim"))
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    parser.add_argument("--instances", type=int, default=2, help="pipeline processes of the second Prism column")
    parser.add_argument("--rates", nargs="*", type=int, default=[2000, 4000, 8000], help="latency phases, records/s")
    args = parser.parse_args()
    print(machine())
    sim = simulate(args.sim) if not (args.sim / "raw" / "security.jsonl").exists() else None
    raw_dir = (sim.out_dir if sim else args.sim) / "raw"
    n = args.instances
    runners: list[tuple[str, Callable[[Domain, list[bytes], int], float]]] = [
        ("prism", bench_prism),
        (f"prism×{n}", lambda d, lines, events: bench_prism(d, lines, events, n)),
        ("plain", bench_plain),
        ("quix", bench_quix),
    ]
    rows: list[tuple[str, dict[str, float]]] = []
    for domain in args.domains:
        source = (raw_dir / f"{domain}.jsonl").read_bytes().splitlines()
        lines = [source[i % len(source)] for i in range(args.records)]  # small domains repeat their day
        events = _expected_events(domain, lines)
        rates = {name: fn(domain, lines, events) for name, fn in runners}
        rows.append((domain, rates))
        print(f"  {domain}: {rates}", flush=True)
    print(f"\nthroughput raw → events, {args.records:,} raw records per domain, events/s")
    print(f"(prism: 1 process + its Prism; prism×{n}: {n} such; plain and quix: 1 process each)")
    header = "".join(f"{name:>10}" for name, _ in runners)
    print(f"{'domain':10}{header} {'best/plain':>11} {'best/quix':>10}")
    for domain, rates in rows:
        best = max(rates["prism"], rates[f"prism×{n}"])
        cells = "".join(f"{rates[name]:10,.0f}" for name, _ in runners)
        print(f"{domain:10}{cells} {best / rates['plain']:11.2f} {best / rates['quix']:10.2f}")
    for count in sorted({1, n}) if args.rates else ():
        latency = bench_latency(args.rates, args.seconds, count)
        print(f"\nproduce → alert latency, security on Prism, {count} process(es), {args.seconds:g} s per rate")
        print(f"{'rate/s':>8} {'p50 s':>8} {'p99 s':>8} {'alerts':>7}")
        for rate, (p50, p99, alerts) in latency.items():
            print(f"{rate:8,} {p50:8.3f} {p99:8.3f} {alerts:7}")
        steady = [rate for rate, (_, p99, alerts) in latency.items() if alerts and p99 < 1.0]
        print(f"highest tried rate with p99 < 1 s: {max(steady):,}/s" if steady else "no tried rate had p99 < 1 s")
    _stop_children()


if __name__ == "__main__":
    main()
