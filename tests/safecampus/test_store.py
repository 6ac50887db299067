"""The store's upserts on the real databases: SQLite and PostgreSQL (started by the fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlmodel import Session, select

from safecampus.connectors.store import engine_for, upsert
from safecampus.schemas.store import AlertRow, EventRow


def _exercise(url: str) -> None:
    engine = engine_for(url)
    domain = f"test-{uuid4().hex[:8]}"
    at = datetime(2026, 9, 1, tzinfo=UTC)
    rows = [{"domain": domain, "event_id": f"e{i}", "subject": "s", "occurred_at": at, "body": "{}"} for i in range(50)]
    upsert(engine, EventRow, rows)
    upsert(engine, EventRow, rows[:10] + [{**rows[0], "body": '{"v": 2}'}])  # a replay, and one changed record
    with Session(engine) as session:
        stored = session.exec(select(EventRow).where(EventRow.domain == domain)).all()
    assert len(stored) == 50
    assert {r.event_id: r.body for r in stored}["e0"] == '{"v": 2}'
    fingerprint = uuid4().hex
    alert = {
        "fingerprint": fingerprint,
        "domain": "bus",
        "rule": "bus.overspeed",
        "severity": "high",
        "status": "firing",
        "subject": "t",
        "school_id": None,
        "district": None,
        "occurred_at": at,
        "detected_at": at,
        "body": "{}",
    }
    upsert(engine, AlertRow, [alert, {**alert, "status": "resolved"}])  # the same key twice in one batch
    with Session(engine) as session:
        assert session.get(AlertRow, fingerprint).status == "resolved"  # type: ignore[union-attr]


def test_sqlite_upserts_are_idempotent(tmp_path: Path) -> None:
    _exercise(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.mark.integration
def test_postgresql_upserts_are_idempotent(postgres_url: str) -> None:
    _exercise(postgres_url)


def test_an_acknowledged_alert_stays_acknowledged_through_the_next_firing_update(tmp_path: Path) -> None:
    from safecampus.connectors.store import StoreSink
    from safecampus.pipelines.alerts import new_alert
    from safecampus.schemas.store import AlertRow

    url = f"sqlite:///{tmp_path / 'store.db'}"
    at = datetime(2026, 9, 1, tzinfo=UTC)
    alert = new_alert(
        domain="security",
        rule="security.intrusion",
        subject="D1",
        window="w",
        severity="high",
        occurred_at=at,
        detected_at=at,
        title="区域入侵",
    )
    sink = StoreSink(url)
    sink.write(alerts=[alert.model_copy(update={"status": "acknowledged"})])
    sink.write(alerts=[alert])  # the detector's next update: a repeat, still firing
    with Session(engine_for(url)) as session:
        assert session.get(AlertRow, alert.fingerprint).status == "acknowledged"  # type: ignore[union-attr]
    sink.write(alerts=[alert.model_copy(update={"status": "resolved"})])
    with Session(engine_for(url)) as session:
        assert session.get(AlertRow, alert.fingerprint).status == "resolved"  # type: ignore[union-attr]
