"""School buses: JT/T 808 frames and escort-app events normalized into BusEvents and enriched.

A 0x0200 frame is one fix, a 0x0704 batch several; registration, authentication and heartbeat
frames become heartbeats (the terminal is alive). Enrichment adds bus, plate, route, operator,
school and district from the registry; an unknown terminal keeps `bus_id=None`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from safecampus.connectors.jt808 import (
    MSG_AUTH,
    MSG_HEARTBEAT,
    MSG_REGISTER,
    Jt808Error,
    LocationBatch,
    LocationReport,
    decode_frame,
)
from safecampus.pipelines.domain import DecodeError, DomainPipeline, payload_of
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.envelope import RawEnvelope


class EscortEvent(BaseModel):
    """The escort app's JSON form: `{"terminal_id": "013800000001", "kind": "all_off", "time": "…+08:00"}`."""

    model_config = ConfigDict(extra="forbid")
    terminal_id: str
    kind: str
    time: datetime


class BusPipeline(DomainPipeline[BusEvent]):
    domain = "bus"
    event_type = BusEvent

    def decode(self, envelope: RawEnvelope) -> list[BusEvent]:
        raw = payload_of(envelope)
        if envelope.source == "bus-json":
            try:
                escort = EscortEvent.model_validate_json(raw)
            except ValueError as exc:
                raise DecodeError("decode", f"escort event is not valid: {str(exc).splitlines()[0]}") from None
            return [self._enrich(terminal_id=escort.terminal_id, kind=escort.kind, occurred_at=escort.time)]
        if envelope.source != "jt808":
            raise DecodeError("decode", f"source format {envelope.source!r} is not a bus format")
        try:
            message = decode_frame(raw)
        except Jt808Error as exc:
            raise DecodeError("decode", f"JT/T 808 frame {raw.hex()[:80]}: {exc}") from None
        payload = message.payload
        if isinstance(payload, LocationReport):
            return [self._fix(message.phone, payload)]
        if isinstance(payload, LocationBatch):
            return [self._fix(message.phone, report) for report in payload.locations]
        if message.message_id in (MSG_HEARTBEAT, MSG_REGISTER, MSG_AUTH):
            return [self._enrich(terminal_id=message.phone, kind="heartbeat", occurred_at=envelope.received_at)]
        raise DecodeError("decode", f"JT/T 808 message 0x{message.message_id:04x} carries no bus event")

    def _fix(self, terminal_id: str, report: LocationReport) -> BusEvent:
        return self._enrich(
            terminal_id=terminal_id, kind="fix", occurred_at=report.time, lat_deg=report.lat_deg,
            lon_deg=report.lon_deg, speed_kmh=report.speed_kmh, direction_deg=report.direction_deg % 360,
            altitude_m=report.altitude_m, alarm_flags=report.alarm_flags, status_flags=report.status_flags,
        )

    def _enrich(self, terminal_id: str, kind: str, occurred_at: datetime, **fields: object) -> BusEvent:
        bus = self.registry.buses_by_terminal.get(terminal_id)
        at = occurred_at.astimezone(UTC)
        event_id = f"{terminal_id}/{kind}/{at:%Y%m%dT%H%M%S}"
        if bus is None:
            return BusEvent.model_validate({"event_id": event_id, "terminal_id": terminal_id, "kind": kind,
                                            "occurred_at": at, **fields})
        return BusEvent.model_validate({
            "event_id": event_id, "terminal_id": terminal_id, "kind": kind, "occurred_at": at, "plate": bus.plate,
            "bus_id": bus.bus_id, "route_id": bus.route_id, "operator_id": bus.operator_id, "school_id": bus.school_id,
            "district": self.registry.district_of_school(bus.school_id), **fields,
        })

    def subject(self, event: BusEvent) -> str:
        return event.terminal_id

    def event_id(self, event: BusEvent) -> str:
        return event.event_id
