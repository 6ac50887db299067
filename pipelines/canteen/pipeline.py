"""Canteen finance: ledger lines, surveys, supplier ratings and disclosures normalized and enriched;
the rules one ledger line breaks on its own raised as it arrives (`entry_rules.py`).

What needs the whole ledger — monthly statements, subsidy, duplicates, prices, supplier share,
surveys and disclosure deadlines — is the audit (`audit.py`), over the records this pipeline stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safecampus.pipelines.canteen.entry_rules import entry_rules
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, json_object
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_forms import CanteenDisclosure, CanteenSurvey, SupplierRating
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope

CanteenRecord = CanteenLedgerEntry | CanteenSurvey | SupplierRating | CanteenDisclosure
FORMATS: dict[str, tuple[type[Record], str]] = {
    "ledger-json": (CanteenLedgerEntry, "ledger entry"),
    "canteen-survey-json": (CanteenSurvey, "satisfaction survey"),
    "supplier-rating-json": (SupplierRating, "supplier rating"),
    "canteen-disclosure-json": (CanteenDisclosure, "disclosure"),
}


def record_id(record: Record) -> str:
    """The natural key of a canteen record (the store's event id)."""
    match record:
        case CanteenLedgerEntry():
            return f"{record.canteen_id}/{record.entry_id}"
        case CanteenSurvey():
            return f"{record.canteen_id}/survey/{record.survey_id}"
        case SupplierRating():
            return f"{record.canteen_id}/rating/{record.semester}/{record.supplier_id}"
        case CanteenDisclosure():
            return f"{record.canteen_id}/disclosure/{record.month}"
    raise TypeError(f"not a canteen record: {type(record).__name__}")


def record_time(record: Record) -> datetime:
    if isinstance(record, CanteenDisclosure):
        return record.published_at
    moment: datetime = record.recorded_at  # type: ignore[attr-defined]
    return moment


class CanteenPipeline(DomainPipeline[Record]):
    domain = "canteen"
    event_type = CanteenLedgerEntry  # stateless: events are never packed, so other record kinds travel too

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.rules = entry_rules(self.settings.canteen)

    def decode(self, envelope: RawEnvelope) -> list[Record]:
        known = FORMATS.get(envelope.source)
        if known is None:
            raise DecodeError("decode", f"source format {envelope.source!r} is not a canteen format")
        model, what = known
        record = model.model_validate(json_object(envelope, what))
        canteen = self.registry.canteens.get(record.canteen_id)  # type: ignore[attr-defined]
        if canteen is None:
            raise DecodeError("registry", f"canteen {record.canteen_id} is not in the registry")  # type: ignore[attr-defined]
        school = canteen.school_id
        return [record.model_copy(update={"school_id": school, "district": self.registry.district_of_school(school)})]

    def subject(self, event: Record) -> str:
        return event.canteen_id  # type: ignore[attr-defined, no-any-return]

    def event_id(self, event: Record) -> str:
        return record_id(event)

    def occurred_at(self, event: Record) -> datetime:
        return record_time(event)

    def alerts_of(self, event: Record) -> list[Alert]:
        if not isinstance(event, CanteenLedgerEntry):
            return []
        return [alert for rule in self.rules for alert in rule.check(event)]

    def kpi_partials(
        self, events: Sequence[Record], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        partials = super().kpi_partials(events, alerts, derived)
        for e in events:
            if isinstance(e, CanteenLedgerEntry):
                amount = float(e.amount_cny)
                add(partials, f"canteen_{e.direction}_cny", amount, canteen=e.canteen_id, category=e.category)
            elif isinstance(e, CanteenDisclosure):
                add(partials, "canteen_disclosures_total", canteen=e.canteen_id)
        return partials
