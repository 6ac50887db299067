"""Operators' feedback in replay: acknowledgements set status, drills suppress the alarms a drill sets off
without hiding resolves, and a bad operations line is one plain error."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from safecampus.schemas.alert import Alert
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.security_payloads import alarmbox_json

EIGHT = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)  # 08:00 in Changzhou


def at(minutes: int) -> datetime:
    return EIGHT.replace(minute=minutes) if minutes < 60 else EIGHT.replace(hour=minutes // 60, minute=minutes % 60)


def press(device: str, state: str, minutes: int, kind: str = "one_key") -> str:
    body = alarmbox_json(device, kind, state, at(minutes))  # type: ignore[arg-type]
    return RawEnvelope.of_bytes(
        body, domain="security", source="alarmbox", received_at=at(minutes), key=device
    ).model_dump_json()


def replay(tmp_path: Path, store: str, lines: list[str], operations: list[dict[str, object]] | None) -> list[Alert]:
    tmp_path.mkdir(parents=True)
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["replay", "security", "--input", str(raw), "--out", str(tmp_path / "out"), "--store", store]
    if operations is not None:
        ops = tmp_path / "operations.jsonl"
        ops.write_text("\n".join(json.dumps(o) for o in operations) + "\n", encoding="utf-8")
        args += ["--operations", str(ops)]
    result = subprocess.run(
        [sys.executable, "-m", "safecampus.cli", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8")
    return [Alert.model_validate_json(line) for line in text.splitlines() if line.strip()]


def test_ack_and_fire_drill(tmp_path: Path, city_store: str) -> None:
    lines = [
        press("CZ-0004-00", "active", 0),
        press("CZ-0004-00", "inactive", 10),
        press("CZ-0005-00", "active", 60),
        press("CZ-0005-00", "inactive", 70),
        press("CZ-0005-02", "active", 61, "door_forced"),  # S0005's access control, during its drill
        press("CZ-0005-02", "inactive", 71, "door_forced"),
    ]
    plain = replay(tmp_path / "plain", city_store, lines, None)
    fingerprint = next(a.fingerprint for a in plain if a.subject == "CZ-0004-00")
    operations: list[dict[str, object]] = [
        {
            "fingerprint": fingerprint,
            "operator_id": "op-017",
            "acknowledged_at": at(2).isoformat(),
            "comment": "guard sent",
        },
        {"school_id": "S0005", "start": at(30).isoformat(), "end": at(120).isoformat(), "reason": "fire_drill"},
    ]
    shown = replay(tmp_path / "ops", city_store, lines, operations)
    first = [a.status for a in shown if a.subject == "CZ-0004-00"]
    door = [a.status for a in shown if a.subject == "CZ-0005-02"]
    one_key = [a.status for a in shown if a.subject == "CZ-0005-00"]
    assert "acknowledged" in first and first[-1] == "resolved"
    assert door[0] == "suppressed" and door[-1] == "resolved"  # a drill forces doors
    assert one_key == ["firing", "resolved"]  # a one-key alarm during a drill is never hidden
    assert [a.status for a in plain if a.subject == "CZ-0005-02"][0] == "firing"


def test_a_bad_operations_log_is_a_plain_error(tmp_path: Path, city_store: str) -> None:
    raw = tmp_path / "raw.jsonl"
    raw.write_text(press("CZ-0004-00", "active", 0) + "\n", encoding="utf-8")
    ops = tmp_path / "ops.jsonl"
    ops.write_text('{"fingerprint": "x"}\n', encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecampus.cli",
            "replay",
            "security",
            "--input",
            str(raw),
            "--out",
            str(tmp_path / "o"),
            "--operations",
            str(ops),
            "--store",
            city_store,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "ops.jsonl line 1" in result.stderr and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    said = " ".join(result.stderr.split())  # the console may wrap the one line
    assert "an acknowledgement needs fingerprint, operator_id, acknowledged_at" in said
    assert "field 'operator_id' is missing" in said
    assert "union" not in said.lower() and "validation error" not in said
