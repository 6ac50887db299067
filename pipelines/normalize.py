"""Decode, validate and normalize a chunk of raw lines: the batch-first unit of every pipeline.

One call handles a whole chunk (a file slice or a Kafka poll), so Beam's per-element cost is
paid once per chunk. Every line ends either as events or as a DLQ record with its original
bytes and a plain-words reason; nothing raises out of here.
"""

from __future__ import annotations

import codecs
import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from safecampus.connectors.store import event_row
from safecampus.pipelines.domain import DecodeError, DomainPipeline
from safecampus.schemas.alert import Alert, SourceOffset
from safecampus.schemas.common import Record, describe_validation_error
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.envelope import RawEnvelope


@dataclass
class ChunkOutcome:
    """What one chunk became: events (with subject), DLQ records, stateless alerts, time span."""

    events: list[tuple[str, Record]] = field(default_factory=list)
    origins: dict[str, int] = field(default_factory=dict)  # event id → input line or Kafka offset
    dlq: list[DlqRecord] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    earliest: datetime | None = None
    latest: datetime | None = None
    lenient: list[str] = field(default_factory=list)  # what the lines bent (a BOM): decode_leniencies_total


def tune_gc(young_threshold: int) -> None:
    """Tune the cyclic collector for chunk work (`Settings.gc_young_threshold`): what is alive now (the
    registry, the rules, read for the whole run) leaves its sight for good, and the young generation is
    collected every `young_threshold` allocations instead of 700, so a chunk's parsed records are not
    traced again at every few hundred allocations while they are alive."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def envelope_reason(line: bytes, exc: ValidationError) -> str:
    """Why a line is not a raw envelope, in plain words."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "line is not UTF-8 text, so it cannot be a JSON raw envelope"
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return f"line is not valid JSON ({first['msg'].removeprefix('Invalid JSON: ')})"
    if first["type"] == "model_type":
        return "line is JSON but not an object with the raw-envelope fields (domain, source, payload, received_at)"
    return "not a valid raw envelope: " + describe_validation_error(exc)


def normalize_lines(
    pipeline: DomainPipeline[Record], lines: Iterable[tuple[int, bytes]], source: str, partition: int | None = None
) -> ChunkOutcome:
    """Normalize (offset, raw line) pairs from `source` (a file name or topic)."""
    out = ChunkOutcome()
    domain = pipeline.domain
    for offset, line in lines:
        if not line:
            continue  # what splitting a file at its last newline leaves
        if line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]  # Windows editors start a file with one: forgiven, counted
            out.lenient.append("utf8_bom")
        if not line.strip():
            reason = "line holds only whitespace, no raw envelope"
            out.dlq.append(DlqRecord.of(domain, "envelope", reason, line, source, offset, partition))
            continue
        try:
            envelope = RawEnvelope.model_validate_json(line)
        except ValidationError as exc:
            out.dlq.append(
                DlqRecord.of(domain, "envelope", envelope_reason(line, exc), line, source, offset, partition)
            )
            continue
        if envelope.domain != domain:
            reason = f"record is for the {envelope.domain} domain, but this is the {domain} pipeline"
            out.dlq.append(DlqRecord.of(domain, "envelope", reason, line, source, offset, partition))
            continue
        try:
            events = pipeline.decode(envelope)
        except DecodeError as exc:
            out.dlq.append(
                DlqRecord.of(domain, exc.step, str(exc), _original(envelope, line), source, offset, partition)
            )
            continue
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            out.dlq.append(
                DlqRecord.of(domain, "validate", reason, _original(envelope, line), source, offset, partition)
            )
            continue
        except Exception as exc:  # a decoder bug must cost one record, never the pipeline
            reason = f"could not decode ({type(exc).__name__}: {exc})"
            out.dlq.append(DlqRecord.of(domain, "decode", reason, _original(envelope, line), source, offset, partition))
            continue
        for event in events:
            occurred = pipeline.occurred_at(event)
            out.earliest = occurred if out.earliest is None or occurred < out.earliest else out.earliest
            out.latest = occurred if out.latest is None or occurred > out.latest else out.latest
            out.events.append((pipeline.subject(event), event))
            out.origins[pipeline.event_id(event)] = offset
            raised = pipeline.alerts_of(event)
            if raised:
                where = [SourceOffset(topic=source, partition=partition, offset=offset)]
                out.alerts.extend(a.model_copy(update={"source_offsets": where}) for a in raised)
    return out


def _original(envelope: RawEnvelope, line: bytes) -> bytes:
    """The device's original bytes when the envelope carries them intact, else the whole line."""
    try:
        return envelope.payload_bytes()
    except ValueError:
        return line


def event_rows(
    pipeline: DomainPipeline[Record], events: list[tuple[str, Record]], bodies: list[str]
) -> list[dict[str, Any]]:
    """Store rows of (subject, event) pairs; `bodies` is their JSON, already made for the events output."""
    domain, event_id, occurred_at = pipeline.domain, pipeline.event_id, pipeline.occurred_at
    return [
        event_row(domain, event_id(e), s, occurred_at(e), body) for (s, e), body in zip(events, bodies, strict=True)
    ]
