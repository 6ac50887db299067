"""Soak (`make soak`): the streaming runner for 30 minutes at 2,000 events/s mixed across the domains.

Every minute it samples what went in and came out (records/s produced, events/s written), the p99
of produce → alert latency of that minute's one-key alarms, the pipeline's resident memory (the
`safecampus run` process, its Prism runner and SDK workers together) and the consumer group's lag on
the raw topics; at the end it draws them as a PNG and says whether memory and lag stayed flat
(second half against first half). Exits 1 when they did not.

The mix, all stamped now: GB/T 28181 keepalives of the registry's cameras (most of the load), the
60 buses' JT/T 808 fixes once a second each along their routes, one-key alarms of registered alarm
boxes (raised, then cleared 2 s later; each box at most once in 10 minutes, under the flapping rule),
and canteen ledger and fire inspection lines from a simulated term. Runs on the private broker and
PostgreSQL of bench/chaos.py, so the store of the shared services does not grow.

    python bench/soak.py [--minutes 30] [--rate 2000] [--png out/soak.png] [--instances 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_replay import city_registry, machine  # bench/ is sys.path[0] when run as a script
from chaos import BOOTSTRAP, GROUP, fresh_store, fresh_topics, private_services, start_run

ALL = ("security", "bus", "canteen", "fire")


class Mix:
    """Raw envelope lines stamped now, in the proportions the docstring gives."""

    def __init__(self, term: Path, day: Path) -> None:
        from safecampus.connectors.bus.jt808_decode import decode_frame
        from safecampus.connectors.bus.jt808_frame import Jt808Error
        from safecampus.connectors.bus.jt808_messages import LocationReport

        registry = city_registry()
        self.cameras = sorted(d.device_id for d in registry.devices.values() if d.kind == "camera")
        self.boxes = sorted(d.device_id for d in registry.devices.values() if d.kind == "alarm_box")
        self.ledger = {d: (term / "raw" / f"{d}.jsonl").read_bytes().splitlines() for d in ("canteen", "fire")}
        self.tracks: dict[str, list[LocationReport]] = {}
        for line in (day / "raw" / "bus.jsonl").read_bytes().splitlines()[:200_000]:
            envelope = json.loads(line)
            if envelope["source"] != "jt808":
                continue
            try:
                message = decode_frame(bytes.fromhex(envelope["payload"]))
            except (Jt808Error, ValueError):  # the simulated day's damaged frames: not a track
                continue
            if isinstance(message.payload, LocationReport):
                self.tracks.setdefault(message.phone, []).append(message.payload)
        self.sn = 0
        self.next_box = 0
        self.open_alarms: list[tuple[float, str]] = []  # (clear at, box)
        self.sent_alarms: list[tuple[str, float]] = []  # (box, sent at): the latency probes

    def security(self) -> bytes:
        from safecampus.simulator.security_payloads import gb28181_keepalive_xml

        self.sn += 1
        device = self.cameras[self.sn % len(self.cameras)]
        return self._envelope("security", "gb28181", gb28181_keepalive_xml(device, self.sn), device)

    def alarm(self, now: float) -> bytes:
        from safecampus.simulator.security_payloads import alarmbox_json

        box = self.boxes[self.next_box % len(self.boxes)]
        self.next_box += 1
        self.open_alarms.append((now + 2, box))
        self.sent_alarms.append((box, now))
        return self._envelope("security", "alarmbox", alarmbox_json(box, "one_key", "active", _now()), box)

    def cleared(self, now: float) -> list[bytes]:
        from safecampus.simulator.security_payloads import alarmbox_json

        due = [box for at, box in self.open_alarms if at <= now]
        self.open_alarms = [(at, box) for at, box in self.open_alarms if at > now]
        return [
            self._envelope("security", "alarmbox", alarmbox_json(box, "one_key", "inactive", _now()), box)
            for box in due
        ]

    def fixes(self, second: int) -> list[bytes]:
        from safecampus.connectors.bus.jt808_encode import encode_location_body
        from safecampus.connectors.bus.jt808_frame import MSG_LOCATION, encode_frame

        lines = []
        for terminal, track in self.tracks.items():
            report = dataclasses.replace(track[second % len(track)], time=_now())
            frame = encode_frame(MSG_LOCATION, terminal, second % 65536, encode_location_body(report))
            lines.append(self._envelope("bus", "jt808", frame, terminal))
        return lines

    def ledger_line(self, domain: str, n: int) -> bytes:
        return self.ledger[domain][n % len(self.ledger[domain])]

    @staticmethod
    def _envelope(domain: str, source: str, body: bytes, key: str) -> bytes:
        from safecampus.schemas.envelope import RawEnvelope

        envelope = RawEnvelope.of_bytes(body, domain=domain, source=source, received_at=_now(), key=key)  # type: ignore[arg-type]
        return envelope.model_dump_json().encode()


def _now() -> datetime:
    return datetime.now(UTC)


def produce(mix: Mix, rate: float, minutes: float, stop: threading.Event, sent: list[int]) -> threading.Thread:
    """Send the mix at `rate` records/s in 100 ms steps; `sent` counts what was acknowledged."""
    from safecampus.connectors.kafka import Topics
    from safecampus.publisher import raw_producer, raw_record

    topics = Topics("")

    def run() -> None:
        producer = raw_producer(BOOTSTRAP)
        started = time.monotonic()
        step, n = 0, 0
        while not stop.is_set() and time.monotonic() - started < minutes * 60:
            now = time.time()
            batch: list[tuple[str, bytes]] = []
            if step % 10 == 0:
                second = step // 10
                batch += [(topics.raw("bus"), line) for line in mix.fixes(second)]
                batch += [(topics.raw("canteen"), mix.ledger_line("canteen", second * 10 + i)) for i in range(10)]
                batch += [(topics.raw("fire"), mix.ledger_line("fire", second * 5 + i)) for i in range(5)]
            if step % 20 == 0:  # one alarm every 2 s
                batch.append((topics.raw("security"), mix.alarm(now)))
            batch += [(topics.raw("security"), line) for line in mix.cleared(now)]
            while len(batch) < (step + 1) * rate / 10 - n:
                batch.append((topics.raw("security"), mix.security()))
            for topic, line in batch:
                record = raw_record(line)
                producer.send(
                    topic, key=record.key, value=record.value, headers=record.headers, timestamp_ms=record.timestamp_ms
                )
            n += len(batch)
            sent[0] = n
            step += 1
            delay = started + step / 10 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.flush()
        producer.close()

    thread = threading.Thread(target=run, name="soak-producer", daemon=True)
    thread.start()
    return thread


class AlertWatch(threading.Thread):
    """Follows the alerts topic: the time each probe alarm's alert was written (CreateTime)."""

    def __init__(self) -> None:
        super().__init__(name="soak-alerts", daemon=True)
        self.seen: dict[str, list[float]] = {}  # box → alert write times
        self.done = threading.Event()

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", enable_auto_commit=False)
        consumer.assign([TopicPartition("alerts", p) for p in (0, 1)])
        while not self.done.is_set():
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    alert = json.loads(r.value)
                    if alert["rule"] == "security.one_key_alarm" and alert.get("status") == "firing":
                        self.seen.setdefault(alert["subject"], []).append(r.timestamp / 1000)
        consumer.close()

    def latencies(self, probes: list[tuple[str, float]]) -> list[float]:
        """Per probe (box, sent at): seconds to the first alert of that box written after it was sent."""
        out = []
        for box, at in probes:
            later = [t for t in self.seen.get(box, []) if t >= at - 0.5]
            if later:
                out.append(min(later) - at)
        return out


def rss_mib(proc: Any) -> float:
    """Resident memory of the run process and all its descendants (Prism, SDK workers)."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return float("nan")


def lag() -> int:
    """Records on the raw topics the group has not committed yet."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
    try:
        committed = admin.list_group_offsets(GROUP).get(GROUP, {})
        tps = [TopicPartition(f"raw.{d}", p) for d in ALL for p in (0, 1)]
        ends = consumer.end_offsets(tps)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps)
    finally:
        consumer.close()
        admin.close()


def events_written() -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
    try:
        return sum(consumer.end_offsets([TopicPartition(f"events.{d}", p) for d in ALL for p in (0, 1)]).values())
    finally:
        consumer.close()


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))] if values else float("nan")


def flat(series: list[float], tolerance: float, floor: float) -> bool:
    """Whether the second half's mean stays within `tolerance` (relative) or `floor` (absolute) of the first's."""
    half = len(series) // 2
    if half < 1:
        return True
    first, second = sum(series[:half]) / half, sum(series[half:]) / (len(series) - half)
    return second - first <= max(first * tolerance, floor)


def draw(samples: list[dict[str, float]], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "DejaVu Sans"]
    minutes = [s["minute"] for s in samples]
    panels = [
        ("events_per_s", "吞吐 throughput (events/s)"),
        ("p99_s", "告警延迟 p99 produce → alert (s)"),
        ("rss_mib", "内存 RSS (MiB)"),
        ("lag", "消费滞后 consumer lag (records)"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 10), sharex=True)
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.plot(minutes, [s[key] for s in samples], marker="o")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("分钟 minute")
    fig.suptitle(title, fontsize=10)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2000, help="records produced per second, all domains")
    parser.add_argument("--png", type=Path, default=Path("out/soak.png"))
    parser.add_argument("--instances", type=int, default=1, help="pipeline processes sharing the partitions")
    args = parser.parse_args()
    print(machine())
    with private_services(keep=False):  # the pipelines and the private services never outlive the run
        fresh_store()
        fresh_topics(ALL, partitions=max(2, args.instances))
        from safecampus.simulator.run import simulate

        term, day = (Path(tempfile.mkdtemp(prefix=f"soak-{name}-")) for name in ("term", "day"))
        simulate(term, days=60, domains=("canteen", "fire"))  # canteen and fire write ~1,000 lines a day
        simulate(day, domains=("bus",))
        mix = Mix(term, day)
        watch = AlertWatch()
        watch.start()
        n = args.instances
        procs = [
            start_run(*(("--instance", str(i), "--instances", str(n)) if n > 1 else ()), domains=ALL) for i in range(n)
        ]
        try:
            time.sleep(20)  # Prism and the workers start before the load does
            stop, sent = threading.Event(), [0]
            feeding = produce(mix, args.rate, args.minutes, stop, sent)
            samples: list[dict[str, float]] = []
            started, last_sent, last_events, probes_done = time.monotonic(), 0, events_written(), 0
            for minute in range(1, int(args.minutes) + 1):
                time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
                events, probes = events_written(), mix.sent_alarms[:]
                window = [p for p in probes[probes_done:] if p[1] < time.time() - 10]  # give each probe 10 s to arrive
                probes_done += len(window)
                sample = {
                    "minute": minute,
                    "sent_per_s": (sent[0] - last_sent) / 60,
                    "events_per_s": (events - last_events) / 60,
                    "p99_s": p99(watch.latencies(window)),
                    "alarms": len(window),
                    "rss_mib": sum(rss_mib(proc) for proc in procs),
                    "lag": lag(),
                }
                last_sent, last_events = sent[0], events
                samples.append(sample)
                print(json.dumps({k: round(v, 3) for k, v in sample.items()}), flush=True)
            stop.set()
            feeding.join(timeout=30)
        finally:
            watch.done.set()
    rss_ok = flat([s["rss_mib"] for s in samples], 0.10, 50)
    lag_ok = flat([s["lag"] for s in samples], 0.50, args.rate * 5)
    title = f"safecampus soak 浸泡测试: {args.minutes:g} min at {args.rate:,.0f}/s, {n} instance(s) — {machine()}"
    draw(samples, args.png, title)
    half = samples[len(samples) // 2 :]
    print(
        f"soak: {args.minutes:g} min at {args.rate:,.0f}/s, {n} instance(s); second half: "
        f"{sum(s['events_per_s'] for s in half) / max(len(half), 1):,.0f} events/s, "
        f"p99 {max((s['p99_s'] for s in half if s['p99_s'] == s['p99_s']), default=float('nan')):.2f} s, "
        f"RSS {half[-1]['rss_mib']:,.0f} MiB ({'flat' if rss_ok else 'GROWING'}), "
        f"lag {half[-1]['lag']:,} ({'flat' if lag_ok else 'GROWING'}); chart {args.png}"
    )
    sys.exit(0 if rss_ok and lag_ok else 1)


if __name__ == "__main__":
    random.seed(0)
    main()
