"""The replay contract: files in, events/alerts/kpis/dlq out, bad lines to the DLQ with a reason."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from safecampus.pipelines.replay import plan_chunks, read_chunk

DOMAINS = ("security", "bus", "canteen", "fire")
MALFORMED_PAYLOAD = {
    "security": ("isapi", "<EventNotificationAlert><eventType>VMD"),
    "bus": ("jt808", "7e0200001c0138000000010001ff7e"),
    "canteen": ("ledger-json", '{"entry_id": "E1", "canteen_id": "C0001", "amount_cny": "lots"}'),
    "fire": ("inspection-json", '{"inspection_id": "X"'),
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safecampus.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("domain", DOMAINS)
def test_one_valid_and_one_malformed_record(
    domain: str, sample_lines: dict[str, bytes], tmp_path: Path, city_store: str
) -> None:
    source, payload = MALFORMED_PAYLOAD[domain]
    encoding = "hex" if source == "jt808" else "text"
    bad = {
        "domain": domain,
        "source": source,
        "payload": payload,
        "encoding": encoding,
        "received_at": "2026-09-01T08:00:00+08:00",
    }
    raw = tmp_path / "in.jsonl"
    raw.write_bytes(sample_lines[domain] + b"\n" + json.dumps(bad).encode() + b"\n")
    result = run_cli("replay", domain, "--input", str(raw), "--out", str(tmp_path / "out"), "--store", city_store)
    assert result.returncode == 0, result.stderr
    events, dlq = read(tmp_path / "out" / "events.jsonl"), read(tmp_path / "out" / "dlq.jsonl")
    assert len(events) == 1
    assert len(dlq) == 1
    record = dlq[0]
    original = payload.encode() if encoding == "text" else bytes.fromhex(payload)
    assert base64.b64decode(str(record["payload_b64"])) == original
    assert record["source_offset"] == 2
    reason = str(record["reason"])
    assert reason and "\n" not in reason and "Traceback" not in reason
    for name in ("alerts", "kpis"):
        assert (tmp_path / "out" / f"{name}.jsonl").exists()


def test_garbage_goes_to_the_dlq_line_by_line(tmp_path: Path, city_store: str) -> None:
    garbage = [
        b"this is not json",
        b'{"domain": "bus", "source": "jt808", "payload": "7e02',
        b"[1, 2, 3]",
        b'{"domain": "bus", "source": "jt808", "payload": 42, "received_at": "yesterday"}',
        b"\xff\xfe\x00\x81 binary junk",
        b'{"domain": "bus", "source": "jt808", "payload": "zz", "encoding": "hex", '
        b'"received_at": "2026-09-01T08:00:00+08:00"}',
        b'{"domain": "canteen", "source": "ledger-json", "payload": "{}", "received_at": "2026-09-01T08:00:00Z"}',
        b"null",
    ]
    raw = tmp_path / "garbage.jsonl"
    raw.write_bytes(b"\n".join(garbage) + b"\n")
    result = run_cli("replay", "bus", "--input", str(raw), "--out", str(tmp_path / "out"), "--store", city_store)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert read(tmp_path / "out" / "events.jsonl") == []
    dlq = read(tmp_path / "out" / "dlq.jsonl")
    assert sorted(int(str(d["source_offset"])) for d in dlq) == list(range(1, len(garbage) + 1))
    by_line = {int(str(d["source_offset"])): d for d in dlq}
    assert "not valid JSON" in str(by_line[1]["reason"])
    assert "not UTF-8" in str(by_line[5]["reason"])
    assert "canteen domain" in str(by_line[7]["reason"])
    assert base64.b64decode(str(by_line[5]["payload_b64"])) == garbage[4]


def test_a_missing_input_is_a_plain_error(tmp_path: Path) -> None:
    result = run_cli("replay", "bus", "--input", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    unknown = run_cli("replay", "weather", "--input", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert unknown.returncode != 0 and "unknown domain" in unknown.stderr


def test_without_a_registry_replay_refuses_to_invent_a_city(sample_lines: dict[str, bytes], tmp_path: Path) -> None:
    raw = tmp_path / "in.jsonl"
    raw.write_bytes(sample_lines["security"] + b"\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "safecampus.cli", "replay", "security", "--input", str(raw), "--out", "out/security"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=empty,
    )
    assert result.returncode == 2
    assert "safecampus registry load" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (empty / "out" / "security" / "events.jsonl").exists()  # nothing ran on an invented registry
    emptied = f"sqlite:///{tmp_path / 'blank.db'}"  # a store that exists but holds no registry: the same refusal
    from safecampus.connectors.store import engine_for

    engine_for(emptied)
    blank = run_cli("replay", "security", "--input", str(raw), "--out", str(tmp_path / "o"), "--store", emptied)
    assert blank.returncode == 2 and "safecampus registry load" in blank.stderr


def test_chunks_cover_every_line_once(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(1, 10_001)) + b"last without newline")
    chunks = plan_chunks(path, lines_per_chunk=999)
    lines = [(n, text) for chunk in chunks for n, text in read_chunk(chunk) if text]
    assert [n for n, _ in lines] == list(range(1, 10_002))
    assert lines[0][1] == b"line 1" and lines[-1][1] == b"last without newline"


def test_replay_of_a_simulated_day_matches_its_input(simulated_day, tmp_path: Path, city_store: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "replay",
        "canteen",
        "--input",
        str(simulated_day.raw_file("canteen")),
        "--out",
        str(tmp_path),
        "--store",
        city_store,
    )
    assert result.returncode == 0, result.stderr
    events = read(tmp_path / "events.jsonl")
    assert len(events) == simulated_day.counts["canteen"]
    rules = {str(a["rule"]) for a in read(tmp_path / "alerts.jsonl")}
    metrics = {str(k["metric"]) for k in read(tmp_path / "kpis.jsonl")}
    assert {"canteen_events_total", "canteen_income_cny", "canteen_expense_cny"} <= metrics
    assert {"canteen.red_flag.staff_meals", "canteen.single_person_acceptance"} <= rules
    again = run_cli(
        "replay",
        "canteen",
        "--input",
        str(simulated_day.raw_file("canteen")),
        "--out",
        str(tmp_path),
        "--store",
        city_store,
    )
    assert again.returncode == 0
    import sqlite3

    with sqlite3.connect(city_store.removeprefix("sqlite:///")) as db:
        (stored,) = db.execute("select count(*) from eventrow").fetchone()
    assert stored == simulated_day.counts["canteen"]  # a second replay adds nothing


def test_a_folder_an_empty_file_and_an_all_refused_file_are_said_plainly(tmp_path: Path, city_store: str) -> None:
    folder = run_cli("replay", "bus", "--input", str(tmp_path), "--out", str(tmp_path / "o"), "--store", city_store)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    result = run_cli("replay", "bus", "--input", str(empty), "--out", str(tmp_path / "e"), "--store", city_store)
    assert result.returncode == 0 and "holds no records" in result.stdout
    refused = tmp_path / "refused.jsonl"
    refused.write_bytes(b"not json\n[1]\n")
    result = run_cli("replay", "bus", "--input", str(refused), "--out", str(tmp_path / "r"), "--store", city_store)
    assert result.returncode == 0 and "every record was refused" in result.stdout
    assert "line 1: line is not valid JSON" in result.stdout and "line 2:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("domain", ["bus", "canteen"])
def test_alerts_name_the_input_lines_of_their_evidence(
    domain: str, simulated_day, tmp_path: Path, city_store: str
) -> None:  # type: ignore[no-untyped-def]
    raw = simulated_day.raw_file(domain)
    result = run_cli("replay", domain, "--input", str(raw), "--out", str(tmp_path), "--store", city_store)
    assert result.returncode == 0, result.stderr
    lines = raw.read_bytes().splitlines()
    alerts = read(tmp_path / "alerts.jsonl")
    # Canteen alerts are raised by one ledger line each; bus alerts by the fixes in their evidence.
    with_evidence = [a for a in alerts if domain == "canteen" or any("event_id" in e for e in a["evidence"])]  # type: ignore[union-attr]
    assert with_evidence, "the simulated day raises alerts on events"
    for alert in with_evidence:
        offsets = alert["source_offsets"]
        assert offsets, alert["rule"]
        keys = {str(e.get("terminal_id") or e.get("canteen_id")) for e in alert["evidence"]}  # type: ignore[union-attr]
        for where in offsets:  # type: ignore[union-attr]
            assert where["topic"] == raw.name
            envelope = json.loads(lines[int(where["offset"]) - 1])  # file lines count from 1
            assert envelope["key"] in keys


CALENDAR_EDGES = {  # issue 10's reproducers: one record each used to stop the whole run with a traceback
    "bus": [
        (
            "bus-json",
            '{"terminal_id":"013800000036","kind":"all_off","time":"9999-12-31T23:59:59+00:00"}',
            "text",
            "2026-09-01T08:00:00+08:00",
        ),
        ("jt808", "7e0002000001380000003600010c7e", "hex", "9999-12-31T23:59:59+00:00"),
    ],
    "security": [
        (
            "alarmbox",
            '{"device_id":"CZ-0090-00","kind":"fault","time":"9999-12-31T15:00:00+00:00"}',
            "text",
            "2026-09-01T08:00:00+08:00",
        ),
        (
            "isapi",
            "<EventNotificationAlert><channelID>1</channelID><dateTime>0001-01-01T00:00:00</dateTime>"
            "<eventType>VMD</eventType><eventState>active</eventState><ipAddress>10.0.0.1</ipAddress>"
            "</EventNotificationAlert>",
            "text",
            "2026-09-01T08:00:00+08:00",
        ),
    ],
}


@pytest.mark.parametrize("domain", ["bus", "security"])
def test_a_record_at_the_calendars_edge_does_not_stop_the_run(
    domain: str, sample_lines: dict[str, bytes], tmp_path: Path, city_store: str
) -> None:
    lines = [sample_lines[domain]]
    for source, payload, encoding, received in CALENDAR_EDGES[domain]:
        envelope = {
            "domain": domain,
            "source": source,
            "payload": payload,
            "encoding": encoding,
            "received_at": received,
        }
        lines.append(json.dumps(envelope).encode())
    lines.append(sample_lines[domain])  # a good record after them is still read
    raw = tmp_path / "edges.jsonl"
    raw.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli("replay", domain, "--input", str(raw), "--out", str(tmp_path / "out"), "--store", city_store)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(read(tmp_path / "out" / "events.jsonl")) >= 1
    dlq = read(tmp_path / "out" / "dlq.jsonl")
    assert {d["source_offset"] for d in dlq} >= {2, 3}  # each edge record is in the DLQ, with why
    assert all(str(d["reason"]) for d in dlq)
