"""The remediation life cycle past the finding: a deadline missed, a rectification nobody confirmed.

`fire.hazard_overdue` (same; DB14/T 2054-2020 §6.8): a finding not rectified by the end of its
deadline day (local midnight) is high, and escalates once per further day: each midnight it stays
unrectified is one more update of the same alert (`escalation` 1, 2, …: days overdue). It resolves
when the finding is rectified or closed, even if the form that says so arrives later.

`fire.rectification_unconfirmed` (warning): rectified, but the fire-safety manager has not confirmed
it closed `unconfirmed_after_h` later; resolves when it is confirmed or found compliant.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from safecampus.pipelines.fire.board import fire_alert
from safecampus.pipelines.fire.book import Finding
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.pipelines.fire.findings import finding_summary
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, local_text

DAY = timedelta(days=1)


def overdue_from(finding: Finding) -> datetime | None:
    """The end of the deadline day (local midnight after it), or None without a deadline."""
    if finding.deadline is None:
        return None
    return datetime.combine(finding.deadline + DAY, time(0), SHANGHAI)


def fixed_at(finding: Finding) -> datetime | None:
    """When the hazard stopped being a hazard: rectified, or closed."""
    times = [t for t in (finding.rectified_at, finding.closed_at) if t is not None]
    return min(times) if times else None


class Overdue:
    """An open finding past its deadline: high, one escalation per further day."""

    def alerts(self, facts: InstitutionFacts, finding: Finding, item_name: str, clock: datetime) -> list[Alert]:
        start, fixed = overdue_from(finding), fixed_at(finding)
        if start is None or clock < start or finding.closed_how == "on_the_spot" or (fixed and fixed < start):
            return []
        until = min(clock, fixed) if fixed is not None else clock
        level = int((until - start) / DAY) + 1
        resolved = fixed is not None and fixed <= clock
        detail = (
            f"检查项 {finding.item_code}「{item_name}」隐患整改期限 {finding.deadline}，"
            f"逾期第 {level} 天仍未整改（已逐日升级 {level} 次）"
        )
        if resolved and fixed is not None:
            detail = (
                f"检查项 {finding.item_code}「{item_name}」整改期限 {finding.deadline}，"
                f"逾期 {level} 天后于 {local_text(fixed)} 整改"
            )
        summary = {**finding_summary(facts, finding, "overdue"), "escalation": level}
        return [
            fire_alert(
                facts,
                rule="fire.hazard_overdue",
                window=finding.window,
                severity="high",
                occurred_at=start,
                detected_at=fixed if resolved and fixed is not None else start + (level - 1) * DAY,
                title="隐患逾期未整改",
                detail=detail,
                summary=summary,
                resolved=resolved,
            )
        ]

    def next_due(self, finding: Finding, clock: datetime) -> datetime | None:
        start, fixed = overdue_from(finding), fixed_at(finding)
        if start is None or fixed is not None or finding.closed_at is not None:
            return None
        if clock < start:
            return start
        return start + (int((clock - start) / DAY) + 1) * DAY


class Unconfirmed:
    """Rectified but not confirmed closed after `after_h` hours."""

    def __init__(self, after_h: float) -> None:
        self.after = timedelta(hours=after_h)

    def alerts(self, facts: InstitutionFacts, finding: Finding, item_name: str, clock: datetime) -> list[Alert]:
        if finding.rectified_at is None or finding.closed_how == "on_the_spot":
            return []
        due = finding.rectified_at + self.after
        closed = finding.closed_at
        if clock < due or (closed is not None and closed <= due):
            return []
        resolved = closed is not None and closed <= clock
        detail = (
            f"检查项 {finding.item_code}「{item_name}」已于 {local_text(finding.rectified_at)} 整改，"
            f"超过 {self.after.total_seconds() / 3600:g} 小时仍未经消防安全管理人确认销号"
        )
        if resolved and closed is not None:
            detail += f"；{local_text(closed)} 已确认"
        return [
            fire_alert(
                facts,
                rule="fire.rectification_unconfirmed",
                window=finding.window,
                severity="warning",
                occurred_at=due,
                detected_at=closed if resolved and closed is not None else due,
                title="整改未确认销号",
                detail=detail,
                summary=finding_summary(facts, finding, "unconfirmed"),
                resolved=resolved,
            )
        ]

    def next_due(self, finding: Finding, clock: datetime) -> datetime | None:
        if finding.rectified_at is None or finding.closed_at is not None:
            return None
        due = finding.rectified_at + self.after
        return due if due > clock else None
