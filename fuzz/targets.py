"""Fuzz targets: one function per decoder, bytes in; a crash is any exception that is not the decoder's own.

Each target returns normally when the input is refused with the decoder's own error (the error the
pipeline turns into a DLQ reason) and raises `Crash`-worthy exceptions otherwise. `TARGETS` maps a
name to the function; `fuzz/run.py` drives them under atheris (libFuzzer), the tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache

from pydantic import ValidationError

from safecampus.config import Settings
from safecampus.connectors.bus.escort import EscortError, decode_escort
from safecampus.connectors.bus.jt808_decode import decode_frame, location_fields, message_to_json
from safecampus.connectors.bus.jt808_frame import Jt808Error, split_frames
from safecampus.connectors.bus.jt808_messages import LocationBatch, LocationReport
from safecampus.connectors.canteen import importer as canteen_importer
from safecampus.connectors.fire import importer as fire_importer
from safecampus.connectors.progress import importer as progress_importer
from safecampus.connectors.progress.forms import Places
from safecampus.connectors.progress.importer import places_of
from safecampus.connectors.registry import RegistryView
from safecampus.connectors.security.alarmbox import decode_alarmbox
from safecampus.connectors.security.counter import decode_counter
from safecampus.connectors.security.gb28181 import decode_gb28181
from safecampus.connectors.security.isapi import decode_isapi
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.pipelines.catalog import pipeline_for
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.domain import DecodeError, DomainPipeline
from safecampus.pipelines.normalize import normalize_lines
from safecampus.schemas.common import DOMAINS, Domain, Record
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.progress import PROGRESS_TABLES

RECEIVED = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
CATCH_ALL = "could not decode ("  # normalize's reason when a decoder leaked a foreign exception


class LeakedError(AssertionError):
    """A decoder or rule let through an exception that is not its own (normalize caught it for us)."""


@cache
def registry() -> RegistryView:
    """The seeded synthetic city: fuzzed ids that name its devices reach enrichment and the rules."""
    from safecampus.simulator.city import build_city

    return RegistryView.of_rows(build_city().rows())


@cache
def pipeline(domain: Domain) -> DomainPipeline[Record]:
    return pipeline_for(domain, Settings(), registry())


def jt808(data: bytes) -> None:
    """A JT/T 808 frame: split from a stream, decoded, shown as JSON, a fix named field by field."""
    split_frames(data)
    try:
        message = decode_frame(data)
    except Jt808Error:
        return
    json.dumps(message_to_json(message), ensure_ascii=False)
    payload = message.payload
    reports = payload.locations if isinstance(payload, LocationBatch) else (payload,)
    for report in reports:
        if isinstance(report, LocationReport):
            location_fields(report)


def _content_type(data: bytes) -> tuple[str | None, bytes]:
    """The first byte picks how the post is declared: bare, XML, or multipart with the first line as boundary."""
    if not data:
        return None, data
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        return None, rest
    if mode == 1:
        return "application/xml", rest
    boundary, _, body = rest.partition(b"\n")
    return "multipart/form-data; boundary=" + boundary.decode("utf-8", "replace"), body


def isapi(data: bytes) -> None:
    content_type, body = _content_type(data)
    try:
        decode_isapi(body, content_type)
    except SecurityDecodeError:
        return


def gb28181(data: bytes) -> None:
    """The first byte says whether the gateway's receive time is known (a Keepalive needs one)."""
    received = RECEIVED if data[:1] == b"\x01" else None
    try:
        decode_gb28181(data[1:], received)
    except SecurityDecodeError:
        return


def alarmbox(data: bytes) -> None:
    try:
        decode_alarmbox(data)
    except SecurityDecodeError:
        return


def counter(data: bytes) -> None:
    try:
        decode_counter(data)
    except SecurityDecodeError:
        return


def escort(data: bytes) -> None:
    try:
        decode_escort(data)
    except EscortError:
        return


def _form(domain: Domain, source: str, data: bytes) -> None:
    """A JSON form through the domain's decode (its own DecodeError or a ValidationError) and its alerts."""
    envelope = RawEnvelope.of_bytes(data, domain=domain, source=source, received_at=RECEIVED)
    chosen = pipeline(domain)
    try:
        events = chosen.decode(envelope)
    except (DecodeError, ValidationError):
        return
    for event in events:
        chosen.alerts_of(event)
        event.model_dump_json()
    chosen.kpi_partials(events, [])


def canteen(data: bytes) -> None:
    _form("canteen", "ledger-json", data)


def fire(data: bytes) -> None:
    _form("fire", "inspection-json", data)


def fire_csv(data: bytes) -> None:
    """The rows of one inspection from a CSV/XLSX export, as `import fire` makes them an envelope."""
    _form("fire", "inspection-csv", data)


IMPORT_SUFFIXES = (".json", ".jsonl", ".csv", ".xlsx")


def _file(data: bytes, stem: str) -> tuple[str, bytes]:
    """An imported file in memory: the first byte picks its kind (.json, .jsonl, .csv or .xlsx), the rest is it.
    The importers read a path's bytes and then these (`import_data`), so only the file's read is skipped."""
    return f"{stem}{IMPORT_SUFFIXES[data[0] % len(IMPORT_SUFFIXES)]}", data[1:]


def fire_import(data: bytes) -> None:
    """`safecampus import fire` of one file: refused with ImportRefused, or envelopes and DLQ records;
    then each envelope through the pipeline's decode."""
    if not data:
        return
    try:
        result = fire_importer.import_data(*_file(data, "巡查记录"))
    except fire_importer.ImportRefused:
        return
    for envelope in result.envelopes:
        try:
            pipeline("fire").decode(envelope)
        except (DecodeError, ValidationError):
            continue


def canteen_import(data: bytes) -> None:
    """`safecampus import canteen` of one file (a ledger, survey, supplier rating or disclosure): refused
    with ImportRefused, or records and DLQ rows; then each record through the pipeline's decode and red flags."""
    if not data:
        return
    try:
        result = canteen_importer.import_data(*_file(data, "台账"), received_at=RECEIVED)
    except canteen_importer.ImportRefused:
        return
    canteen_importer.describe(result)
    chosen = pipeline("canteen")
    for envelope in result.envelopes:
        try:
            events = chosen.decode(envelope)
        except (DecodeError, ValidationError):
            continue
        for event in events:
            chosen.alerts_of(event)


@cache
def places() -> Places:
    return places_of(registry(), salt="fuzz", validity_years=3)


def progress_import(data: bytes) -> None:
    """`safecampus import progress` of one file (milestones, first-aid certificates, hall visits, alarm
    tests): refused with ImportRefused, or store rows and DLQ rows, checked against the registry."""
    if not data:
        return
    try:
        result = progress_importer.import_progress_data(*_file(data, "进度"), places())
    except progress_importer.ImportRefused:
        return
    for row in result.rows:
        PROGRESS_TABLES[result.form].model_validate(row)


def replay_line(data: bytes) -> None:
    """A whole replay line (the first byte picks the domain) through normalize, then detection.

    Nothing may raise; a DLQ reason from normalize's catch-all or a rule that failed in detection
    is a leaked exception, so it counts as a crash."""
    if not data:
        return
    domain = DOMAINS[data[0] % len(DOMAINS)]
    chosen = pipeline(domain)
    out = normalize_lines(chosen, [(1, data[1:])], "fuzz.jsonl")
    for record in out.dlq:
        if record.reason.startswith(CATCH_ALL):
            raise LeakedError(f"{domain}: {record.reason}")
    chosen.kpi_partials([event for _, event in out.events], out.alerts)
    if out.events and out.latest is not None:
        detected = detect_shard(chosen, out.events, out.latest + timedelta(days=2))
        if detected.refused:
            raise LeakedError(f"{domain}: {detected.refused[0][2]}")
        chosen.kpi_partials([], detected.alerts, detected.records)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "jt808": jt808,
    "isapi": isapi,
    "gb28181": gb28181,
    "alarmbox": alarmbox,
    "counter": counter,
    "escort": escort,
    "canteen": canteen,
    "fire": fire,
    "fire_csv": fire_csv,
    "fire_import": fire_import,
    "canteen_import": canteen_import,
    "progress_import": progress_import,
    "replay_line": replay_line,
}
