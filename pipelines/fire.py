"""Childcare fire safety: inspection forms normalized and enriched, hazards raised per finding.

From 《托育机构消防安全指南(试行)》(2022) and DB14/T 2054-2020: e-bike findings are high, video
findings a warning, a hazard open past its deadline high, a major hazard closes the area.

Detection is per institution (`FireDetector`): it remembers each open finding by item code, so a
later inspection that marks the item compliant or remediated resolves the same alert (same
fingerprint: institution, rule, item code), and a repeat of an open finding adds nothing. When an
open finding changes rule (its deadline passes, it becomes major), the old alert resolves and the
new one opens. The fire issue builds the full life cycle (deadlines as timers, missing patrols).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.domain import DecodeError, Detector, DomainPipeline, KpiPartials, add, json_object
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record, local_text
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireFinding, FireInspection

FINDING_SEVERITY = {"ebike": ("high", "电动车或电池停放充电"), "video": ("warning", "视频监控不符合要求")}


class FirePipeline(DomainPipeline[FireInspection]):
    domain = "fire"
    event_type = FireInspection

    def decode(self, envelope: RawEnvelope) -> list[FireInspection]:
        if envelope.source != "inspection-json":
            raise DecodeError("decode", f"source format {envelope.source!r} is not an inspection format")
        inspection = FireInspection.model_validate(json_object(envelope, "inspection form"))
        institution = self.registry.institutions.get(inspection.institution_id)
        if institution is None:
            raise DecodeError("registry", f"childcare institution {inspection.institution_id} is not in the registry")
        return [inspection.model_copy(update={"district": institution.district_id})]

    def subject(self, event: FireInspection) -> str:
        return event.institution_id

    def event_id(self, event: FireInspection) -> str:
        return inspection_event_id(event)

    def occurred_at(self, event: FireInspection) -> datetime:
        return event.inspected_at

    def new_detector(self, subject: str) -> FireDetector:
        return FireDetector()

    def kpi_partials(
        self, events: Sequence[FireInspection], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        partials = super().kpi_partials(events, [], derived)
        for alert in alerts:  # an update log: each finding's alert counts once, when it opens
            if alert.evidence and alert.evidence[0].get("opened"):
                add(partials, "fire_alerts_total", rule=alert.rule, severity=alert.severity)
        for e in events:
            add(partials, "fire_inspections_total", kind=e.kind, district=e.district)
            add(partials, "fire_findings_open_total", sum(not f.compliant for f in e.findings), district=e.district)
        return partials


def inspection_event_id(inspection: FireInspection) -> str:
    """The natural key of an inspection; alert evidence names it, so alerts find their input lines."""
    return f"{inspection.institution_id}/{inspection.inspection_id}"


def finding_evidence(inspection: FireInspection, finding: FireFinding) -> dict[str, object]:
    return {
        "event_id": inspection_event_id(inspection),
        "inspection_id": inspection.inspection_id,
        **finding.model_dump(mode="json"),
    }


def finding_alert(inspection: FireInspection, finding: FireFinding) -> Alert | None:
    """The firing alert an inspection's finding raises on its own, or None for a compliant or remediated one."""
    if finding.compliant or finding.remediated_on is not None:
        return None
    category = finding.category
    rule, (severity, title) = f"fire.hazard.{category}", FINDING_SEVERITY.get(category, ("warning", "隐患"))
    if finding.deadline is not None and finding.deadline < inspection.inspected_at.date():
        rule, severity, title = "fire.hazard_overdue", "high", "隐患逾期未整改"
    if finding.major:
        rule, severity, title = "fire.area_closed", "critical", "重大隐患：区域停止使用"
    summary = {"kind": "finding", "item_code": finding.item_code, "opened": True}
    return new_alert(
        domain="fire",
        rule=rule,
        subject=inspection.institution_id,
        window=finding.item_code,
        severity=severity,  # type: ignore[arg-type]
        district=inspection.district,
        occurred_at=inspection.inspected_at,
        detected_at=inspection.inspected_at,
        title=title,
        detail=f"检查项{finding.item_code}（{category}），整改期限{finding.deadline or '未定'}",
        evidence=[summary, finding_evidence(inspection, finding)],
    )


class FireDetector(Detector[FireInspection]):
    """The open findings of one institution, by item code: opened once, resolved by a later inspection."""

    def __init__(self) -> None:
        self.open: dict[str, Alert] = {}  # item code → its firing alert
        self.seen: dict[str, datetime] = {}  # item code → when an inspection last said anything about it

    def observe(self, event: FireInspection) -> list[Alert]:
        alerts: list[Alert] = []
        at = event.inspected_at
        for finding in event.findings:
            code = finding.item_code
            last = self.seen.get(code)
            if last is not None and at < last:
                continue  # a late inspection never reopens or resolves what a newer one said
            self.seen[code] = at
            opened, now = self.open.get(code), finding_alert(event, finding)
            if opened is not None and (now is None or now.fingerprint != opened.fingerprint):
                alerts.append(resolved(opened, event, finding, now))
                del self.open[code]
            if now is not None and code not in self.open:
                self.open[code] = now
                alerts.append(now)
        return alerts


def resolved(opened: Alert, inspection: FireInspection, finding: FireFinding, successor: Alert | None) -> Alert:
    """The resolve of an open finding's alert: the item is compliant or remediated, or it changed rule."""
    when = local_text(inspection.inspected_at)
    if successor is not None:
        why = f"{when} 检查（{inspection.inspection_id}）：升级为「{successor.title}」"
    elif finding.remediated_on is not None:
        why = f"{when} 检查（{inspection.inspection_id}）：已于 {finding.remediated_on} 整改"
    else:
        why = f"{when} 检查（{inspection.inspection_id}）：该项已合格"
    summary = {**opened.evidence[0], "opened": False, "resolved_by": inspection.inspection_id}
    later = finding_evidence(inspection, finding)
    return opened.model_copy(
        update={
            "status": "resolved",
            "detected_at": max(inspection.inspected_at, opened.occurred_at),
            "detail": f"{opened.detail}；{why}",
            "evidence": [summary, *opened.evidence[1:], later],
        }
    )
