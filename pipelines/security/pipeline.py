"""Campus security: vendor alarms normalized onto one taxonomy, with severity, detection and KPIs.

Severity comes from the event type, the time of day (intrusion at night is critical) and the
device's location role (tripwire or loitering at a gate or dormitory is high). A device not in
the registry still becomes an event, without school or district, so a person can be told about it.
Detection is per device (`SecurityDetector`, detector.py); KPIs are in kpis.py. The registry rules
of a school (guards, police linkage) ride on its anchor device's detector (school_checks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import ClassVar

from safecampus.connectors.security.alarmbox import decode_alarmbox
from safecampus.connectors.security.counter import decode_counter
from safecampus.connectors.security.gb28181 import decode_gb28181
from safecampus.connectors.security.isapi import decode_isapi
from safecampus.connectors.security.record import VendorSecurityRecord, taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.pipelines.domain import (
    DecodeError,
    DomainPipeline,
    KpiPartials,
    leniency_partials,
    merge_partials,
    payload_of,
)
from safecampus.pipelines.security.congestion import CentreCongestion
from safecampus.pipelines.security.detector import SecurityDetector
from safecampus.pipelines.security.kpis import POLICE_KINDS, chunk_partials, final_kpis, required_guards
from safecampus.pipelines.security.pickup_kpis import finish_pickup, pickup_partials
from safecampus.pipelines.security.school_checks import SchoolFacts, anchor_device
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, Record, Severity
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.security import PickupCentreDay, SecurityEvent, SecurityEventType

BASE_SEVERITY: dict[SecurityEventType, Severity] = {
    "one_key_alarm": "critical",
    "intrusion": "high",
    "forced_door": "high",
    "fence": "high",
    "tripwire": "warning",
    "loitering": "warning",
    "tamper": "high",
    "video_loss": "high",
    "storage_fault": "warning",
    "device_fault": "warning",
    "device_offline": "warning",
    "motion": "info",
    "heartbeat": "info",
    "vehicle_count": "info",
    "vehicle_passage": "info",
    "other": "info",
}
NIGHT_CRITICAL: frozenset[str] = frozenset({"intrusion", "fence", "forced_door", "tripwire"})
SENSITIVE_ROLES: frozenset[str] = frozenset({"gate", "dormitory"})
ROLE_RAISED: frozenset[str] = frozenset({"tripwire", "loitering"})  # someone at a gate or dormitory matters more
KNOWN_ROLES: frozenset[str] = SENSITIVE_ROLES | {"canteen", "classroom", "perimeter", "playground", "office"}
KNOWN_ROLES |= {"pickup_centre"}
COUNTING_KINDS: frozenset[str] = frozenset({"counter", "barrier"})  # a pick-up centre's vehicles, in and out


def decode_vendor(envelope: RawEnvelope) -> VendorSecurityRecord:
    """The vendor record of an envelope, by its source format."""
    raw = payload_of(envelope)
    try:
        if envelope.source == "isapi":
            return decode_isapi(raw, envelope.content_type)
        if envelope.source == "gb28181":
            return decode_gb28181(raw, envelope.received_at)
        if envelope.source == "alarmbox":
            return decode_alarmbox(raw)
        if envelope.source == "counter":
            return decode_counter(raw)
    except SecurityDecodeError as exc:
        raise DecodeError("decode", f"{envelope.source} payload: {exc}") from None
    raise DecodeError("decode", f"source format {envelope.source!r} is not a security format")


class SecurityPipeline(DomainPipeline[SecurityEvent]):
    domain = "security"
    event_type = SecurityEvent
    # Pick-up centres' counting devices derive each day's peak occupancy (congestion.py).
    derived: ClassVar[tuple[tuple[str, type[Record]], ...]] = (("centre_days", PickupCentreDay),)

    def decode(self, envelope: RawEnvelope) -> list[SecurityEvent]:
        record = decode_vendor(envelope)
        event_type = taxonomy_of(record.vendor_type)
        lenient = record.lenient
        if event_type is None:
            # A type our taxonomy does not know yet (new firmware): a camera's alarm is never dropped.
            # It is raised as "other" at warning severity, and counted, so the mapping can be added.
            event_type, lenient = "other", (*lenient, "unknown_event_type")
        device = self.registry.devices.get(record.device_id)
        role = device.location_role if device else None
        at = record.occurred_at.astimezone(UTC)
        event_id = f"{record.device_id}/{record.channel}/{record.vendor_type}/{record.state}/{at.timestamp():.0f}"
        return [
            SecurityEvent.model_validate(
                {
                    "event_id": event_id,
                    "device_id": record.device_id,
                    "channel": record.channel,
                    "source_format": record.source_format,
                    "vendor_type": record.vendor_type,
                    "event_type": event_type,
                    "state": record.state,
                    "occurred_at": at,
                    "severity": "warning" if "unknown_event_type" in lenient else self.severity(event_type, at, role),
                    "school_id": device.school_id if device else None,
                    "district": self.registry.district_of_school(device.school_id) if device else None,
                    "location_role": role if role in KNOWN_ROLES else ("other" if role else None),
                    "linked_to_police": device.linked_to_police if device else None,
                    "occupancy": record.occupancy,
                    "queue": record.queue,
                    "entered": record.entered,
                    "exited": record.exited,
                    "direction": record.direction,
                    "site_id": device.site_id if device else None,
                    "lenient": lenient,
                }
            )
        ]

    def severity(self, event_type: SecurityEventType, at: datetime, role: str | None) -> Severity:
        rules = self.settings.security
        hour = at.astimezone(SHANGHAI).hour
        night = hour >= rules.night_start_hour or hour < rules.night_end_hour
        if night and event_type in NIGHT_CRITICAL:
            return "critical"
        base = BASE_SEVERITY[event_type]
        if role in SENSITIVE_ROLES and base == "warning" and event_type in ROLE_RAISED:
            return "high"
        return base

    def subject(self, event: SecurityEvent) -> str:
        return event.device_id

    def event_id(self, event: SecurityEvent) -> str:
        return event.event_id

    def new_detector(self, subject: str) -> SecurityDetector:
        device = self.registry.devices.get(subject)
        district = self.registry.district_of_school(device.school_id) if device else None
        anchor = device is not None and self.anchors.get(device.school_id) == subject
        facts = self.school_facts(device.school_id) if device is not None and anchor else None
        return SecurityDetector(subject, device, self.settings.security, district, facts, self.congestion_of(device))

    def congestion_of(self, device: SecurityDevice | None) -> CentreCongestion | None:
        """The congestion rule of a device counting a pick-up centre's vehicles; None for any other."""
        centre = self.registry.centres.get(device.site_id or "") if device is not None else None
        if device is None or centre is None or device.kind not in COUNTING_KINDS:
            return None
        return CentreCongestion(
            centre, device.device_id, self.settings.pickup, self.registry.district_of_school(centre.school_id)
        )

    @cached_property
    def devices_by_school(self) -> dict[str, list[SecurityDevice]]:
        """The registry's devices of each school, by id (computed once per pipeline)."""
        found: dict[str, list[SecurityDevice]] = {}
        for device in sorted(self.registry.devices.values(), key=lambda d: d.device_id):
            found.setdefault(device.school_id, []).append(device)
        return found

    @cached_property
    def anchors(self) -> dict[str, str]:
        """School → the device whose detector runs the school's registry rules (school_checks.py)."""
        found: dict[str, str] = {}
        for school_id, devices in self.devices_by_school.items():
            anchor = anchor_device(devices)
            if anchor is not None:
                found[school_id] = anchor.device_id
        return found

    def school_facts(self, school_id: str) -> SchoolFacts | None:
        """What the registry says about a school's guards and police linkage; None for an unknown school."""
        school = self.registry.schools.get(school_id)
        if school is None:
            return None
        unlinked = sorted(
            (d for d in self.devices_by_school.get(school_id, []) if d.kind in POLICE_KINDS and not d.linked_to_police),
            key=lambda d: (d.kind != "alarm_box", d.device_id),
        )
        required = required_guards(school.enrolment, self.settings.security)
        return SchoolFacts(school, self.registry.district_of_school(school_id), required, tuple(unlinked))

    def kpi_partials(
        self, events: Sequence[SecurityEvent], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        return merge_partials(
            [
                chunk_partials(events, alerts),
                leniency_partials(self.domain, events),
                pickup_partials(events, alerts, derived, self.registry),
            ]
        )

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        return final_kpis(finish_pickup(totals), self.registry, self.settings.security)
