"""The control room's desk: listing open alerts and acknowledging one, against a real store."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from safecampus.connectors.store import alert_row, engine_for, upsert
from safecampus.pipelines.alerts import new_alert
from safecampus.schemas.alert import PlaybackLink
from safecampus.schemas.store import AcknowledgementRow, AlertRow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safecampus.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )


def _one_key_alarm(url: str, window: str = "x") -> str:
    at = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    alert = new_alert(
        domain="security",
        rule="security.one_key_alarm",
        subject="CZ-0004-00",
        window=window,
        severity="critical",
        school_id="S0004",
        district="tianning",
        occurred_at=at,
        detected_at=at,
        title="一键报警",
    )
    upsert(engine_for(url), AlertRow, [alert_row(alert)])
    return alert.fingerprint


def test_list_shows_chinese_names_and_ack_keeps_history(city_store: str) -> None:
    fingerprint = _one_key_alarm(city_store)
    listed = cli("alerts", "list", "--store", city_store)
    assert listed.returncode == 0, listed.stderr
    assert fingerprint[:12] in listed.stdout and "critical" in listed.stdout
    assert "一键报警" in listed.stdout  # the rule's Chinese name
    assert "security.one_key_alarm" in listed.stdout  # and its id, for engineers
    assert "天宁区" in listed.stdout  # the district by name, not only its id
    first = cli(
        "alerts", "ack", fingerprint[:10], "--operator", "op-017", "--comment", "guard sent", "--store", city_store
    )
    assert first.returncode == 0, first.stderr
    second = cli(
        "alerts", "ack", fingerprint, "--operator", "op-020", "--comment", "police arrived", "--store", city_store
    )
    assert second.returncode == 0, second.stderr
    with Session(engine_for(city_store)) as session:
        row = session.get(AlertRow, fingerprint)
        history = session.exec(select(AcknowledgementRow).where(AcknowledgementRow.fingerprint == fingerprint)).all()
    assert row is not None and row.status == "acknowledged"
    assert "op-017" in row.body and "op-020" in row.body  # both on the alert
    assert sorted((h.operator_id, h.comment) for h in history) == [
        ("op-017", "guard sent"),
        ("op-020", "police arrived"),
    ]
    listed = cli("alerts", "list", "--store", city_store)
    assert "op-020" in listed.stdout and "police arrived" in listed.stdout  # the latest acknowledgement shown


def test_ack_refuses_what_it_cannot_tell_apart(city_store: str) -> None:
    a, b = _one_key_alarm(city_store, "a"), _one_key_alarm(city_store, "b")
    common = next(i for i in range(24) if a[i] != b[i])
    missing = cli("alerts", "ack", "nope", "--operator", "op-017", "--store", city_store)
    assert missing.returncode == 2 and "no alert with fingerprint nope" in missing.stderr
    if common > 0:  # the two share a prefix: it is ambiguous
        ambiguous = cli("alerts", "ack", a[:common], "--operator", "op-017", "--store", city_store)
        assert ambiguous.returncode == 2 and "more than one alert" in ambiguous.stderr
    exact = cli("alerts", "ack", a[: common + 1], "--operator", "op-017", "--store", city_store)
    assert exact.returncode == 0, exact.stderr


def test_a_store_that_does_not_exist_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    listed = cli("alerts", "list", "--store", url)
    assert listed.returncode == 2 and "no store at" in listed.stderr and "Traceback" not in listed.stderr
    assert not (tmp_path / "typo.db").exists()  # and none was created
    for bad, words in (("notaurl", "not a database URL"), ("postgres://u@h/db", "postgresql+psycopg2://")):
        result = cli("alerts", "list", "--store", bad)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_list_refuses_unknown_filters_with_the_valid_values(city_store: str) -> None:
    urgent = cli("alerts", "list", "--severity", "urgent", "--store", city_store)
    assert urgent.returncode == 2 and "critical, high, warning, info" in urgent.stderr
    buss = cli("alerts", "list", "--domain", "buss", "--store", city_store)
    assert buss.returncode == 2 and "security, bus, canteen, fire" in buss.stderr


def test_list_shows_a_cameras_playback_link_and_says_when_it_expired(city_store: str) -> None:
    now = datetime.now(UTC)
    stored = []
    for age_days, window in ((1, "fresh"), (40, "old")):
        at = now - timedelta(days=age_days)
        link = PlaybackLink(
            vendor="hikvision",
            device_id="32040000001310000004",
            channel="101",
            start=at - timedelta(seconds=30),
            end=at + timedelta(seconds=60),
            url=f"rtsp://10.0.0.14/Streaming/tracks/101?starttime={at:%Y%m%dT%H%M%SZ}&endtime=x",
            retention_days=30,
            expires_at=at + timedelta(days=30),
        )
        alert = new_alert(
            domain="security", rule="security.intrusion", subject="32040000001310000004", window=window,
            severity="high", school_id="S0000", district="tianning", occurred_at=at, detected_at=at,
            title="区域入侵", playback=link,
        )  # fmt: skip
        stored.append((alert.fingerprint, link.url))
        upsert(engine_for(city_store), AlertRow, [alert_row(alert)])
    listed = cli("alerts", "list", "--store", city_store)
    assert listed.returncode == 0, listed.stderr
    (fresh, fresh_url), (old, old_url) = stored
    assert f"{fresh[:12]} 回放 playback: {fresh_url}" in listed.stdout  # whole, on one line, to copy
    assert f"{old[:12]} 回放已过期 playback expired" in listed.stdout
    assert old_url not in listed.stdout
