"""The control room's desk: listing open alerts and acknowledging one, against a real store."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from safecampus.connectors.store import alert_row, engine_for, upsert
from safecampus.schemas.alert import Alert, alert_fingerprint
from safecampus.schemas.store import AlertRow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safecampus.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_ack_marks_the_stored_alert_and_list_shows_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    at = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    fingerprint = alert_fingerprint("security", "security.one_key_alarm", "CZ-0004-00", "x")
    alert = Alert(
        fingerprint=fingerprint,
        domain="security",
        rule="security.one_key_alarm",
        severity="critical",
        subject="CZ-0004-00",
        school_id="S0004",
        occurred_at=at,
        detected_at=at,
        title="一鍵報警",
    )
    upsert(engine_for(url), AlertRow, [alert_row(alert)])
    listed = cli("alerts", "list", "--store", url)
    assert listed.returncode == 0 and fingerprint in listed.stdout and "critical" in listed.stdout
    done = cli("alerts", "ack", fingerprint, "--operator", "op-017", "--comment", "guard sent", "--store", url)
    assert done.returncode == 0, done.stderr
    with Session(engine_for(url)) as session:
        row = session.get(AlertRow, fingerprint)
    assert row is not None and row.status == "acknowledged"
    assert "op-017" in row.body
    missing = cli("alerts", "ack", "nope", "--operator", "op-017", "--store", url)
    assert missing.returncode == 2 and "no alert with fingerprint nope" in missing.stderr
