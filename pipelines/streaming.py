"""The streaming pipelines: Kafka raw.<domain> in, events, alerts, DLQ and the SQL store out, on Prism.

    safecampus run bus security --kafka 127.0.0.1:9092 --store postgresql+psycopg2://…

Per domain the graph is one fused stage:

    ReadFromKafka(raw.<domain>)        batches of one partition's poll (one element each)
      → ProcessBatch                   normalize_lines → detectors → store upsert (one transaction)
          ├─ events → WriteToKafka(events.<domain>)   key = subject
          ├─ dlq    → WriteToKafka(dlq)               key = source topic
          ├─ alerts → WriteToKafka(alerts)            key = fingerprint
          └─ kpis   → WriteToKafka(kpis)              key = metric{labels}: additive counts of the bundle

Nothing is shuffled, so the store write and the producers' flush (in `finish_bundle`) happen inside
the reading bundle, before its finalization commits the Kafka offsets: a crash replays what was not
committed and the idempotent sinks (natural keys, fingerprints) double nothing.

Detection needs no shuffle either: raw topics are keyed by device, so every record of a subject is
in one partition. Detectors live in memory per partition, shared by the DoFn instances of one
pipeline in a worker process (Prism resumes a partition's residual restriction on whichever instance
is free). Their state is not a checkpoint of its own (Prism keeps none) but a function of the stored
events: after a restart, or when another process read the partition (an offset gap), a subject's
detector is rebuilt from its stored events (`DomainPipeline.detector_history`: the last
`detector_history_h` hours, or all of them for fire) and told its subject's stored alerts. Deadlines
(device offline, terminal silent, a day's fire patrols) are event-time timers kept here rather than
Beam timers: each partition's clock is its newest record timestamp (the gateway's receive time), and
detectors whose deadline it passes are expired, also a deadline already behind the clock when its
subject's late record arrives. This also avoids Prism's open issue with event-time timers and split
bundles (apache/beam #35771).
"""

from __future__ import annotations

import heapq
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import FixedWindows, GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from safecampus.config import Settings
from safecampus.connectors.kafka import (
    EVERY_PARTITION,
    JSON_HEADERS,
    Instance,
    KafkaMessage,
    ReadFromKafka,
    Topics,
    WriteToKafka,
    json_records,
)
from safecampus.connectors.registry import registry_at
from safecampus.connectors.store import StoreSink
from safecampus.pipelines.catalog import pipeline_class, pipeline_for
from safecampus.pipelines.detection import attach_offsets, detection_failed, is_stateful, kpis_of, refused_dlq
from safecampus.pipelines.domain import Detector, DomainPipeline, KpiPartials, leniency_partials, merge_partials
from safecampus.pipelines.normalize import event_rows, normalize_lines, tune_gc
from safecampus.pipelines.operations import OperationsLog, operations_log
from safecampus.pipelines.rebuild import rebuilt_detector
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Domain, Record

__all__ = ["build_streaming"]

log = logging.getLogger(__name__)


@dataclass
class PartitionState:
    """Detectors of the subjects seen on one Kafka partition, its clock and its pending deadlines."""

    next_offset: int = -1
    clock: datetime | None = None
    detectors: dict[str, Detector[Record]] = field(default_factory=dict)
    # A heap of (deadline, subject) and each subject's pending deadline: an entry that is not its subject's
    # pending one is stale (the deadline moved; a camera's moves at every keepalive) and is skipped. Stale
    # entries are dropped once they outnumber the live ones, so the heap stays about one entry per subject.
    deadlines: list[tuple[datetime, str]] = field(default_factory=list)
    pending: dict[str, datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def schedule(self, subject: str, deadline: datetime | None) -> None:
        if deadline is None:
            self.pending.pop(subject, None)
        elif self.pending.get(subject) != deadline:
            self.pending[subject] = deadline
            heapq.heappush(self.deadlines, (deadline, subject))
            if len(self.deadlines) > 2 * len(self.pending) + 1024:
                self.deadlines = [(at, s) for s, at in self.pending.items()]
                heapq.heapify(self.deadlines)

    def due(self) -> Iterator[str]:
        """The subjects whose pending deadline the clock has reached, earliest first (each taken off)."""
        while self.deadlines and self.clock is not None and self.deadlines[0][0] <= self.clock:
            at, subject = heapq.heappop(self.deadlines)
            if self.pending.get(subject) == at:
                del self.pending[subject]
                yield subject


# The partitions' states in this worker process by (pipeline's ProcessBatch, topic, partition): Prism hands a
# partition's next bundle to any instance of the stage; a state kept per instance was rebuilt at each move.
_STATES: dict[tuple[str, str, int], PartitionState] = {}
_STATES_LOCK = threading.Lock()
# Instances set up per pipeline: Beam tears down a bundle processor idle for a minute while its siblings go on,
# and dropping the shared states then made the busy instance rebuild every subject from the store.
_USERS: dict[str, int] = {}


class ProcessBatch(beam.DoFn):  # type: ignore[misc]
    """One Kafka batch → events, DLQ and alerts as producer records, after upserting them to the store."""

    def __init__(
        self,
        domain: Domain,
        settings: Settings,
        registry_url: str,
        store_url: str | None,
        operations: tuple[str, Topics] | None = None,
    ) -> None:
        self.domain, self.settings = domain, settings
        self.registry_url, self.store_url = registry_url, store_url
        self.operations_at = operations  # (bootstrap, topics) of the operators' log, or None
        self.run_id = uuid.uuid4().hex  # one per pipeline: its instances share the partitions' states

    def setup(self) -> None:
        self.pipeline: DomainPipeline[Record] = pipeline_for(self.domain, self.settings, registry_at(self.registry_url))
        self.sink = StoreSink(self.store_url) if self.store_url else None
        self.stateful = is_stateful(self.pipeline)
        self.history = self.pipeline.detector_history()
        self.operations: OperationsLog | None = None
        if self.operations_at is not None:
            bootstrap, topics = self.operations_at
            self.operations = operations_log(bootstrap, topics.operations, topics.alerts, topics.dlq, self.store_url)
        tune_gc(self.settings.gc_young_threshold)
        with _STATES_LOCK:
            _USERS[self.run_id] = _USERS.get(self.run_id, 0) + 1

    def start_bundle(self) -> None:
        # The KPI counts of the bundle's batches, summed and written once at its end: a batch of 1,000 ledger
        # lines made ~700 KPI records (one per canteen and category), a third of the stage's time.
        self._kpis: KpiPartials = {}
        self._kpi_span: tuple[datetime, datetime] | None = None
        self._kpi_stamp = MIN_TIMESTAMP

    def teardown(self) -> None:
        with _STATES_LOCK:  # the pipeline's last instance here takes its partitions' states with it
            _USERS[self.run_id] = _USERS.get(self.run_id, 1) - 1
            if _USERS[self.run_id] <= 0:
                del _USERS[self.run_id]
                for key in [key for key in _STATES if key[0] == self.run_id]:
                    del _STATES[key]

    def process(self, batch: list[KafkaMessage], timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        if not batch:
            return
        first = batch[0]
        out = normalize_lines(self.pipeline, [(m.offset, m.value) for m in batch], first.topic, first.partition)
        alerts, derived = list(out.alerts), []
        if self.stateful:
            clock = datetime.fromtimestamp(max(m.timestamp_ms for m in batch) / 1000, UTC)
            detected = self._detect(first.topic, first.partition, first.offset, batch[-1].offset, out.events, clock)
            alerts += attach_offsets(detected, out.origins, first.topic, first.partition)
            out.dlq += refused_dlq(
                self.domain, self._refused, self.pipeline.event_id, out.origins, first.topic, first.partition
            )
            derived = [r for detector in self._touched for r in detector.take_records()]
        if self.operations is not None:
            alerts = self.operations.apply(alerts)  # acknowledged, suppressed: as replay's --operations
        bodies = [e.model_dump_json() for _, e in out.events]  # once: the topic and the store share it
        if self.sink is not None:
            self.sink.write(events=event_rows(self.pipeline, out.events, bodies), alerts=alerts, dlq=out.dlq)
        if derived:
            streams = self.pipeline.by_stream(derived)  # a bus run, a centre visit: keyed by subject
            keyed = {s: json_records(rs, lambda r: str(getattr(r, "subject", ""))) for s, rs in streams.items()}
            yield beam.pvalue.TaggedOutput("derived", keyed)
        if out.events:
            yield [(s.encode(), b.encode(), JSON_HEADERS) for (s, _), b in zip(out.events, bodies, strict=True)]
        if out.dlq:
            yield beam.pvalue.TaggedOutput("dlq", json_records(out.dlq, lambda r: r.source_topic))
        if alerts:
            yield beam.pvalue.TaggedOutput("alerts", json_records(alerts, lambda a: a.fingerprint))
        if out.earliest and out.latest:
            self._add_kpis(out.events, alerts, derived, out.lenient, out.earliest, out.latest, timestamp)

    def _add_kpis(
        self,
        events: list[tuple[str, Record]],
        alerts: list[Alert],
        derived: list[Record],
        lenient: list[str],
        start: datetime,
        end: datetime,
        timestamp: Timestamp,
    ) -> None:
        """Add the batch's additive counts to the bundle's (sums add up across batches); ratios are the
        exporter's to derive. `lenient` are what the lines themselves bent (a BOM), counted as in replay."""
        partials = self.pipeline.kpi_partials([e for _, e in events], alerts, derived)
        for key, value in merge_partials([partials, leniency_partials(self.domain, [], lenient)]).items():
            self._kpis[key] = self._kpis.get(key, 0.0) + value
        span = self._kpi_span
        self._kpi_span = (min(span[0], start), max(span[1], end)) if span else (start, end)
        self._kpi_stamp = max(self._kpi_stamp, timestamp)

    def finish_bundle(self) -> Iterator[beam.pvalue.TaggedOutput]:
        """The bundle's KPI counts, before the writers flush (they finish after this stage) and so before the
        reader's finalization commits the offsets: a crash replays the batches and their counts together."""
        counts = {key: value for key, value in self._kpis.items() if not key[0].startswith("_")}
        if counts and self._kpi_span:
            records = [
                (k.key().encode(), k.model_dump_json().encode(), JSON_HEADERS)
                for k in kpis_of(self.domain, counts, *self._kpi_span)
            ]
            yield beam.pvalue.TaggedOutput("kpis", WindowedValue(records, self._kpi_stamp, (GlobalWindow(),)))

    def _detect(
        self,
        topic: str,
        partition: int,
        first_offset: int,
        last_offset: int,
        events: list[tuple[str, Record]],
        clock: datetime,
    ) -> list[Alert]:
        key = (self.run_id, topic, partition)
        with _STATES_LOCK:
            state = _STATES.get(key)
            if state is None or state.next_offset != first_offset:
                # New in this process, or another one read this partition meanwhile: rebuild from the store.
                state = _STATES[key] = PartitionState()
        with state.lock:
            state.next_offset = last_offset + 1
            return self._detect_on(state, events, clock)

    def _detect_on(self, state: PartitionState, events: list[tuple[str, Record]], clock: datetime) -> list[Alert]:
        pipeline, alerts = self.pipeline, []
        self._touched: list[Detector[Record]] = []  # whose derived records this batch may have made
        self._refused: list[tuple[str, Record | None, str]] = []  # events a rule failed on: to the DLQ
        by_subject: dict[str, list[Record]] = {}
        for subject, event in events:
            by_subject.setdefault(subject, []).append(event)
        for subject, mine in by_subject.items():
            mine.sort(key=pipeline.occurred_at)
            detector = state.detectors.get(subject)
            created = detector is None
            if detector is None:
                detector = rebuilt_detector(self.pipeline, subject, mine, self.store_url, self.history)
                if detector is None:
                    continue
                state.detectors[subject] = detector
            for event in mine:
                try:
                    alerts.extend(detector.observe(event))
                except Exception as exc:  # one record must never stop a run: it goes to the DLQ
                    self._refused.append((subject, event, detection_failed(exc)))
            self._touched.append(detector)
            # A new or rebuilt detector's clock is its own records': a deadline behind the partition's clock
            # is expired below, as the detectors the clock has been moving were.
            self._schedule(state, subject, detector, past=created)
        state.clock = clock if state.clock is None or clock > state.clock else state.clock
        for subject in state.due():
            detector = state.detectors[subject]
            try:
                alerts.extend(detector.expire(state.clock))
            except Exception as exc:
                self._refused.append((subject, None, detection_failed(exc)))
            self._touched.append(detector)
            self._schedule(state, subject, detector, past=False)
        return alerts

    def _schedule(self, state: PartitionState, subject: str, detector: Detector[Record], past: bool) -> None:
        try:
            deadline = detector.next_deadline()
        except Exception as exc:  # e.g. a deadline past the calendar's end: no timer, said in the DLQ
            self._refused.append((subject, None, detection_failed(exc)))
            deadline = None
        # After an expiry only future deadlines: one the clock has passed was just expired (no busy loop on it).
        if not past and deadline is not None and state.clock is not None and deadline <= state.clock:
            deadline = None
        state.schedule(subject, deadline)


class _SecondStage(beam.PTransform):  # type: ignore[misc]
    """A stage boundary for an always-empty PCollection: a GroupByKey (Prism fuses through a Reshuffle)."""

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        keyed = pcoll | "Key" >> beam.Map(lambda value: (b"", value))
        # Windowed: Beam refuses a GroupByKey of an unbounded PCollection in the global window.
        return keyed | "Window" >> beam.WindowInto(FixedWindows(60)) | "Group" >> beam.GroupByKey()


def build_streaming(
    root: beam.Pipeline,
    domain: Domain,
    bootstrap: str,
    group_id: str,
    settings: Settings,
    registry_url: str,
    store_url: str | None,
    stop_at_end: bool = False,
    topic_prefix: str = "",
    max_batch: int = 1000,
    instance: Instance = EVERY_PARTITION,
) -> None:
    """Add one domain's streaming graph (see the module docstring) to `root`; `instance` says which share of
    the raw topic's partitions this pipeline reads (all of them by default)."""
    name = domain.capitalize()
    topics = Topics(topic_prefix)
    batches = root | f"{name}Read" >> ReadFromKafka(
        bootstrap, [topics.raw(domain)], group_id, max_batch=max_batch, stop_at_end=stop_at_end, instance=instance
    )
    parts = batches | f"{name}Process" >> beam.ParDo(
        ProcessBatch(domain, settings, registry_url, store_url, (bootstrap, topics))
    ).with_outputs("dlq", "alerts", "kpis", "derived", main="events")
    written = parts.events | f"{name}WriteEvents" >> WriteToKafka(bootstrap, topics.events(domain))
    # Prism 2.77 spins a core for as long as a bundle runs in a stage that sends nothing back to it: such a
    # bundle's "outputs done" channel is closed from the start and its progress loop selects it again and
    # again (worker/bundle.go Init, stage.go Execute). The writes make no records, so one (always empty)
    # output to a stage of its own makes the loop wait for the bundle instead. See the README, streaming.
    _ = written | f"{name}KeepPrismWaiting" >> _SecondStage()
    _ = parts.dlq | f"{name}WriteDlq" >> WriteToKafka(bootstrap, topics.dlq)
    _ = parts.alerts | f"{name}WriteAlerts" >> WriteToKafka(bootstrap, topics.alerts)
    _ = parts.kpis | f"{name}WriteKpis" >> WriteToKafka(bootstrap, topics.kpis)
    for stream, _kind in pipeline_class(domain).derived:
        records = parts.derived | f"{name}{stream}Records" >> beam.FlatMap(lambda s, n=stream: [s[n]] if n in s else [])
        _ = records | f"{name}Write{stream}" >> WriteToKafka(bootstrap, topics.derived(stream, domain))
