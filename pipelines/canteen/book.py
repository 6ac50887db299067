"""The canteen records of the whole city, as the audit reads them: ledger lines, surveys, ratings, disclosures.

`CanteenBook.of(records)` keeps one record per natural key (the latest recorded wins, as the
store's upsert does), so a file imported twice or a replay after streaming counts each line once.
`stored_book(url)` reads the canteen events the pipeline upserted into the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import TypeAdapter
from sqlmodel import Session, select

from safecampus.connectors.store import open_store
from safecampus.pipelines.canteen.pipeline import CanteenRecord, record_id, record_time
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_forms import CanteenDisclosure, CanteenSurvey, SupplierRating
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.store import EventRow

_RECORD: TypeAdapter[CanteenRecord] = TypeAdapter(CanteenRecord)


def month_of(entry: CanteenLedgerEntry) -> str:
    return f"{entry.booked_on:%Y-%m}"


@dataclass
class CanteenBook:
    entries: list[CanteenLedgerEntry] = field(default_factory=list)
    surveys: list[CanteenSurvey] = field(default_factory=list)
    ratings: list[SupplierRating] = field(default_factory=list)
    disclosures: dict[tuple[str, str], CanteenDisclosure] = field(default_factory=dict)  # (canteen, month)
    clock: datetime | None = None  # event time: the latest record's time

    @classmethod
    def of(cls, records: Iterable[CanteenRecord]) -> CanteenBook:
        latest: dict[str, CanteenRecord] = {}
        for record in records:
            key = record_id(record)
            kept = latest.get(key)
            if kept is None or record_time(record) >= record_time(kept):
                latest[key] = record
        book = cls()
        for record in latest.values():
            moment = record_time(record)
            book.clock = moment if book.clock is None or moment > book.clock else book.clock
            match record:
                case CanteenLedgerEntry():
                    book.entries.append(record)
                case CanteenSurvey():
                    book.surveys.append(record)
                case SupplierRating():
                    book.ratings.append(record)
                case CanteenDisclosure():
                    book.disclosures[(record.canteen_id, record.month)] = record
        book.entries.sort(key=lambda e: (e.canteen_id, e.booked_on, e.recorded_at, e.entry_id))
        return book

    def by_canteen_month(self) -> dict[tuple[str, str], list[CanteenLedgerEntry]]:
        grouped: dict[tuple[str, str], list[CanteenLedgerEntry]] = defaultdict(list)
        for entry in self.entries:
            grouped[(entry.canteen_id, month_of(entry))].append(entry)
        return grouped

    def months(self) -> list[str]:
        return sorted({month_of(e) for e in self.entries})

    def local_clock(self) -> datetime | None:
        return self.clock.astimezone(SHANGHAI) if self.clock else None


def parse_record(body: str) -> CanteenRecord:
    """A stored canteen event body (JSON) as its record; bodies without `kind` are ledger lines."""
    return _RECORD.validate_json(body)


def stored_book(url: str) -> CanteenBook:
    """Every canteen record in the store at `url` (a `StoreError` when there is none)."""
    engine = open_store(url)
    with Session(engine) as session:
        bodies = session.exec(select(EventRow.body).where(EventRow.domain == "canteen")).all()
    return CanteenBook.of(parse_record(body) for body in bodies)
