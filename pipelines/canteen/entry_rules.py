"""Rules that one ledger line breaks on its own, each a small object: the stream raises them as the line arrives.

- `ForbiddenCategory`: staff meals, hospitality or bonuses charged to the canteen (five-ministry notice).
- `FewCheckers`: a delivery accepted by fewer than `min_delivery_checkers` people (MOE 2024 guideline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from safecampus.config import CanteenRules
from safecampus.pipelines.alerts import new_alert
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.common import Severity

FORBIDDEN_TITLES = {"staff_meals": "职工餐费计入食堂", "hospitality": "招待费计入食堂", "bonus": "奖金计入食堂"}


class EntryRule(Protocol):
    def check(self, entry: CanteenLedgerEntry) -> list[Alert]: ...


def entry_alert(entry: CanteenLedgerEntry, rule: str, severity: Severity, title: str, detail: str) -> Alert:
    """An alert about one ledger line, with the line as its evidence."""
    return new_alert(
        domain="canteen",
        rule=rule,
        subject=entry.canteen_id,
        window=entry.entry_id,
        severity=severity,
        school_id=entry.school_id,
        district=entry.district,
        occurred_at=entry.recorded_at,
        detected_at=entry.recorded_at,
        title=title,
        detail=detail,
        evidence=[{"event_id": f"{entry.canteen_id}/{entry.entry_id}", **entry.model_dump(mode="json")}],
    )


def where(entry: CanteenLedgerEntry) -> str:
    place = f"（{entry.source_file} 第{entry.source_row}行）" if entry.source_file and entry.source_row else ""
    return f"凭证{entry.entry_id}，{entry.booked_on:%Y-%m-%d}，金额{entry.amount_cny}元{place}"


@dataclass(frozen=True)
class ForbiddenCategory:
    def check(self, entry: CanteenLedgerEntry) -> list[Alert]:
        if entry.category not in FORBIDDEN_TITLES:
            return []
        title = FORBIDDEN_TITLES[entry.category]
        return [entry_alert(entry, f"canteen.red_flag.{entry.category}", "high", title, where(entry))]


@dataclass(frozen=True)
class FewCheckers:
    rules: CanteenRules

    def check(self, entry: CanteenLedgerEntry) -> list[Alert]:
        minimum = self.rules.min_delivery_checkers
        if entry.category != "ingredients" or entry.accepted_by_count is None or entry.accepted_by_count >= minimum:
            return []
        title = f"验收人数不足{minimum}人"
        detail = f"{where(entry)}，验收{entry.accepted_by_count}人"
        return [entry_alert(entry, "canteen.single_person_acceptance", "warning", title, detail)]


def entry_rules(rules: CanteenRules) -> tuple[EntryRule, ...]:
    return (ForbiddenCategory(), FewCheckers(rules))
