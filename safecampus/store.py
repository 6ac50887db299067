"""The SQL store: one engine per URL, tables created on first use, idempotent upserts.

SQLite file by default, PostgreSQL by URL. Every write is `INSERT … ON CONFLICT (natural key)
DO UPDATE`, so replaying the same records leaves the store unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

import safecampus.schemas.registry  # noqa: F401  (registers the registry tables)
import safecampus.schemas.store  # noqa: F401  (registers the fact tables)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The engine of a store URL, with every table created."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # Replay workers are processes that may write one SQLite file at once: wait for the lock, don't fail.
    connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    SQLModel.metadata.create_all(engine)
    return engine


def upsert(engine: Engine, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, or update them where their primary key exists. Returns the row count."""
    if not rows:
        return 0
    table: Table = model.__table__  # type: ignore[attr-defined]
    keys = [c.name for c in table.primary_key.columns]
    # The last row of a key wins: one statement may not touch the same row twice (PostgreSQL).
    rows = list({tuple(row[k] for k in keys): row for row in rows}.values())
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise ValueError(f"store URL dialect {engine.dialect.name!r} is not supported; use sqlite or postgresql")
    with engine.begin() as conn:
        # Chunks keep each statement under SQLite's bound-parameter limit.
        step = max(1, 30000 // max(1, len(table.columns)))
        for start in range(0, len(rows), step):
            stmt = dialect.insert(table).values(list(rows[start : start + step]))
            updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
            stmt = (
                stmt.on_conflict_do_update(index_elements=keys, set_=updates)
                if updates
                else (stmt.on_conflict_do_nothing(index_elements=keys))
            )
            conn.execute(stmt)
    return len(rows)
