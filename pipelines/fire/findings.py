"""A finding's own alert, by category, and the "area closed" flag of a major hazard.

《托育机构消防安全指南(试行)》(2022): a structural finding (4th floor or higher, basement, 三合一
premises, steel-panel building, hazardous goods) is critical, an e-bike or battery finding high, a
video finding a warning; any other item takes the severity the form or the checklist gives. The
form's severity can raise a category's, never lower it. The alert fires from the inspection that
found the hazard until it is closed (confirmed by the fire-safety manager, or a later inspection
finds the item compliant); a hazard fixed and confirmed on the spot raises none.

DB14/T 2054-2020: a major hazard that cannot be fixed at once stops use of the area, flagged by
`fire.area_closed` (critical) until the finding is confirmed closed.
"""

from __future__ import annotations

from datetime import datetime

from safecampus.pipelines.fire.board import fire_alert
from safecampus.pipelines.fire.book import Finding, worse
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Severity, local_text

CATEGORY_SEVERITY: dict[str, Severity] = {"location": "critical", "ebike": "high", "video": "warning"}
CATEGORY_TITLES: dict[str, str] = {
    "location": "设置场所不符合要求",
    "ebike": "电动车或电池违规停放充电",
    "video": "视频监控不符合要求",
}
CLOSED_HOW: dict[str, str] = {
    "confirmed": "已整改并经确认销号",
    "compliant": "复查合格",
    "on_the_spot": "当场整改",
}


def finding_severity(finding: Finding) -> Severity:
    floor = CATEGORY_SEVERITY.get(finding.category)
    return worse(floor, finding.severity) if floor else finding.severity


def finding_summary(facts: InstitutionFacts, finding: Finding, kind: str) -> dict[str, object]:
    return {
        "kind": kind,
        "item_code": finding.item_code,
        "finding": finding.window,
        "found_by": finding.opened_by,
        "event_id": f"{facts.institution_id}/{finding.opened_by}",  # the inspection that found it (its input line)
        "deadline": finding.deadline.isoformat() if finding.deadline else None,
    }


class FindingAlert:
    """`fire.hazard.<category>`: the hazard itself, open until closed."""

    def alerts(self, facts: InstitutionFacts, finding: Finding, item_name: str, clock: datetime) -> list[Alert]:
        if finding.closed_how == "on_the_spot":
            return []
        closed = finding.closed_at is not None and finding.closed_at <= clock
        title = CATEGORY_TITLES.get(finding.category, "消防隐患")
        detail = f"检查项 {finding.item_code}「{item_name}」{local_text(finding.opened_at)} 发现隐患"
        detail += f"，整改期限 {finding.deadline}" if finding.deadline else "，未定整改期限"
        if finding.area:
            detail += f"，部位：{finding.area}"
        if closed and finding.closed_at is not None:
            detail += f"；{local_text(finding.closed_at)} {CLOSED_HOW[finding.closed_how or 'confirmed']}"
        return [
            fire_alert(
                facts,
                rule=f"fire.hazard.{finding.category}",
                window=finding.window,
                severity=finding_severity(finding),
                occurred_at=finding.opened_at,
                detected_at=finding.closed_at if closed and finding.closed_at else finding.opened_at,
                title=title,
                detail=detail,
                summary=finding_summary(facts, finding, "finding"),
                evidence=[{"kind": "photos", "photos": finding.photos}] if finding.photos else [],
                resolved=closed,
            )
        ]


class AreaClosed:
    """`fire.area_closed`: a major hazard stops use of its area until the finding is confirmed closed."""

    def alerts(self, facts: InstitutionFacts, finding: Finding, item_name: str, clock: datetime) -> list[Alert]:
        if not finding.major or finding.closed_how == "on_the_spot":
            return []
        closed = finding.closed_at is not None and finding.closed_at <= clock
        where = finding.area or "相关区域"
        detail = f"检查项 {finding.item_code}「{item_name}」为重大隐患，不能立即整改：{where}停止使用"
        if closed and finding.closed_at is not None:
            detail += f"；{local_text(finding.closed_at)} {CLOSED_HOW[finding.closed_how or 'confirmed']}，恢复使用"
        return [
            fire_alert(
                facts,
                rule="fire.area_closed",
                window=finding.window,
                severity="critical",
                occurred_at=finding.opened_at,
                detected_at=finding.closed_at if closed and finding.closed_at else finding.opened_at,
                title="重大隐患：区域停止使用",
                detail=detail,
                summary=finding_summary(facts, finding, "area_closed"),
                resolved=closed,
            )
        ]
