"""Campus security: vendor alarms normalized onto one taxonomy, with severity, detection and KPIs.

Severity comes from the event type, the time of day (intrusion at night is critical) and the
device's location role (tripwire or loitering at a gate or dormitory is high). A device not in
the registry still becomes an event, without school or district, so a person can be told about it.

Detection is per device (`SecurityDetector`, in `pipelines/security_detection.py`). Operators'
feedback is applied here by pure code: `acknowledge`, `suppress` and `AlertTriage` (which the
alert sink runs over the alert update log). KPIs: alerts by school/type/severity, device online
ratio, police linkage, time to acknowledge, and the "4個100%" indicators from the registry.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from safecampus.config import SecurityRules
from safecampus.connectors.security.alarmbox import decode_alarmbox
from safecampus.connectors.security.gb28181 import decode_gb28181
from safecampus.connectors.security.isapi import decode_isapi
from safecampus.connectors.security.record import VendorSecurityRecord, taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, payload_of
from safecampus.pipelines.security_detection import SecurityDetector
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, Severity
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import School
from safecampus.schemas.security import SecurityEvent, SecurityEventType

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
    "other": "info",
}
NIGHT_CRITICAL: frozenset[str] = frozenset({"intrusion", "fence", "forced_door", "tripwire"})
SENSITIVE_ROLES: frozenset[str] = frozenset({"gate", "dormitory"})
ROLE_RAISED: frozenset[str] = frozenset({"tripwire", "loitering"})  # someone at a gate or dormitory matters more
DEVICE_EVENTS = "security_device_events_total"  # per-device partial; folded into online ratios, not exported
ACK_SAMPLE = "security_ack_seconds_sample"  # per-second histogram partial of time to acknowledge, not exported
POLICE_KINDS: dict[str, str] = {"alarm_box": "one_key_alarm", "camera": "video"}


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
    except SecurityDecodeError as exc:
        raise DecodeError("decode", f"{envelope.source} payload: {exc}") from None
    raise DecodeError("decode", f"source format {envelope.source!r} is not a security format")


class SecurityPipeline(DomainPipeline[SecurityEvent]):
    domain = "security"
    event_type = SecurityEvent

    def decode(self, envelope: RawEnvelope) -> list[SecurityEvent]:
        record = decode_vendor(envelope)
        event_type = taxonomy_of(record.vendor_type)
        if event_type is None:
            raise DecodeError("normalize", f"unknown vendor event type {record.vendor_type!r}: no taxonomy mapping")
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
                    "severity": self.severity(event_type, at, role),
                    "school_id": device.school_id if device else None,
                    "district": self.registry.district_of_school(device.school_id) if device else None,
                    "location_role": role
                    if role in SENSITIVE_ROLES | {"canteen", "classroom", "perimeter", "playground", "office"}
                    else ("other" if role else None),
                    "linked_to_police": device.linked_to_police if device else None,
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
        return SecurityDetector(subject, device, self.settings.security, district)

    # -- KPIs ---------------------------------------------------------------------------------------

    def kpi_partials(self, events: Sequence[SecurityEvent], alerts: Sequence[Alert]) -> KpiPartials:
        partials: KpiPartials = {}
        for event in events:
            add(partials, "security_events_total", event_type=event.event_type)
            add(partials, DEVICE_EVENTS, device=event.device_id)
        for alert in alerts:
            summary = alert.evidence[0] if alert.evidence else {}
            if summary.get("opened", True):  # alerts.jsonl is an update log: count each fingerprint once
                add(
                    partials,
                    "security_alerts_total",
                    rule=alert.rule,
                    severity=alert.severity,
                    school=alert.school_id,
                    district=alert.district,
                )
            for item in alert.evidence:
                if item.get("kind") == "acknowledgement" and item.get("new"):
                    add(partials, ACK_SAMPLE, seconds=str(round(float(item["seconds_to_ack"]))))
        return partials

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        out: KpiPartials = {k: v for k, v in totals.items() if k[0] not in (DEVICE_EVENTS, ACK_SAMPLE)}
        reported = {dict(k[1])["device"] for k, v in totals.items() if k[0] == DEVICE_EVENTS and v > 0}
        out.update(self.online_ratios(reported))
        out.update(self.registry_kpis())
        out.update(ack_kpis({int(dict(k[1])["seconds"]): v for k, v in totals.items() if k[0] == ACK_SAMPLE}))
        return out

    def online_ratios(self, reported: set[str]) -> KpiPartials:
        """`security_device_online_ratio`: devices that reported / devices in the registry."""
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for device in self.registry.devices.values():
            for scope in self._scopes(device.school_id):
                counts[scope][0] += device.device_id in reported
                counts[scope][1] += 1
        return _ratios("security_device_online_ratio", counts)

    def registry_kpis(self) -> KpiPartials:
        """Police linkage and the "4個100%" indicators, from the registry alone (computed once)."""
        linked: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        unlinked_schools: set[str] = set()
        for device in self.registry.devices.values():
            kind = POLICE_KINDS.get(device.kind)
            if kind is None:
                continue
            if not device.linked_to_police:
                unlinked_schools.add(device.school_id)
            for scope, value in self._scopes(device.school_id):
                for k in (kind, "all"):
                    linked[(scope, value, k)][0] += device.linked_to_police
                    linked[(scope, value, k)][1] += 1
        out: KpiPartials = {}
        for (scope, value, kind), (yes, total) in sorted(linked.items()):
            add(out, "security_police_linkage_ratio", yes / total, kind=kind, **_scope_labels(scope, value))
        rules = self.settings.security
        four: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for school in self.registry.schools.values():
            met = {
                "guards": school.guards >= required_guards(school.enrolment, rules),
                "closed_management": school.closed_management,
                "police_linkage": school.school_id not in unlinked_schools,
                "guard_post_at_gate": school.guard_post_at_gate,
            }
            for indicator, ok in met.items():
                for scope, value in self._scopes(school.school_id):
                    four[(scope, value, indicator)][0] += ok
                    four[(scope, value, indicator)][1] += 1
        for (scope, value, indicator), (yes, total) in sorted(four.items()):
            add(
                out,
                "security_four_100_ratio",
                yes / total,
                indicator=indicator,
                **_scope_labels(scope, value),
            )
        return out

    def _scopes(self, school_id: str) -> list[tuple[str, str]]:
        """The school, its district and the city: every ratio is given at the three levels."""
        scopes = [("school", school_id), ("city", "")]
        district = self.registry.district_of_school(school_id)
        if district:
            scopes.append(("district", district))
        return scopes


def required_guards(students: int, rules: SecurityRules) -> int:
    """Full-time guards a school needs (GB/T 29315-2022): <100 → 1, 100–999 → 2, ≥1000 → 3 + 1 per 500."""
    if students < 100:
        return rules.guards_small_school
    if students < 1000:
        return rules.guards_medium_school
    return rules.guards_large_school + (students - 1000) // 500


def guards_short(school: School, rules: SecurityRules) -> bool:
    """Whether a school has fewer full-time guards than the standard asks."""
    return school.guards < required_guards(school.enrolment, rules)


def _scope_labels(scope: str, value: str) -> dict[str, str | None]:
    return {} if scope == "city" else {scope: value}


def _ratios(metric: str, counts: dict[tuple[str, str], list[int]]) -> KpiPartials:
    out: KpiPartials = {}
    for (scope, value), (yes, total) in sorted(counts.items()):
        add(out, metric, yes / total if total else 0.0, **_scope_labels(scope, value))
    return out


def ack_kpis(samples: dict[int, float]) -> KpiPartials:
    """Mean and p90 (nearest rank) of seconds to acknowledge; nothing when there were no acks."""
    total = sum(samples.values())
    if total <= 0:
        return {}
    out: KpiPartials = {}
    add(out, "security_ack_seconds_mean", sum(s * n for s, n in samples.items()) / total)
    rank, seen = math.ceil(0.9 * total), 0.0
    for seconds in sorted(samples):
        seen += samples[seconds]
        if seen >= rank:
            add(out, "security_ack_seconds_p90", float(seconds))
            break
    add(out, "security_acks_total", total)
    return out
