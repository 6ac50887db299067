"""Batch replay: a JSONL file of raw envelopes through one domain's pipeline, files out.

    safecampus replay bus --input raw/bus.jsonl --out out/bus

The file is cut into byte ranges of whole lines; each range is read and normalized in one
call (batch-first: Beam's cost is per element). Detection groups events by shard of subjects.
Runs on Beam's in-process runner (FnApiRunner), named explicitly so nothing tries to
download Prism.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from safecampus.config import Settings
from safecampus.connectors.registry import registry_at
from safecampus.connectors.store import StoreSink
from safecampus.pipelines.alerts import read_operator_actions, triage_log
from safecampus.pipelines.catalog import pipeline_class, pipeline_for
from safecampus.pipelines.detection import (
    attach_offsets,
    detect_shard,
    is_stateful,
    kpis_of,
    pack_events,
    refused_dlq,
    shard_of,
    unpack_events,
)
from safecampus.pipelines.domain import DomainPipeline, KpiPartials, leniency_partials, merge_partials
from safecampus.pipelines.normalize import event_rows, normalize_lines, tune_gc
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Domain, Record
from safecampus.schemas.kpi import Kpi

LINES_PER_CHUNK = 4000
PARALLEL_FROM_BYTES = 32 * 1024 * 1024
OUTPUTS = ("events", "alerts", "kpis", "dlq")  # plus the domain's derived records (bus: runs, centre_visits), if any


class Chunk(NamedTuple):
    """A slice of whole lines of a file: [start, end) bytes, the first line's number (1-based)."""

    path: str
    start: int
    end: int
    first_line: int


def plan_chunks(path: Path, lines_per_chunk: int = LINES_PER_CHUNK) -> list[Chunk]:
    """Cut a file into chunks of about `lines_per_chunk` lines, on line boundaries."""
    data = path.read_bytes()
    chunks: list[Chunk] = []
    start, line_no = 0, 1
    while start < len(data):
        end, lines = start, 0
        while lines < lines_per_chunk and end < len(data):
            nl = data.find(b"\n", end)
            end = len(data) if nl < 0 else nl + 1
            lines += 1
        chunks.append(Chunk(str(path), start, end, line_no))
        start, line_no = end, line_no + lines
    return chunks


def read_chunk(chunk: Chunk) -> list[tuple[int, bytes]]:
    with open(chunk.path, "rb") as handle:
        handle.seek(chunk.start)
        data = handle.read(chunk.end - chunk.start)
    return list(enumerate(data.split(b"\n"), start=chunk.first_line))


class _DomainDoFn(beam.DoFn):  # type: ignore[misc]
    def __init__(self, domain: Domain, settings: Settings, registry_url: str, with_rows: bool = False) -> None:
        self.domain, self.settings, self.registry_url = domain, settings, registry_url
        self.with_rows = with_rows
        self.pipeline: DomainPipeline[Record]

    def setup(self) -> None:
        self.pipeline = pipeline_for(self.domain, self.settings, registry_at(self.registry_url))
        tune_gc(self.settings.gc_young_threshold)


class NormalizeChunk(_DomainDoFn):
    """Chunk → events text, DLQ text, alerts, shard groups, KPI partials, time span."""

    def process(self, chunk: Chunk) -> Iterator[Any]:
        out = normalize_lines(self.pipeline, read_chunk(chunk), Path(chunk.path).name)
        if out.events:
            bodies = [e.model_dump_json() for _, e in out.events]  # once: the text and the store share it
            yield "\n".join(bodies)
            if is_stateful(self.pipeline):
                groups: dict[int, list[tuple[str, Record]]] = {}
                for subject, event in out.events:
                    groups.setdefault(shard_of(subject), []).append((subject, event))
                event_id = self.pipeline.event_id
                for shard, pairs in groups.items():
                    origins = {event_id(e): out.origins[event_id(e)] for _, e in pairs}
                    yield beam.pvalue.TaggedOutput("shards", (shard, pack_events(pairs, origins)))
            if self.with_rows:
                yield beam.pvalue.TaggedOutput("event_rows", event_rows(self.pipeline, out.events, bodies))
        if out.dlq:
            yield beam.pvalue.TaggedOutput("dlq", out.dlq)
        if out.alerts:
            yield beam.pvalue.TaggedOutput("alerts", out.alerts)
        partials = self.pipeline.kpi_partials([e for _, e in out.events], [])
        partials = merge_partials([partials, leniency_partials(self.domain, [], out.lenient)])
        yield beam.pvalue.TaggedOutput("partials", partials)
        if out.earliest and out.latest:
            yield beam.pvalue.TaggedOutput("span", (out.earliest, out.latest))


class DetectShard(_DomainDoFn):
    """One shard's events (grouped) → alerts and derived records, expiring timers at the end of the input.

    `source` is the input file's name: the lines in the alerts' `source_offsets` are its lines."""

    def __init__(self, domain: Domain, settings: Settings, registry_url: str, source: str) -> None:
        super().__init__(domain, settings, registry_url)
        self.source = source

    def process(self, item: tuple[int, Any], span: tuple[datetime, datetime] | None) -> Iterator[Any]:
        _, blobs = item
        events: list[tuple[str, Record]] = []
        origins: dict[str, int] = {}
        for blob in blobs:
            pairs, where = unpack_events(self.pipeline.event_type, blob)
            events += pairs
            origins.update(where)
        detected = detect_shard(self.pipeline, events, span[1] if span else None)
        if detected.alerts:
            yield attach_offsets(detected.alerts, origins, self.source, None)
        if detected.refused:
            refused = refused_dlq(self.domain, detected.refused, self.pipeline.event_id, origins, self.source, None)
            yield beam.pvalue.TaggedOutput("dlq", refused)
        if detected.records:
            yield beam.pvalue.TaggedOutput("derived", detected.records)


class AlertPartials(_DomainDoFn):
    def process(self, alerts: list[Alert]) -> Iterator[KpiPartials]:
        yield self.pipeline.kpi_partials([], alerts)


class DerivedPartials(_DomainDoFn):
    def process(self, records: list[Record]) -> Iterator[KpiPartials]:
        yield self.pipeline.kpi_partials([], [], records)


class FinishKpis(_DomainDoFn):
    def process(self, totals: KpiPartials, span: tuple[datetime, datetime] | None) -> Iterator[list[Kpi]]:
        start, end = span or (datetime.now(UTC), datetime.now(UTC))
        yield kpis_of(self.domain, self.pipeline.finish_kpis(totals), start, end)


class WriteStore(beam.DoFn):  # type: ignore[misc]
    """Upsert a batch of one kind (events rows, alerts, KPIs, DLQ) through the store sink."""

    def __init__(self, sink: StoreSink, kind: str) -> None:
        self.sink, self.kind = sink, kind

    def process(self, batch: list[Any]) -> None:
        self.sink.write(**{self.kind: batch})


def _merge_span(spans: Any) -> tuple[datetime, datetime] | None:
    spans = list(spans)
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def _lines(records: list[Any]) -> str:
    return "\n".join(r.model_dump_json() for r in records)


def _lines_of(records: list[Any], kind: type[Record]) -> Iterator[str]:
    """The lines of the records of one derived stream, when a shard made any."""
    mine = [r for r in records if isinstance(r, kind)]
    if mine:
        yield _lines(mine)


def build_replay(
    root: beam.Pipeline,
    domain: Domain,
    input_path: Path,
    out_dir: Path,
    settings: Settings,
    registry_url: str,
    store_url: str | None,
    operations: Path | None = None,
) -> None:
    """Add the replay graph of one domain to `root`; `operations` is the operators' log."""
    name = domain.capitalize()
    chunks = root | f"{name}Plan" >> beam.Create(plan_chunks(input_path))
    parts = chunks | f"{name}Normalize" >> beam.ParDo(
        NormalizeChunk(domain, settings, registry_url, store_url is not None)
    ).with_outputs("shards", "event_rows", "dlq", "alerts", "partials", "span", main="events")
    span = beam.pvalue.AsSingleton(
        parts.span | f"{name}Span" >> beam.combiners.ToList() | f"{name}SpanMerge" >> beam.Map(_merge_span)
    )
    detected = (
        parts.shards
        | f"{name}GroupShards" >> beam.GroupByKey()
        | f"{name}Detect"
        >> beam.ParDo(DetectShard(domain, settings, registry_url, input_path.name), span).with_outputs(
            "derived", "dlq", main="alerts"
        )
    )
    alerts = (parts.alerts, detected.alerts) | f"{name}Alerts" >> beam.Flatten()
    dlq = (parts.dlq, detected.dlq) | f"{name}Dlq" >> beam.Flatten()
    if operations is not None:
        actions = read_operator_actions(operations)  # read now: a bad log fails before the run starts
        alerts = (
            alerts
            | f"{name}AllAlerts" >> beam.combiners.ToList()
            | f"{name}Triage" >> beam.Map(lambda lists: triage_log((a for x in lists for a in x), actions))
        )
    alert_partials = alerts | f"{name}AlertPartials" >> beam.ParDo(AlertPartials(domain, settings, registry_url))
    derived_partials = detected.derived | f"{name}DerivedPartials" >> beam.ParDo(
        DerivedPartials(domain, settings, registry_url)
    )
    kpis = (
        (parts.partials, alert_partials, derived_partials)
        | f"{name}Partials" >> beam.Flatten()
        | f"{name}SumKpis" >> beam.CombineGlobally(merge_partials)
        | f"{name}FinishKpis" >> beam.ParDo(FinishKpis(domain, settings, registry_url), span)
    )
    texts = {
        "events": parts.events,
        "alerts": alerts | f"{name}AlertText" >> beam.Map(_lines),
        "kpis": kpis | f"{name}KpiText" >> beam.Map(_lines),
        "dlq": dlq | f"{name}DlqText" >> beam.Map(_lines),
    }
    for stream, record_type in pipeline_class(domain).derived:
        texts[stream] = detected.derived | f"{name}{stream}Text" >> beam.FlatMap(_lines_of, record_type)
    out_dir.mkdir(parents=True, exist_ok=True)
    for output, pcoll in texts.items():
        _ = pcoll | f"{name}Write{output}" >> beam.io.WriteToText(
            str(out_dir / f"{output}.jsonl"), shard_name_template="", num_shards=1
        )
    if store_url:
        sink = StoreSink(store_url)
        batches = {"events": parts.event_rows, "alerts": alerts, "kpis": kpis, "dlq": dlq}
        for kind, pcoll in batches.items():
            _ = pcoll | f"{name}Store{kind}" >> beam.ParDo(WriteStore(sink, kind))


def run_replay(
    jobs: list[tuple[Domain, Path, Path]],
    settings: Settings,
    registry_url: str,
    store_url: str | None = None,
    operations: Path | None = None,
) -> None:
    """Replay each (domain, input file, output dir) in one pipeline on the in-process runner.

    The registry is read from the store at `registry_url` (`EmptyRegistryError` when it holds none,
    before anything runs); results are upserted into the store at `store_url` when one is given.

    Large inputs get one worker process per core: the plain-Python ceiling is one core, and Beam's
    overhead is paid back by the second. Small ones stay in this process (workers cost ~3 s to start).
    """
    registry_at(registry_url)  # an empty or missing registry fails here, in plain words, not in a worker
    args = ["--no_pipeline_type_check"]
    if sum(path.stat().st_size for _, path, _ in jobs) >= PARALLEL_FROM_BYTES and (os.cpu_count() or 1) > 1:
        args += [f"--direct_num_workers={os.cpu_count()}", "--direct_running_mode=multi_processing"]
    options = PipelineOptions(args)
    with beam.Pipeline(runner=FnApiRunner(), options=options) as root:
        for domain, input_path, out_dir in jobs:
            build_replay(root, domain, input_path, out_dir, settings, registry_url, store_url, operations)
