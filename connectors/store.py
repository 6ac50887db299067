"""The SQL store: one engine per URL, idempotent upserts, and the one place a record becomes a row.

SQLite file by default, PostgreSQL by URL. Every write is `INSERT … ON CONFLICT (natural key)
DO UPDATE`, so replaying the same records leaves the store unchanged. `StoreSink` is the one
sink every runner writes events, alerts, KPIs and DLQ records through.

    >>> sink = StoreSink("sqlite:///out/safecampus.db")
    >>> sink.write(alerts=[alert])
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, case, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import SQLModel, create_engine

import safecampus.schemas.progress  # noqa: F401  (registers the progress tables)
import safecampus.schemas.registry  # noqa: F401  (registers the registry tables)
from safecampus.schemas.alert import Alert
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.kpi import Kpi
from safecampus.schemas.store import AlertRow, DlqRow, EventRow, KpiRow


class StoreError(ValueError):
    """A store that cannot be used; str() is one line that says what to do."""


URL_HINT = "use sqlite:///PATH or postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB"


def open_store(url: str, create: bool = False) -> Engine:
    """The engine of a store a person named, checked: a URL we understand, a store that exists
    (SQLite file present unless `create`), a server that answers. Raises `StoreError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"the store URL {url!r} is not a database URL; {URL_HINT}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise StoreError(
            f"the store URL {url!r} names 'postgres', which is not a dialect; write postgresql+psycopg2://"
        )
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"the store URL {url!r} names {backend!r}, which is not supported; {URL_HINT}")
    if backend == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(f"the store URL {url!r} names no file; {URL_HINT}")
        if path.is_dir():
            raise StoreError(f"the store {path} is a folder, not a SQLite file")
        if not create and not path.is_file():
            raise StoreError(f"there is no store at {path}; load the registry first: safecampus registry load DIR")
    try:
        engine = engine_for(url)
        with engine.connect():
            pass
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the store URL {url!r} needs the {exc.name} driver; pip install 'safecampus[postgres]'"
        ) from None
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        where = f"{parsed.host}:{parsed.port or 5432}" if backend == "postgresql" else str(parsed.database)
        raise StoreError(f"the store at {where} cannot be opened ({first}); start it with make postgres") from None
    return engine


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The engine of a store URL, with every table created."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # Replay workers are processes that may write one SQLite file at once: wait for the lock, don't fail.
    connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    SQLModel.metadata.create_all(engine)
    _add_new_columns(engine)
    return engine


def _add_new_columns(engine: Engine) -> None:
    """A store made by an older version gains the nullable columns added since (create_all adds only
    tables), so `registry load` into yesterday's store keeps working."""
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable or column.primary_key:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
            except SQLAlchemyError:
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise  # not another process adding it at the same moment: a real failure


def upsert(engine: Engine, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, or update them where their primary key exists, in one transaction. Returns the row count."""
    return upsert_all(engine, [(model, rows)])


def upsert_all(engine: Engine, batches: Sequence[tuple[type[SQLModel], Sequence[dict[str, Any]]]]) -> int:
    """Upsert rows of several tables in one transaction: all of them land, or none."""
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise ValueError(f"store URL dialect {engine.dialect.name!r} is not supported; use sqlite or postgresql")
    if not any(batch for _, batch in batches):
        return 0  # no connection taken: its liveness check is a round trip, and most bundles raise no alert
    total = 0
    with engine.begin() as conn:
        for model, batch in batches:
            if not batch:
                continue
            stmt, keys = _upsert_statement(engine.dialect.name, model)
            # The last row of a key wins: one statement may not touch the same row twice (PostgreSQL).
            rows = list({tuple(row[k] for k in keys): row for row in batch}.values())
            # Many parameter sets for one cached statement: compiling a new statement per batch of literal rows was
            # a quarter of a streaming worker's CPU in the soak's profile. SQLAlchemy 2.1 sends these rows one
            # statement each (no multi-row pages for ON CONFLICT without RETURNING, its #13130): see README, soak.
            conn.execute(stmt, rows)
            total += len(rows)
    return total


@lru_cache(maxsize=32)
def _upsert_statement(dialect_name: str, model: type[SQLModel]) -> tuple[Any, tuple[str, ...]]:
    """`INSERT … ON CONFLICT (primary key) DO UPDATE` of every other column, and the primary key's columns."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table: Table = model.__table__  # type: ignore[attr-defined]
    keys = tuple(c.name for c in table.primary_key.columns)
    stmt = dialect.insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    if model is AlertRow:
        updates["status"] = _status_kept(table, stmt)
    if updates:
        return stmt.on_conflict_do_update(index_elements=keys, set_=updates), keys
    return stmt.on_conflict_do_nothing(index_elements=keys), keys


def _status_kept(table: Table, stmt: Any) -> Any:
    """An operator's acknowledgement outlives the pipeline's next update of the alert: a firing update
    of an acknowledged alert stays acknowledged (a resolve still resolves; the body is the update's)."""
    return case(
        (and_(table.c.status == "acknowledged", stmt.excluded.status == "firing"), table.c.status),
        else_=stmt.excluded.status,
    )


def event_row(domain: str, event_id: str, subject: str, occurred_at: Any, body: str) -> dict[str, Any]:
    """The store row of a normalized event; `body` is its JSON, made once for every output."""
    return {"domain": domain, "event_id": event_id, "subject": subject, "occurred_at": occurred_at, "body": body}


def alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "domain": alert.domain,
        "rule": alert.rule,
        "severity": alert.severity,
        "status": alert.status,
        "subject": alert.subject,
        "school_id": alert.school_id,
        "district": alert.district,
        "occurred_at": alert.occurred_at,
        "detected_at": alert.detected_at,
        "body": alert.model_dump_json(),
    }


def kpi_row(kpi: Kpi) -> dict[str, Any]:
    return {
        "key": kpi.key(),
        "window_start": kpi.window_start,
        "domain": kpi.domain,
        "metric": kpi.metric,
        "value": kpi.value,
        "window_end": kpi.window_end,
    }


def dlq_row(record: DlqRecord) -> dict[str, Any]:
    return {
        "source_topic": record.source_topic,
        "source_partition": record.source_partition if record.source_partition is not None else -1,
        "source_offset": record.source_offset or 0,
        "domain": record.domain,
        "step": record.step,
        "reason": record.reason,
        "payload_b64": record.payload_b64,
    }


class StoreSink:
    """The one store sink: events (as rows already made), alerts, KPIs and DLQ records, upserted.

    Picklable (it holds the URL, the engine is looked up per process), so Beam DoFns can carry it.
    """

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def engine(self) -> Engine:
        return engine_for(self.url)

    def write(
        self,
        events: Sequence[dict[str, Any]] = (),
        alerts: Sequence[Alert] = (),
        kpis: Sequence[Kpi] = (),
        dlq: Sequence[DlqRecord] = (),
    ) -> None:
        """Upsert what is given; each table in its own transaction, events first."""
        engine = self.engine
        upsert(engine, EventRow, events)
        upsert(engine, DlqRow, [dlq_row(d) for d in dlq])
        upsert(engine, AlertRow, [alert_row(a) for a in alerts])
        upsert(engine, KpiRow, [kpi_row(k) for k in kpis])
