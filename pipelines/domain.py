"""What every domain pipeline provides, and the shared shape the runners drive.

A domain turns one raw envelope into normalized events (`decode`), names the subject each
event belongs to (`subject`), may keep per-subject state in a `Detector`, and counts KPIs.
The batch runner (`pipelines/replay.py`) and the streaming runner drive the same objects,
so detection logic is written once, in plain Python, and tested without Beam.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Domain, Record, use_input_limits
from safecampus.schemas.envelope import RawEnvelope

EventT = TypeVar("EventT", bound=Record)

# Additive KPI partials: (metric, sorted label pairs) → sum. Partials of chunks add up.
KpiKey = tuple[str, tuple[tuple[str, str], ...]]
KpiPartials = dict[KpiKey, float]

# A ledger entry or an inspection form is a few KiB (200 findings at most).
MAX_JSON_BYTES = 256 * 1024


class DecodeError(ValueError):
    """A record we cannot use. `step` names where it failed; str() is the plain-words reason."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step


class Detector(ABC, Generic[EventT]):
    """Per-subject state machine. Events may arrive late or out of order; time is event time."""

    @abstractmethod
    def observe(self, event: EventT) -> list[Alert]:
        """Take one event; return alerts opened, updated or resolved by it."""

    def expire(self, now: datetime) -> list[Alert]:
        """Event time has reached `now`: return alerts whose deadline has passed (timers)."""
        return []

    def next_deadline(self) -> datetime | None:
        """When `expire` next has something to say, for the streaming runner's timer."""
        return None

    def take_records(self) -> list[Record]:
        """Records the rules derived since the last call (a bus run with its stop visits): inputs
        of the KPIs with streams of their own (`DomainPipeline.derived`, one per type), never alerts."""
        return []

    def restore(self, alerts: Sequence[Alert]) -> None:
        """A detector rebuilt from stored events is told the last stored update of each of its subject's
        alerts, so that it can later resolve or withdraw one that a timer raised before the rebuild.
        By default nothing (the runner then does not read them)."""


class DomainPipeline(ABC, Generic[EventT]):
    """One domain's decode, subject, detection and KPIs."""

    domain: ClassVar[Domain]
    event_type: ClassVar[type[Record]]
    # The streams of records its detectors derive (`Detector.take_records`): a name and a type each.
    derived: ClassVar[tuple[tuple[str, type[Record]], ...]] = ()

    def __init__(self, settings: Settings, registry: RegistryView) -> None:
        self.settings = settings
        self.registry = registry
        use_input_limits(settings.limits)  # the time window every boundary model checks, from these settings

    @abstractmethod
    def decode(self, envelope: RawEnvelope) -> list[EventT]:
        """Decode, validate, normalize and enrich one envelope; raise DecodeError when unusable."""

    @abstractmethod
    def subject(self, event: EventT) -> str:
        """The device, bus, canteen or institution an event is about (the Kafka key)."""

    @abstractmethod
    def event_id(self, event: EventT) -> str:
        """The natural key of an event, for idempotent sinks."""

    def by_stream(self, records: Iterable[Record]) -> dict[str, list[Record]]:
        """Derived records by the stream of their type (`derived`); a stream with none is left out."""
        streams: dict[str, list[Record]] = {}
        for record in records:
            for stream, kind in self.derived:
                if isinstance(record, kind):
                    streams.setdefault(stream, []).append(record)
        return streams

    def occurred_at(self, event: EventT) -> datetime:
        """Event time of a record (device time, UTC)."""
        moment: datetime = event.occurred_at  # type: ignore[attr-defined]
        return moment

    def new_detector(self, subject: str) -> Detector[EventT] | None:
        """A fresh state machine for one subject, or None when the domain is stateless."""
        return None

    def detector_history(self) -> timedelta | None:
        """How much of a subject's stored events rebuilds its detector in streaming (after a restart):
        `detector_history_h` hours before the batch, or None for every stored event of the subject,
        before and after the batch's (a detector whose state is a function of the set of its events)."""
        return timedelta(hours=self.settings.detector_history_h)

    def alerts_of(self, event: EventT) -> list[Alert]:
        """Alerts that one event raises on its own, without state (e.g. a red-flag category)."""
        return []

    def kpi_partials(
        self, events: Sequence[EventT], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        """Additive counts over a chunk of events, alerts and derived records; the runner sums
        chunks and calls `finish_kpis`.

        Sequences, not iterators: a subclass adds its own counts after `super().kpi_partials`."""
        partials = leniency_partials(self.domain, events)
        if events:
            add(partials, f"{self.domain}_events_total", float(len(events)))
        for alert in alerts:
            add(partials, f"{self.domain}_alerts_total", rule=alert.rule, severity=alert.severity)
        return partials

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        """Derive ratios (rates, shares) from the summed partials; by default nothing to add."""
        return totals


def payload_of(envelope: RawEnvelope) -> bytes:
    """The envelope's original bytes, or a DecodeError saying why they cannot be read."""
    try:
        return envelope.payload_bytes()
    except ValueError:
        raise DecodeError("envelope", f"payload is not valid {envelope.encoding}") from None


def json_object(envelope: RawEnvelope, what: str) -> dict[str, object]:
    """The envelope's payload as a JSON object, or a DecodeError naming `what` it should have been.

    A form is a few KiB: a payload over MAX_JSON_BYTES, nesting deeper than Python can parse
    (`[` × 1000) and an integer of more than 4,300 digits are refused with their reason."""
    data = payload_of(envelope)
    if len(data) > MAX_JSON_BYTES:
        raise DecodeError("decode", f"{what} is {len(data)} bytes, above the {MAX_JSON_BYTES}-byte limit")
    try:
        fields = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DecodeError("decode", f"{what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DecodeError("decode", f"{what} is JSON nested too deeply to read") from None
    except ValueError as exc:  # int() refuses a number of more than 4,300 digits
        raise DecodeError("decode", f"{what} holds a number too long to read ({str(exc).split(':')[0]})") from None
    if not isinstance(fields, dict):
        raise DecodeError("decode", f"{what} is JSON but not an object")
    return fields


def add(partials: KpiPartials, metric: str, value: float = 1.0, **labels: str | None) -> None:
    """Add `value` to one KPI partial; labels whose value is None are left out."""
    key: KpiKey = (metric, tuple(sorted([(k, v) for k, v in labels.items() if v is not None])))
    partials[key] = partials.get(key, 0.0) + value


LENIENCIES = "decode_leniencies_total"


def leniency_partials(domain: str, events: Sequence[Record], line_kinds: Iterable[str] = ()) -> KpiPartials:
    """`decode_leniencies_total{domain, kind}`: what devices and files bent and we accepted.

    Each event's `lenient` kinds (a short UTC offset, an overrunning JT/T 808 item, an unknown camera
    event type) and `line_kinds`, what the runner forgave in the line itself (a UTF-8 BOM)."""
    partials: KpiPartials = {}
    for event in events:
        for kind in vars(event).get("lenient", ()):  # a field where the model has one (no __getattr__ miss)
            add(partials, LENIENCIES, domain=domain, kind=kind)
    for kind in line_kinds:
        add(partials, LENIENCIES, domain=domain, kind=kind)
    return partials


def merge_partials(parts: Iterable[KpiPartials]) -> KpiPartials:
    total: KpiPartials = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0.0) + value
    return total
