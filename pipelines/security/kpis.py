"""Security KPIs: device online ratios, police linkage, the "4个100%" indicators, time to acknowledge.

Every ratio is given at three levels (school, district, city). Counts over events and alerts are
additive partials (`chunk_partials`); `final_kpis` turns their sum into the exported KPIs, adding what
the registry alone decides (computed once): police linkage by device kind and the four
indicators of 4个100% (enough full-time guards, closed management, alarms linked to the police,
a guard post at the gate).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from safecampus.config import SecurityRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import KpiPartials, add
from safecampus.schemas.alert import Alert
from safecampus.schemas.registry import School
from safecampus.schemas.security import SecurityEvent

DEVICE_EVENTS = "security_device_events_total"  # per-device partial; folded into online ratios, not exported
ACK_SAMPLE = "security_ack_seconds_sample"  # per-second histogram partial of time to acknowledge, not exported
POLICE_KINDS: dict[str, str] = {"alarm_box": "one_key_alarm", "camera": "video"}

Scope = tuple[str, str]  # ("school", id), ("district", id) or ("city", "")


def chunk_partials(events: Sequence[SecurityEvent], alerts: Sequence[Alert]) -> KpiPartials:
    """Additive counts over a chunk: events by type and device, alerts once per fingerprint, ack samples."""
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


def final_kpis(totals: KpiPartials, registry: RegistryView, rules: SecurityRules) -> KpiPartials:
    """The exported KPIs from the summed partials: the working partials become ratios and ack figures."""
    out: KpiPartials = {k: v for k, v in totals.items() if k[0] not in (DEVICE_EVENTS, ACK_SAMPLE)}
    reported = {dict(k[1])["device"] for k, v in totals.items() if k[0] == DEVICE_EVENTS and v > 0}
    out.update(online_ratios(registry, reported))
    out.update(registry_kpis(registry, rules))
    out.update(ack_kpis({int(dict(k[1])["seconds"]): v for k, v in totals.items() if k[0] == ACK_SAMPLE}))
    out.update(reporting_counts(registry, reported))
    out.update(registry_counts(registry, rules))
    return out


def reporting_counts(registry: RegistryView, reported: set[str]) -> KpiPartials:
    """Per school and device kind, `security_devices_reporting` (devices that reported): the numerator of
    the online ratio, whose denominator is `security_devices`; Prometheus derives the ratio from the two."""
    out: KpiPartials = {}
    for device in registry.devices.values():
        if device.device_id in reported:
            district, school = _school_of(registry, device.school_id)
            add(out, "security_devices_reporting", district=district, school=school, kind=device.kind)
    return out


def registry_counts(registry: RegistryView, rules: SecurityRules) -> KpiPartials:
    """Per school, what the registry alone decides, as counts a ratio can be summed from at any level:
    `security_devices{kind}`, `security_police_linkable_devices{kind}` and `security_police_linked_devices{kind}`
    (kind one_key_alarm or video), and `security_four_100_met{indicator}` (1 when the school meets it, else 0)."""
    out: KpiPartials = {}
    unlinked_schools: set[str] = set()
    for device in registry.devices.values():
        district, school_id = _school_of(registry, device.school_id)
        add(out, "security_devices", district=district, school=school_id, kind=device.kind)
        kind = POLICE_KINDS.get(device.kind)
        if kind is None:
            continue
        add(out, "security_police_linkable_devices", district=district, school=school_id, kind=kind)
        linked = float(device.linked_to_police)
        add(out, "security_police_linked_devices", linked, district=district, school=school_id, kind=kind)
        if not device.linked_to_police:
            unlinked_schools.add(device.school_id)
    for school in registry.schools.values():
        where = registry.district_of_school(school.school_id)
        met = {
            "guards": not guards_short(school, rules),
            "closed_management": school.closed_management,
            "police_linkage": school.school_id not in unlinked_schools,
            "guard_post_at_gate": school.guard_post_at_gate,
        }
        for indicator, ok in met.items():
            add(out, "security_four_100_met", float(ok), district=where, school=school.school_id, indicator=indicator)
    return out


def _school_of(registry: RegistryView, school_id: str) -> tuple[str | None, str]:
    return registry.district_of_school(school_id), school_id


def online_ratios(registry: RegistryView, reported: set[str]) -> KpiPartials:
    """`security_device_online_ratio`: devices that reported / devices in the registry."""
    counts: dict[Scope, list[int]] = defaultdict(lambda: [0, 0])
    for device in registry.devices.values():
        for where in scopes(registry, device.school_id):
            counts[where][0] += device.device_id in reported
            counts[where][1] += 1
    out: KpiPartials = {}
    for (scope, value), (yes, total) in sorted(counts.items()):
        add(out, "security_device_online_ratio", yes / total if total else 0.0, **_scope_labels(scope, value))
    return out


def registry_kpis(registry: RegistryView, rules: SecurityRules) -> KpiPartials:
    """Police linkage and the "4个100%" indicators, from the registry alone (computed once)."""
    linked: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    unlinked_schools: set[str] = set()
    for device in registry.devices.values():
        kind = POLICE_KINDS.get(device.kind)
        if kind is None:
            continue
        if not device.linked_to_police:
            unlinked_schools.add(device.school_id)
        for scope, value in scopes(registry, device.school_id):
            for k in (kind, "all"):
                linked[(scope, value, k)][0] += device.linked_to_police
                linked[(scope, value, k)][1] += 1
    out: KpiPartials = {}
    for (scope, value, kind), (yes, total) in sorted(linked.items()):
        add(out, "security_police_linkage_ratio", yes / total, kind=kind, **_scope_labels(scope, value))
    four: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for school in registry.schools.values():
        met = {
            "guards": not guards_short(school, rules),
            "closed_management": school.closed_management,
            "police_linkage": school.school_id not in unlinked_schools,
            "guard_post_at_gate": school.guard_post_at_gate,
        }
        for indicator, ok in met.items():
            for scope, value in scopes(registry, school.school_id):
                four[(scope, value, indicator)][0] += ok
                four[(scope, value, indicator)][1] += 1
    for (scope, value, indicator), (yes, total) in sorted(four.items()):
        add(out, "security_four_100_ratio", yes / total, indicator=indicator, **_scope_labels(scope, value))
    return out


def scopes(registry: RegistryView, school_id: str) -> list[Scope]:
    """The school, its district and the city: every ratio is given at the three levels."""
    found: list[Scope] = [("school", school_id), ("city", "")]
    district = registry.district_of_school(school_id)
    if district:
        found.append(("district", district))
    return found


def _scope_labels(scope: str, value: str) -> dict[str, str | None]:
    return {} if scope == "city" else {scope: value}


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
