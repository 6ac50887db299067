"""Canteen finance: ledger entries normalized and enriched, red flags raised per entry.

Red flags from the five-ministry notice and the MOE 2024 guideline: staff meals, hospitality
or bonuses charged to the canteen; a delivery accepted by fewer than two people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, json_object
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope

RED_FLAG_CATEGORIES = {"staff_meals": "职工餐费计入食堂", "hospitality": "招待费计入食堂", "bonus": "奖金计入食堂"}


class CanteenPipeline(DomainPipeline[CanteenLedgerEntry]):
    domain = "canteen"
    event_type = CanteenLedgerEntry

    def decode(self, envelope: RawEnvelope) -> list[CanteenLedgerEntry]:
        if envelope.source != "ledger-json":
            raise DecodeError("decode", f"source format {envelope.source!r} is not a canteen ledger format")
        entry = CanteenLedgerEntry.model_validate(json_object(envelope, "ledger entry"))
        canteen = self.registry.canteens.get(entry.canteen_id)
        if canteen is None:
            raise DecodeError("registry", f"canteen {entry.canteen_id} is not in the registry")
        school = canteen.school_id
        return [entry.model_copy(update={"school_id": school, "district": self.registry.district_of_school(school)})]

    def subject(self, event: CanteenLedgerEntry) -> str:
        return event.canteen_id

    def event_id(self, event: CanteenLedgerEntry) -> str:
        return f"{event.canteen_id}/{event.entry_id}"

    def occurred_at(self, event: CanteenLedgerEntry) -> datetime:
        return event.recorded_at

    def alerts_of(self, event: CanteenLedgerEntry) -> list[Alert]:
        found: list[tuple[str, str, str]] = []
        if event.category in RED_FLAG_CATEGORIES:
            found.append((f"canteen.red_flag.{event.category}", "high", RED_FLAG_CATEGORIES[event.category]))
        minimum = self.settings.canteen.min_delivery_checkers
        if (
            event.category == "ingredients"
            and event.accepted_by_count is not None
            and event.accepted_by_count < minimum
        ):
            found.append(("canteen.single_person_acceptance", "warning", f"验收人数不足{minimum}人"))
        return [
            new_alert(
                domain="canteen",
                rule=rule,
                subject=event.canteen_id,
                window=event.entry_id,
                severity=severity,  # type: ignore[arg-type]
                school_id=event.school_id,
                district=event.district,
                occurred_at=event.recorded_at,
                detected_at=event.recorded_at,
                title=title,
                detail=f"凭证{event.entry_id}，金额{event.amount_cny}元",
                evidence=[event.model_dump(mode="json")],
            )
            for rule, severity, title in found
        ]

    def kpi_partials(
        self, events: Sequence[CanteenLedgerEntry], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        partials = super().kpi_partials(events, alerts, derived)
        for e in events:
            add(partials, f"canteen_{e.direction}_cny", float(e.amount_cny), canteen=e.canteen_id, category=e.category)
        return partials
