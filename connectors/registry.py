"""The registry: loading CSV + GTFS into the store, and a read-only in-memory view for pipelines.

Pipelines never invent a city: `registry_at(url)` reads the registry a person loaded with
`safecampus registry load DIR`, and refuses an empty one (`EmptyRegistryError`).

`load_dir` accepts our CSV files (schools.csv, security_devices.csv, …) and any standard GTFS
feed directory (routes.txt, trips.txt, stops.txt, stop_times.txt, shapes.txt, calendar.txt),
either directly in DIR or in DIR/gtfs.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from safecampus.connectors.bus.gtfs_check import check_feed
from safecampus.connectors.store import open_store, upsert_all
from safecampus.schemas.common import describe_validation_error
from safecampus.schemas.registry import (
    Bus,
    BusOperator,
    Canteen,
    ChildcareCalendarDate,
    ChildcareInstitution,
    District,
    Driver,
    GtfsAgency,
    GtfsCalendar,
    GtfsFeedInfo,
    GtfsRoute,
    GtfsShapePoint,
    GtfsStop,
    GtfsStopTime,
    GtfsTrip,
    PickupCentre,
    School,
    SecurityDevice,
)

# File name → table, in foreign-key order.
CSV_TABLES: tuple[tuple[str, type[SQLModel]], ...] = (
    ("districts.csv", District),
    ("schools.csv", School),
    ("pickup_centres.csv", PickupCentre),
    ("security_devices.csv", SecurityDevice),
    ("bus_operators.csv", BusOperator),
    ("buses.csv", Bus),
    ("drivers.csv", Driver),
    ("canteens.csv", Canteen),
    ("childcare_institutions.csv", ChildcareInstitution),
    ("childcare_calendar_dates.csv", ChildcareCalendarDate),
)
GTFS_TABLES: tuple[tuple[str, type[SQLModel]], ...] = (
    ("agency.txt", GtfsAgency),
    ("feed_info.txt", GtfsFeedInfo),
    ("routes.txt", GtfsRoute),
    ("stops.txt", GtfsStop),
    ("trips.txt", GtfsTrip),
    ("stop_times.txt", GtfsStopTime),
    ("shapes.txt", GtfsShapePoint),
    ("calendar.txt", GtfsCalendar),
)


class RegistryLoadError(ValueError):
    """A registry file we cannot load; str() names the file, the row and the problem."""


class EmptyRegistryError(ValueError):
    """The store holds no registry: nothing to enrich records with. str() says how to load one."""


@dataclass
class RegistryView:
    """Everything pipelines look up, in memory. Picklable, so Beam DoFns can carry it."""

    districts: dict[str, District] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    centres: dict[str, PickupCentre] = field(default_factory=dict)
    devices: dict[str, SecurityDevice] = field(default_factory=dict)
    operators: dict[str, BusOperator] = field(default_factory=dict)
    buses_by_terminal: dict[str, Bus] = field(default_factory=dict)
    drivers_by_bus: dict[str, list[Driver]] = field(default_factory=dict)
    canteens: dict[str, Canteen] = field(default_factory=dict)
    institutions: dict[str, ChildcareInstitution] = field(default_factory=dict)
    childcare_dates: dict[str, dict[date, bool]] = field(default_factory=dict)  # scope ("*" or id) → day → open
    routes: dict[str, GtfsRoute] = field(default_factory=dict)
    stops: dict[str, GtfsStop] = field(default_factory=dict)
    trips: dict[str, GtfsTrip] = field(default_factory=dict)
    stop_times: dict[str, list[GtfsStopTime]] = field(default_factory=dict)
    shapes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.schools

    def district_of_school(self, school_id: str | None) -> str | None:
        school = self.schools.get(school_id or "")
        return school.district_id if school else None

    @classmethod
    def of_rows(cls, rows: Iterable[SQLModel]) -> RegistryView:
        view = cls()
        shape_points: dict[str, list[GtfsShapePoint]] = defaultdict(list)
        for row in rows:
            match row:
                case District():
                    view.districts[row.district_id] = row
                case School():
                    view.schools[row.school_id] = row
                case PickupCentre():
                    view.centres[row.centre_id] = row
                case SecurityDevice():
                    view.devices[row.device_id] = row
                case BusOperator():
                    view.operators[row.operator_id] = row
                case Bus():
                    view.buses_by_terminal[row.terminal_id] = row
                case Driver():
                    view.drivers_by_bus.setdefault(row.bus_id or "", []).append(row)
                case Canteen():
                    view.canteens[row.canteen_id] = row
                case ChildcareInstitution():
                    view.institutions[row.institution_id] = row
                case ChildcareCalendarDate():
                    view.childcare_dates.setdefault(row.scope, {})[row.on] = row.open
                case GtfsRoute():
                    view.routes[row.route_id] = row
                case GtfsStop():
                    view.stops[row.stop_id] = row
                case GtfsTrip():
                    view.trips[row.trip_id] = row
                case GtfsStopTime():
                    view.stop_times.setdefault(row.trip_id, []).append(row)
                case GtfsShapePoint():
                    shape_points[row.shape_id].append(row)
        for times in view.stop_times.values():
            times.sort(key=lambda t: t.stop_sequence)
        for shape_id, points in shape_points.items():
            points.sort(key=lambda p: p.shape_pt_sequence)
            view.shapes[shape_id] = [(p.shape_pt_lat, p.shape_pt_lon) for p in points]
        return view


ALL_TABLES: tuple[type[SQLModel], ...] = tuple(t for _, t in CSV_TABLES + GTFS_TABLES)


def load_view(engine: Engine) -> RegistryView:
    """Read the whole registry from the store."""
    rows: list[SQLModel] = []
    with Session(engine) as session:
        for table in ALL_TABLES:
            rows.extend(session.exec(select(table)).all())
        session.expunge_all()
    return RegistryView.of_rows(rows)


@lru_cache(maxsize=4)
def registry_at(url: str) -> RegistryView:
    """The registry in the store at `url` (read once per process); a missing store is a `StoreError`,
    an empty registry an `EmptyRegistryError`."""
    view = load_view(open_store(url))
    if view.is_empty():
        raise EmptyRegistryError(
            f"the store {url} holds no registry (no schools); load one with: safecampus registry load DIR"
        )
    return view


def save_rows(engine: Engine, rows: Sequence[SQLModel]) -> int:
    """Upsert registry rows of any tables, in foreign-key order, in one transaction."""
    by_table: dict[type[SQLModel], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_table[type(row)].append(row.model_dump())
    return upsert_all(engine, [(table, by_table[table]) for table in ALL_TABLES if table in by_table])


def _read_csv(path: Path, model: type[SQLModel]) -> list[SQLModel]:
    known = set(model.model_fields)
    rows: list[SQLModel] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line_no, raw in enumerate(csv.DictReader(handle), start=2):
                values = {k: (v if v != "" else None) for k, v in raw.items() if k in known}
                values = {k: v for k, v in values.items() if v is not None}
                try:
                    # Table models skip validation on __init__; model_validate checks and coerces.
                    rows.append(model.model_validate(values))
                except ValidationError as exc:
                    raise RegistryLoadError(f"{path.name} row {line_no}: {describe_validation_error(exc)}") from None
    except UnicodeDecodeError:
        raise RegistryLoadError(f"{path.name} is not UTF-8 text") from None
    return rows


def load_dir(
    directory: Path,
    engine: Engine,
    progress: Callable[[str, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> int:
    """Load every known CSV and GTFS file found in `directory` (and `directory/gtfs`), all or nothing.

    A GTFS feed is first checked against the canonical GTFS rules: errors refuse the whole load
    (`RegistryLoadError` naming what is wrong), warnings go to `warn`."""
    if not directory.is_dir():
        raise RegistryLoadError(f"{directory} is not a directory")
    gtfs_dir = directory / "gtfs" if (directory / "gtfs").is_dir() else directory
    found = [(directory / name, model) for name, model in CSV_TABLES] + [
        (gtfs_dir / name, model) for name, model in GTFS_TABLES
    ]
    found = [(path, model) for path, model in found if path.is_file()]
    if not found:
        raise RegistryLoadError(f"{directory} holds no registry CSV files and no GTFS feed (routes.txt, …)")
    if any(path.parent == gtfs_dir and path.suffix == ".txt" for path, _ in found):
        check = check_feed(gtfs_dir)
        if check.errors:
            shown = "; ".join(check.errors[:5]) + (
                f"; and {len(check.errors) - 5} more" if len(check.errors) > 5 else ""
            )
            raise RegistryLoadError(f"the GTFS feed in {gtfs_dir} breaks the GTFS rules, nothing was loaded: {shown}")
        for line in check.warnings:
            if warn:
                warn(f"GTFS feed: {line}")
    rows: list[SQLModel] = []
    for path, model in found:  # every file read and checked before anything is written: all or nothing
        read = _read_csv(path, model)
        rows += read
        if progress:
            progress(path.name, len(read))
    return save_rows(engine, rows)


def write_csv_dir(directory: Path, rows: Sequence[SQLModel], gtfs_subdir: bool = True) -> None:
    """Write registry rows as our CSV files plus a GTFS feed (the inverse of `load_dir`)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {model: name for name, model in CSV_TABLES + GTFS_TABLES}
    by_table: dict[type[SQLModel], list[SQLModel]] = defaultdict(list)
    for row in rows:
        by_table[type(row)].append(row)
    for model, table_rows in by_table.items():
        is_gtfs = names[model].endswith(".txt")
        target = (directory / "gtfs" if is_gtfs and gtfs_subdir else directory) / names[model]
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = list(model.model_fields)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in table_rows:
                writer.writerow([_csv_value(getattr(row, c)) for c in columns])


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value
