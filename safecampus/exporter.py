"""`safecampus exporter`: the pipelines' KPIs, alerts and DLQ as Prometheus metrics on /metrics.

    safecampus exporter --from-dir out                     # what `demo` or `replay` wrote, no services
    safecampus exporter --kafka 127.0.0.1:9092 --store URL # follows the kpis, alerts and dlq topics
    safecampus exporter --kafka 127.0.0.1:9092 --alertmanager http://127.0.0.1:9193   # and pages through it
    safecampus exporter --from-dir out --openmetrics kpis.om   # history with event times, then exit

The families and their mapping live in `safecampus.dashboards.metrics` (docs/metrics.md); this door
only reads, serves and follows.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from rich.console import Console

from safecampus.config import Settings
from safecampus.dashboards.alertmanager import Pusher
from safecampus.dashboards.live import RegistryCounts, load_dir, openmetrics, take
from safecampus.dashboards.metrics import MetricState
from safecampus.schemas.alert import Alert
from safecampus.schemas.kpi import Kpi
from safecampus.schemas.operations import Acknowledgement

console = Console()
errors = Console(stderr=True)
log = logging.getLogger(__name__)


def _fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def exporter(
    from_dir: Annotated[Path | None, typer.Option(help="serve what replay/demo wrote under DIR")] = None,
    kafka: Annotated[str | None, typer.Option(help="follow the kpis, alerts and dlq topics at HOST:PORT")] = None,
    port: Annotated[int, typer.Option(help="port of /metrics")] = 9108,
    host: Annotated[str, typer.Option(help="address to bind (127.0.0.1 unless told otherwise)")] = "127.0.0.1",
    store: Annotated[
        str | None, typer.Option(help="with --kafka: the store (registry counts; acks given with alerts ack)")
    ] = None,
    topic_prefix: Annotated[str, typer.Option(help="prefix of the topic names (tests)")] = "",
    alertmanager: Annotated[
        str | None, typer.Option(help="with --kafka: push the alerts to this Alertmanager (v2 API), read silences")
    ] = None,
    push_every: Annotated[float, typer.Option(help="seconds between pushes to Alertmanager")] = 15.0,
    group: Annotated[str, typer.Option(help="with --kafka: the pipelines' consumer group, for its lag")] = "safecampus",
    openmetrics_file: Annotated[
        Path | None, typer.Option("--openmetrics", help="with --from-dir: write KPI history as OpenMetrics, exit")
    ] = None,
) -> None:
    """Serve Prometheus metrics of the pipelines (导出 Prometheus 指标)."""
    if (from_dir is None) == (kafka is None):
        _fail("give one of --from-dir DIR or --kafka HOST:PORT（二选一）")
    if alertmanager is not None and kafka is None:
        _fail("--alertmanager needs --kafka: a directory's alerts are history, not pages（需要 --kafka）")
    if from_dir is not None and not from_dir.is_dir():
        _fail(f"{from_dir} is not a directory; run safecampus demo --out {from_dir} first（目录不存在）")
    if openmetrics_file is not None:
        if from_dir is None:
            _fail("--openmetrics needs --from-dir（需要 --from-dir）")
        assert from_dir is not None
        lines = list(openmetrics(from_dir))
        openmetrics_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"已写入 wrote {len(lines) - 1} lines → {openmetrics_file}", highlight=False)
        return
    state = MetricState(live=kafka is not None)
    registry = CollectorRegistry()
    registry.register(state)
    registry.register(ProcessCollector(registry=None))
    if from_dir is not None:
        loaded = load_dir(state, from_dir)
        said = ", ".join(f"{kind} {n}" for kind, n in sorted(loaded.counts.items())) or "nothing"
        console.print(f"读取 read {said} from {from_dir}", highlight=False)
        if loaded.refused:
            errors.print(f"跳过 skipped {len(loaded.refused)} lines that are not records, first: {loaded.refused[0]}")
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port} ({exc.strerror}); is another exporter running? try --port")
    console.print(f"指标 metrics on http://{host}:{port}/metrics — Ctrl-C stops", highlight=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if kafka is not None:
        counts = _registry_counts(store)
        pusher = AlertPush(alertmanager.rstrip("/"), push_every, state, store) if alertmanager else None
        follower = threading.Thread(target=follow, args=(state, kafka, topic_prefix, counts, stop, pusher), daemon=True)
        follower.start()
        if pusher is not None:
            threading.Thread(target=pusher.run, args=(stop,), daemon=True).start()
        lag = threading.Thread(
            target=probe_lag, args=(state, kafka, group, topic_prefix, push_every, stop), daemon=True
        )
        lag.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()


def _registry_counts(store: str | None) -> RegistryCounts | None:
    if store is None:
        return None
    from safecampus.connectors.registry import registry_at
    from safecampus.connectors.store import StoreError

    try:
        return RegistryCounts(registry_at(store), Settings())
    except (StoreError, ValueError) as exc:
        _fail(str(exc))
    return None


class AlertPush:
    """Posts our alerts to Alertmanager's v2 API every `every` seconds; its silences become acknowledgements."""

    def __init__(self, url: str, every: float, state: MetricState, store: str | None = None) -> None:
        self.url, self.every, self.state, self.store = url, every, state, store
        self.pusher = Pusher(every)
        self.lock = threading.Lock()
        self._said = False

    def observe(self, alert: Alert) -> None:
        with self.lock:
            self.pusher.observe(alert)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            try:
                self.push_once()
                self._said = False
            except Exception as exc:  # Alertmanager or the store away, a reply cut short: say so once, retry
                if not self._said:
                    errors.print(
                        f"Alertmanager 无法连接 cannot reach {self.url} ({exc}); retrying every {self.every:g} s"
                    )
                    self._said = True

    def push_once(self) -> None:
        with urllib.request.urlopen(f"{self.url}/api/v2/silences", timeout=10) as answer:
            silences = json.load(answer)
        with self.lock:
            waiting = self.pusher.unacknowledged()
        stored = _stored_acks(self.store, waiting) if self.store and waiting else []
        with self.lock:
            acked = self.pusher.acknowledgements(silences) + self.pusher.apply(stored)
            body, ended = self.pusher.batch(datetime.now(UTC))
        for alert in acked:
            self.state.add_alert(alert)
        if body:
            request = urllib.request.Request(
                f"{self.url}/api/v2/alerts", data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            urllib.request.urlopen(request, timeout=10).close()
        with self.lock:
            self.pusher.sent(ended)


def probe_lag(state: MetricState, bootstrap: str, group: str, prefix: str, every: float, stop: threading.Event) -> None:
    """The pipelines' consumer group's lag on each raw topic: end offsets − committed offsets, every `every`
    seconds. The probe never subscribes, so it joins no group and moves no offset."""
    from kafka import KafkaConsumer, TopicPartition

    from safecampus.connectors.kafka.clients import Topics
    from safecampus.schemas.common import DOMAINS

    topics, consumer = Topics(prefix), None
    while not stop.is_set():
        try:
            if consumer is None:
                consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
            for domain in DOMAINS:
                topic = topics.raw(domain)
                partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                ends = consumer.end_offsets(partitions) if partitions else {}
                committed = {tp: consumer.committed(tp) for tp in partitions}
                if any(offset is not None for offset in committed.values()):
                    behind = sum(ends[tp] - (committed[tp] or 0) for tp in partitions)
                    state.set_lag(group, topic, float(max(behind, 0)))
        except Exception as exc:  # the broker away: the gauge keeps its last value, the next probe retries
            log.info("consumer lag probe failed: %s", exc)
        stop.wait(every)
    if consumer is not None:
        consumer.close()


def _stored_acks(store: str, fingerprints: list[str]) -> list[Acknowledgement]:
    """Acknowledgements given with `safecampus alerts ack` in the store, for these alerts."""
    from sqlmodel import Session, col, select

    from safecampus.connectors.store import engine_for
    from safecampus.schemas.store import AcknowledgementRow

    with Session(engine_for(store)) as session:
        rows = session.exec(select(AcknowledgementRow).where(col(AcknowledgementRow.fingerprint).in_(fingerprints)))
        return [
            Acknowledgement(
                fingerprint=row.fingerprint,
                operator_id=row.operator_id,
                acknowledged_at=row.acknowledged_at
                if row.acknowledged_at.tzinfo
                else row.acknowledged_at.replace(tzinfo=UTC),
                comment=row.comment,
            )
            for row in rows
        ]


def follow(
    state: MetricState,
    bootstrap: str,
    prefix: str,
    counts: RegistryCounts | None,
    stop: threading.Event,
    pusher: AlertPush | None = None,
) -> None:
    """Read the kpis, alerts and dlq topics from their start (counters are totals over what they keep)."""
    from kafka import KafkaConsumer

    from safecampus.connectors.kafka.clients import Topics

    topics = Topics(prefix)
    kinds = {topics.kpis: "kpis", topics.alerts: "alerts", topics.dlq: "dlq"}
    if counts is not None:
        state.replace(counts.samples())
    consumer = None
    while consumer is None and not stop.is_set():
        try:
            consumer = KafkaConsumer(
                *kinds, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
            )
        except Exception as exc:  # no broker yet: say so, retry (kafka-python reconnects by itself once made)
            errors.print(f"Kafka 无法连接 cannot reach Kafka at {bootstrap} ({type(exc).__name__}); retrying in 5 s")
            stop.wait(5)
    said = False
    while consumer is not None and not stop.is_set():
        grew = False
        try:
            polled = consumer.poll(timeout_ms=500, max_records=5000)
            said = False
        except Exception as exc:  # the broker went away mid-poll: say so once, keep serving, poll again
            if not said:
                errors.print(f"Kafka 读取中断 lost Kafka at {bootstrap} ({type(exc).__name__}); retrying")
                said = True
            stop.wait(2)
            continue
        for batch in polled.values():
            for message in batch:
                grew |= _take(state, kinds[message.topic], message.value, counts, pusher)
        if grew and counts is not None:
            state.replace(counts.samples())
    if consumer is not None:
        consumer.close()


def _take(state: MetricState, kind: str, value: bytes, counts: RegistryCounts | None, pusher: AlertPush | None) -> bool:
    try:
        record = take(state, kind, value)
    except ValueError:
        log.info("skipped a %s record that is not one", kind)
        return False
    if pusher is not None and isinstance(record, Alert):
        pusher.observe(record)
    return counts is not None and isinstance(record, Kpi) and counts.observe(record)
