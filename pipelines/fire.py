"""Childcare fire safety: inspection forms normalized and enriched, hazards raised per finding.

From 《托育机构消防安全指南(试行)》(2022) and DB14/T 2054-2020: e-bike findings are high, video
findings a warning, a hazard open past its deadline high, a major hazard closes the area.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, json_object
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireInspection

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
        return f"{event.institution_id}/{event.inspection_id}"

    def occurred_at(self, event: FireInspection) -> datetime:
        return event.inspected_at

    def alerts_of(self, event: FireInspection) -> list[Alert]:
        alerts: list[Alert] = []
        today = event.inspected_at.date()
        for f in event.findings:
            if f.compliant or f.remediated_on is not None:
                continue
            rule, (severity, title) = f"fire.hazard.{f.category}", FINDING_SEVERITY.get(f.category, ("warning", "隐患"))
            if f.deadline is not None and f.deadline < today:
                rule, severity, title = "fire.hazard_overdue", "high", "隐患逾期未整改"
            if f.major:
                rule, severity, title = "fire.area_closed", "critical", "重大隐患：区域停止使用"
            alerts.append(
                new_alert(
                    domain="fire",
                    rule=rule,
                    subject=event.institution_id,
                    window=f.item_code,
                    severity=severity,  # type: ignore[arg-type]
                    district=event.district,  # type: ignore[arg-type]
                    occurred_at=event.inspected_at,
                    detected_at=event.inspected_at,
                    title=title,
                    detail=f"检查项{f.item_code}（{f.category}），整改期限{f.deadline or '未定'}",
                    evidence=[{"inspection_id": event.inspection_id, **f.model_dump(mode="json")}],
                )
            )
        return alerts

    def kpi_partials(
        self, events: Sequence[FireInspection], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        partials = super().kpi_partials(events, alerts, derived)
        for e in events:
            add(partials, "fire_inspections_total", kind=e.kind, district=e.district)
            add(partials, "fire_findings_open_total", sum(not f.compliant for f in e.findings), district=e.district)
        return partials
