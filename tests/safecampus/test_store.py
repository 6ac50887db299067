"""The store's upserts on the real databases: SQLite and PostgreSQL (started by the fixtures)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from safecampus.connectors.registry import load_view, save_rows
from safecampus.connectors.store import StoreSink, engine_for, upsert
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.store import AlertRow, EventRow
from safecampus.simulator.city import build_city


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


def test_a_store_made_before_a_column_was_added_gains_it_and_loads_the_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sqlite3.connect(tmp_path / "old.db")  # securitydevice as it was before the playback columns
    old.execute(
        "CREATE TABLE securitydevice (device_id VARCHAR PRIMARY KEY, school_id VARCHAR, kind VARCHAR, vendor VARCHAR,"
        " channel INTEGER, location_role VARCHAR, linked_to_police BOOLEAN, heartbeat_interval_s INTEGER)"
    )
    old.execute("INSERT INTO securitydevice VALUES ('CZ-1', 'S0000', 'camera', 'hikvision', 1, 'gate', 1, 900)")
    old.commit()
    old.close()
    rows = [r for r in build_city().rows() if not isinstance(r, SecurityDevice)][:50]
    camera = SecurityDevice(
        device_id="CZ-2", school_id="S0000", kind="camera", vendor="hikvision", location_role="gate",
        linked_to_police=True, heartbeat_interval_s=900, address="10.0.0.2", video_retention_days=15,
    )  # fmt: skip
    save_rows(engine_for(url), [*rows, camera])
    view = load_view(engine_for(url))
    assert view.devices["CZ-2"].address == "10.0.0.2" and view.devices["CZ-2"].video_retention_days == 15
    assert view.devices["CZ-1"].address is None  # the old row kept, its new columns empty


def test_a_write_of_nothing_takes_no_connection_and_a_write_of_rows_one(postgres_url: str) -> None:
    """Most streaming bundles raise no alert, DLQ record or KPI: those empty upserts must cost no round trip."""
    engine = engine_for(postgres_url)
    taken: list[int] = []

    def checked_out(*_: object) -> None:
        taken.append(1)

    event.listen(engine.pool, "checkout", checked_out)
    try:
        StoreSink(postgres_url).write(events=[], alerts=[], kpis=[], dlq=[])
        assert taken == []
        at = datetime(2026, 9, 1, tzinfo=UTC)
        row = {"domain": f"test-{uuid4().hex[:8]}", "event_id": "e", "subject": "s", "occurred_at": at, "body": "{}"}
        StoreSink(postgres_url).write(events=[row])
        assert taken == [1]
    finally:
        event.remove(engine.pool, "checkout", checked_out)
