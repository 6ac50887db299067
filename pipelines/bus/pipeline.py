"""School buses: JT/T 808 frames and escort-app events normalized into BusEvents, enriched, checked.

A 0x0200 frame is one fix, a 0x0704 batch several (split into pieces when long: the record then
holds all of them, joined here; an incomplete one goes to the DLQ, step `reassemble`); registration,
authentication and heartbeat frames become heartbeats (the terminal is alive). The decoder turns
the terminal's flag words into named fields; enrichment adds bus, plate, route, operator, school
and district from the registry; an unknown terminal keeps `bus_id=None`.

`BusDetector` (one per terminal, event time) applies the rules of docs/domain-rules.md
"School buses"; each run it sees end becomes a `BusRun` on the `runs` stream, the input of the
on-time KPIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from safecampus.config import Settings
from safecampus.connectors.bus.escort import EscortError, decode_escort
from safecampus.connectors.bus.jt808_decode import decode_message, location_fields
from safecampus.connectors.bus.jt808_frame import MSG_AUTH, MSG_HEARTBEAT, MSG_REGISTER, Jt808Error
from safecampus.connectors.bus.jt808_messages import LocationBatch, LocationReport
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import AlertOnce
from safecampus.pipelines.bus.detector import BusDetector
from safecampus.pipelines.bus.geometry import TripPlan
from safecampus.pipelines.bus.kpis import bus_partials, finish_bus_kpis
from safecampus.pipelines.bus.trips import TripPlans
from safecampus.pipelines.domain import (
    DecodeError,
    DomainPipeline,
    KpiPartials,
    leniency_partials,
    merge_partials,
    payload_of,
)
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun, CentreVisit
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import Bus


class BusPipeline(DomainPipeline[BusEvent]):
    """Decode and enrich bus records; one `BusDetector` per terminal; fleet KPIs."""

    domain = "bus"
    event_type = BusEvent
    derived: ClassVar[tuple[tuple[str, type[Record]], ...]] = (("runs", BusRun), ("centre_visits", CentreVisit))

    def __init__(self, settings: Settings, registry: RegistryView) -> None:
        super().__init__(settings, registry)
        self.plans = TripPlans(registry)
        self.fleet_once = AlertOnce()  # alerts about an operator's fleet: once, whichever terminal made them

    def decode(self, envelope: RawEnvelope) -> list[BusEvent]:
        raw = payload_of(envelope)
        if envelope.source == "bus-json":
            try:
                escort = decode_escort(raw)
            except EscortError as exc:
                raise DecodeError("decode", str(exc)) from None
            return [
                self.enrich(
                    terminal_id=escort.terminal_id, kind=escort.kind, occurred_at=escort.time, lenient=escort.lenient
                )
            ]
        if envelope.source != "jt808":
            raise DecodeError("decode", f"source format {envelope.source!r} is not a bus format")
        try:
            message = decode_message(raw)  # one frame, or the pieces of a split message as the gateway stores them
        except Jt808Error as exc:
            if exc.kind == "incomplete":  # the gateway stopped waiting (time, disconnect or size limit)
                raise DecodeError("reassemble", f"JT/T 808 {exc}; the gateway stopped waiting for the rest") from None
            raise DecodeError("decode", f"JT/T 808 frame {raw.hex()[:80]}: {exc}") from None
        payload = message.payload
        if isinstance(payload, LocationReport):
            return [self._fix(message.phone, payload)]
        if isinstance(payload, LocationBatch):
            return [self._fix(message.phone, report) for report in payload.locations]
        if message.message_id in (MSG_HEARTBEAT, MSG_REGISTER, MSG_AUTH):
            # These frames carry no device time: the gateway's receive time stands in.
            return [self.enrich(terminal_id=message.phone, kind="heartbeat", occurred_at=envelope.received_at)]
        raise DecodeError("decode", f"JT/T 808 message 0x{message.message_id:04x} carries no bus event")

    def _fix(self, terminal_id: str, report: LocationReport) -> BusEvent:
        fields = location_fields(report)
        return self.enrich(
            terminal_id=terminal_id, kind="fix", occurred_at=report.time, lenient=report.lenient, **fields
        )

    def enrich(self, terminal_id: str, kind: str, occurred_at: datetime, **fields: object) -> BusEvent:
        """A BusEvent of a terminal, with what the registry knows of its bus."""
        bus = self.registry.buses_by_terminal.get(terminal_id)
        at = occurred_at.astimezone(UTC)
        event_id = f"{terminal_id}/{kind}/{at:%Y%m%dT%H%M%S}"
        if bus is None:
            return BusEvent.model_validate(
                {"event_id": event_id, "terminal_id": terminal_id, "kind": kind, "occurred_at": at, **fields}
            )
        return BusEvent.model_validate(
            {
                "event_id": event_id,
                "terminal_id": terminal_id,
                "kind": kind,
                "occurred_at": at,
                "plate": bus.plate,
                "bus_id": bus.bus_id,
                "route_id": bus.route_id,
                "operator_id": bus.operator_id,
                "school_id": bus.school_id,
                "district": self.registry.district_of_school(bus.school_id),
                **fields,
            }
        )

    def subject(self, event: BusEvent) -> str:
        return event.terminal_id

    def event_id(self, event: BusEvent) -> str:
        return event.event_id

    def new_detector(self, subject: str) -> BusDetector:
        plans = self.trip_plans(self.registry.buses_by_terminal.get(subject))
        return BusDetector(subject, self.settings.bus, self.registry, plans, self.fleet_once)

    def trip_plans(self, bus: Bus | None) -> list[TripPlan]:
        """The trips a bus may be running (its assignment, else every trip of its route)."""
        return self.plans.for_bus(bus)

    def kpi_partials(
        self, events: Sequence[BusEvent], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        return merge_partials([bus_partials(events, alerts, derived, self._route_of), leniency_partials("bus", events)])

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        return finish_bus_kpis(
            totals, {terminal: self._route_of(terminal) for terminal in self.registry.buses_by_terminal}
        )

    def _route_of(self, terminal_id: str) -> str:
        bus = self.registry.buses_by_terminal.get(terminal_id)
        return (bus.route_id if bus else None) or "none"
