"""The streaming pipelines: Kafka raw.<domain> in, events, alerts, DLQ and the SQL store out, on Prism.

    safecampus run bus security --kafka 127.0.0.1:9092 --store postgresql+psycopg2://…

Per domain the graph is

    ReadFromKafka(raw.<domain>)            batches of one partition's poll (one element each)
      → NormalizeBatch                     normalize_lines on the whole batch
          ├─ events  → WriteToKafka(events.<domain>)   key = subject, value = event JSON
          ├─ dlq     → WriteToKafka(dlq)               key = source topic, value = DlqRecord JSON
          ├─ alerts  → WriteToKafka(alerts)            key = fingerprint (stateless rules)
          ├─ rows    → WriteStoreRows                  idempotent upserts (events, DLQ, alerts)
          └─ shards  → DetectShardStream (stateful)    (shard, packed events) → alerts

Everything up to the store and Kafka sinks is fused into the reading bundle: the producers flush in
`finish_bundle` and the store commits inside `process`, so the source's bundle finalization (which
commits the Kafka offsets) happens only after those writes are durable. A crash replays the
uncommitted records; every sink is idempotent (natural keys, fingerprints), so nothing doubles in
the store. Detector state lives in Beam state (Prism keeps it in memory): after a crash detection
starts fresh from the replayed records, it is not restored.

Event time is the Kafka record timestamp, which the publisher sets to the envelope's received_at,
so the source's watermark follows the devices' clock and the detectors' deadlines (event-time
timers) fire as that clock passes them.
"""

from __future__ import annotations

import io
import logging
import pickle
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from safecampus.config import Settings
from safecampus.connectors.kafka import (
    KafkaMessage,
    KafkaUnavailableError,
    ProducerRecord,
    ReadFromKafka,
    WriteToKafka,
    check_kafka,
)
from safecampus.pipelines.catalog import pipeline_for, registry_for
from safecampus.pipelines.detection import is_stateful, pack_events, shard_of, unpack_events
from safecampus.pipelines.domain import Detector, DomainPipeline
from safecampus.pipelines.normalize import normalize_lines
from safecampus.pipelines.replay import alert_row, dlq_row
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Domain, Record
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.store import AlertRow, DlqRow, EventRow
from safecampus.store import engine_for, upsert

__all__ = ["StreamTopics", "build_streaming", "run_streaming"]

log = logging.getLogger(__name__)

JSON_HEADERS: tuple[tuple[str, bytes], ...] = (("content-type", b"application/json"),)


class StreamTopics:
    """The topic names of one domain, optionally prefixed (tests isolate themselves with a prefix)."""

    def __init__(self, domain: Domain, prefix: str = "") -> None:
        self.raw = f"{prefix}raw.{domain}"
        self.events = f"{prefix}events.{domain}"
        self.alerts = f"{prefix}alerts"
        self.dlq = f"{prefix}dlq"


class _DomainFn(beam.DoFn):  # type: ignore[misc]
    """A DoFn that holds its domain's pipeline object, built once per worker in `setup`."""

    def __init__(self, domain: Domain, settings: Settings, registry_url: str | None) -> None:
        self.domain, self.settings, self.registry_url = domain, settings, registry_url

    def setup(self) -> None:
        self.pipeline: DomainPipeline[Record] = pipeline_for(
            self.domain, self.settings, registry_for(self.registry_url)
        )


class NormalizeBatch(_DomainFn):
    """One Kafka batch → producer records for events/DLQ/alerts, store rows, and detection shards."""

    def __init__(self, domain: Domain, settings: Settings, registry_url: str | None, with_rows: bool) -> None:
        super().__init__(domain, settings, registry_url)
        self.with_rows = with_rows

    def setup(self) -> None:
        super().setup()
        self.stateful = is_stateful(self.pipeline)

    def process(self, batch: list[KafkaMessage]) -> Iterator[Any]:
        if not batch:
            return
        first = batch[0]
        out = normalize_lines(self.pipeline, [(m.offset, m.value) for m in batch], first.topic, first.partition)
        pipeline = self.pipeline
        if out.events:
            yield [(s.encode(), e.model_dump_json().encode(), JSON_HEADERS) for s, e in out.events]
            if self.stateful:
                groups: dict[int, list[tuple[str, Record]]] = {}
                for subject, event in out.events:
                    groups.setdefault(shard_of(subject), []).append((subject, event))
                for shard, pairs in groups.items():
                    yield beam.pvalue.TaggedOutput("shards", (shard, pack_events(pairs)))
        if out.dlq:
            yield beam.pvalue.TaggedOutput("dlq", dlq_records(out.dlq))
        if out.alerts:
            yield beam.pvalue.TaggedOutput("alerts", out.alerts)
        if self.with_rows and (out.events or out.dlq):
            events = [
                {"domain": self.domain, "event_id": pipeline.event_id(e), "subject": s,
                 "occurred_at": pipeline.occurred_at(e), "body": e.model_dump_json()}
                for s, e in out.events
            ]
            yield beam.pvalue.TaggedOutput("rows", {"events": events, "dlq": [dlq_row(d) for d in out.dlq]})


def dlq_records(records: Sequence[DlqRecord]) -> list[ProducerRecord]:
    """DLQ records as Kafka records keyed by their source topic."""
    return [(r.source_topic.encode(), r.model_dump_json().encode(), JSON_HEADERS) for r in records]


def alert_records(alerts: Sequence[Alert]) -> list[ProducerRecord]:
    """Alerts as Kafka records keyed by fingerprint (dedup and compaction work on it)."""
    return [(a.fingerprint.encode(), a.model_dump_json().encode(), JSON_HEADERS) for a in alerts]


class WriteStoreRows(beam.DoFn):  # type: ignore[misc]
    """Upsert one batch's rows ({table: rows}) in one transaction; done when `process` returns."""

    _MODELS: dict[str, Any] = {"events": EventRow, "dlq": DlqRow, "alerts": AlertRow}

    def __init__(self, url: str) -> None:
        self.url = url

    def process(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        engine = engine_for(self.url)
        for table, rows in tables.items():
            # One statement per table; the commit is synchronous, so it is durable before the bundle ends.
            upsert(engine, self._MODELS[table], rows)


class _DetectorPickler(pickle.Pickler):
    """Pickles detectors without the big shared objects they point to (registry, settings, route plans).

    Those are the worker's own, rebuilt in `setup`; state then holds only what is per subject.
    """

    def __init__(self, file: io.BytesIO, shared: dict[int, str]) -> None:
        super().__init__(file, protocol=5)
        self._shared = shared

    def persistent_id(self, obj: Any) -> Any:
        ref = self._shared.get(id(obj))
        if ref is not None:
            return ref
        trip_id = getattr(obj, "trip_id", None)
        if type(obj).__name__ == "TripPlan" and isinstance(trip_id, str):
            return ("trip", trip_id)  # a bus route's geometry, cached by the pipeline per trip
        return None


class _DetectorUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, pipeline: DomainPipeline[Record], shared: dict[str, Any]) -> None:
        super().__init__(file)
        self._pipeline, self._shared = pipeline, shared

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and pid[0] == "trip":
            return self._pipeline.geometry.trip(pid[1])  # type: ignore[attr-defined]
        return self._shared[pid]


_DETECTORS = ReadModifyWriteStateSpec("detectors", BytesCoder())
_DEADLINE = TimerSpec("deadline", TimeDomain.WATERMARK)
# Beam reads these markers from the defaults of process() and on_deadline(); typed Any for mypy.
_STATE: Any = beam.DoFn.StateParam(_DETECTORS)
_TIMER: Any = beam.DoFn.TimerParam(_DEADLINE)
_FIRED: Any = beam.DoFn.TimestampParam


class DetectShardStream(_DomainFn):
    """Stateful detection of one shard of subjects: pickled detectors in state, a timer at the next deadline."""

    def setup(self) -> None:
        super().setup()
        pipeline = self.pipeline
        shared: dict[str, Any] = {"pipeline": pipeline, "registry": pipeline.registry, "settings": pipeline.settings}
        # Each rule section of the settings (e.g. settings.bus) is shared too.
        for name in type(pipeline.settings).model_fields:
            value = getattr(pipeline.settings, name)
            if hasattr(value, "model_fields"):
                shared[f"settings.{name}"] = value
        self._shared_by_name = shared
        self._shared_by_id = {id(obj): name for name, obj in shared.items()}

    def _load(self, blob: bytes | None) -> dict[str, Detector[Record]]:
        if not blob:
            return {}
        loaded: dict[str, Detector[Record]] = _DetectorUnpickler(
            io.BytesIO(blob), self.pipeline, self._shared_by_name
        ).load()
        return loaded

    def _save(
        self, detectors: dict[str, Detector[Record]], state: Any, timer: Any, after: datetime | None = None
    ) -> None:
        buffer = io.BytesIO()
        _DetectorPickler(buffer, self._shared_by_id).dump(detectors)
        state.write(buffer.getvalue())
        deadlines = [d for d in (det.next_deadline() for det in detectors.values()) if d is not None]
        if after is not None:
            # expire(after) has handled everything up to `after`: a deadline there would fire forever.
            deadlines = [d for d in deadlines if d > after]
        if deadlines:
            # A deadline already behind the watermark fires at once, which is what expire() expects.
            timer.set(Timestamp.from_utc_datetime(min(deadlines).astimezone(UTC)))
        else:
            timer.clear()

    def process(
        self,
        item: tuple[int, bytes],
        state: Any = _STATE,
        timer: Any = _TIMER,
    ) -> Iterator[list[Alert]]:
        _, blob = item
        pipeline = self.pipeline
        detectors = self._load(state.read())
        alerts: list[Alert] = []
        # Within a batch, each subject's events go in event-time order (late ones are the detector's call).
        events = sorted(unpack_events(pipeline.event_type, blob), key=lambda pair: pipeline.occurred_at(pair[1]))
        for subject, event in events:
            detector = detectors.get(subject)
            if detector is None:
                detector = pipeline.new_detector(subject)
                if detector is None:
                    continue
                detectors[subject] = detector
            alerts.extend(detector.observe(event))
        self._save(detectors, state, timer)
        if alerts:
            yield alerts

    @on_timer(_DEADLINE)
    def on_deadline(
        self,
        fired: Timestamp = _FIRED,
        state: Any = _STATE,
        timer: Any = _TIMER,
    ) -> Iterator[list[Alert]]:
        now = fired.to_utc_datetime(has_tz=True)
        detectors = self._load(state.read())
        alerts = [alert for detector in detectors.values() for alert in detector.expire(now)]
        self._save(detectors, state, timer, after=now)
        if alerts:
            yield alerts


def _alert_rows(alerts: Iterable[Alert]) -> dict[str, list[dict[str, Any]]]:
    return {"alerts": [alert_row(a) for a in alerts]}


def build_streaming(
    root: beam.Pipeline,
    domain: Domain,
    bootstrap: str,
    group_id: str,
    settings: Settings,
    registry_url: str | None,
    store_url: str | None,
    stop_at_end: bool = False,
    topic_prefix: str = "",
    max_batch: int = 1000,
) -> None:
    """Add one domain's streaming graph (see the module docstring) to `root`."""
    name = domain.capitalize()
    topics = StreamTopics(domain, topic_prefix)
    batches = root | f"{name}Read" >> ReadFromKafka(
        bootstrap, [topics.raw], group_id, max_batch=max_batch, stop_at_end=stop_at_end
    )
    parts = batches | f"{name}Normalize" >> beam.ParDo(
        NormalizeBatch(domain, settings, registry_url, store_url is not None)
    ).with_outputs("shards", "dlq", "alerts", "rows", main="events")
    _ = parts.events | f"{name}WriteEvents" >> WriteToKafka(bootstrap, topics.events)
    _ = parts.dlq | f"{name}WriteDlq" >> WriteToKafka(bootstrap, topics.dlq)

    alert_batches = [parts.alerts]
    if is_stateful(pipeline_for(domain, settings, registry_for(registry_url))):
        detected = parts.shards | f"{name}Detect" >> beam.ParDo(
            DetectShardStream(domain, settings, registry_url)
        ).with_input_types(tuple[int, bytes])  # an int key: a deterministic coder for state
        alert_batches.append(detected)
    alerts = tuple(alert_batches) | f"{name}Alerts" >> beam.Flatten()
    _ = alerts | f"{name}AlertRecords" >> beam.Map(alert_records) | f"{name}WriteAlerts" >> WriteToKafka(
        bootstrap, topics.alerts
    )
    if store_url:
        # No Flatten before this write: it must stay fused into the reading stage, so that the rows are
        # committed before that bundle is finalized (and its offsets committed). A Flatten with a
        # later stage's output moves the write to its own stage, and a crash then loses rows.
        _ = parts.rows | f"{name}Store" >> beam.ParDo(WriteStoreRows(store_url))
        _ = (alerts | f"{name}AlertRows" >> beam.Map(_alert_rows)
             | f"{name}StoreAlerts" >> beam.ParDo(WriteStoreRows(store_url)))


def streaming_options(prism_location: str) -> PipelineOptions:
    """Prism in streaming mode; type checks off (batches are plain lists, checked by our own types)."""
    return PipelineOptions(
        ["--no_pipeline_type_check"], runner="PrismRunner", prism_location=prism_location, streaming=True
    )


def run_streaming(
    domains: Sequence[Domain],
    bootstrap: str,
    prism_location: str,
    store_url: str | None,
    registry_url: str | None,
    group_id: str = "safecampus",
    stop_at_end: bool = False,
    topic_prefix: str = "",
    settings: Settings | None = None,
) -> None:
    """Run the streaming pipelines of `domains` on Prism until stopped (or, with `stop_at_end`, drained).

    Ctrl-C cancels the pipeline and returns: offsets of bundles not yet finalized stay uncommitted,
    so the next run reads those records again. When streaming, a failed job (the broker went away)
    is started again once Kafka answers, from the committed offsets.
    """
    settings = settings or Settings()
    if store_url:
        engine_for(store_url)  # create the tables once, before many workers race to
    while True:
        root = beam.Pipeline(options=streaming_options(prism_location))
        for domain in domains:
            build_streaming(root, domain, bootstrap, group_id, settings, registry_url, store_url, stop_at_end,
                            topic_prefix)
        result = root.run()
        try:
            result.wait_until_finish()
            return
        except KeyboardInterrupt:
            log.info("stopping: cancelling the pipeline")
            _cancel(result)
            return
        except Exception:
            if stop_at_end:
                raise
            # A failed bundle (e.g. the broker went away mid-write) fails the job on Prism. Its offsets were
            # never committed, so starting again from the group's offsets loses nothing and, with idempotent
            # sinks, doubles nothing in the store.
            log.warning("the pipeline failed; restarting from the committed offsets", exc_info=True)
            _cancel(result)
            _wait_for_kafka(bootstrap)


def _cancel(result: beam.runners.runner.PipelineResult) -> None:
    try:
        result.cancel()
    except Exception:  # the job may already be gone; stopping must not raise
        log.debug("cancel failed", exc_info=True)


def _wait_for_kafka(bootstrap: str) -> None:
    """Block until the broker answers again (checks every few seconds)."""
    while True:
        try:
            check_kafka(bootstrap, timeout_s=5)
            return
        except KafkaUnavailableError:
            time.sleep(2)
