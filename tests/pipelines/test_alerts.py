"""Operators' feedback on alerts of any domain: acknowledgements, suppression windows, the triaged log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from safecampus.pipelines.alerts import (
    AlertTriage,
    acknowledge,
    new_alert,
    read_operator_actions,
    suppress,
    triage_log,
)
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.operations import Acknowledgement, SuppressionWindow

T0 = datetime(2026, 9, 1, 1, 30, tzinfo=UTC)  # 09:30 in Changzhou
DRILL = SuppressionWindow(
    school_id="S1", start=T0 - timedelta(minutes=30), end=T0 + timedelta(minutes=30), reason="fire_drill"
)


def alert(status: AlertStatus = "firing", at: datetime = T0, revision: int = 1, school: str = "S1") -> Alert:
    """One update of one alert, as a rule emits it (the summary says whether it is the opening one)."""
    return new_alert(
        domain="security",
        rule="security.intrusion",
        subject="32040000001310000001",
        window="ch1@" + at.isoformat(),
        severity="high",
        status=status,
        occurred_at=at,
        detected_at=at + timedelta(seconds=10 * (revision - 1)),
        title="区域入侵",
        evidence=[{"kind": "episode", "revision": revision, "opened": revision == 1}],
        school_id=school,
    )


def ack_of(target: Alert, seconds: float, operator: str = "op-017") -> Acknowledgement:
    return Acknowledgement(
        fingerprint=target.fingerprint,
        operator_id=operator,
        acknowledged_at=target.occurred_at + timedelta(seconds=seconds),
        comment="guard sent",
    )


def new_acks(alerts: list[Alert]) -> list[dict[str, object]]:
    """Acknowledgement records counted as new across an update log (what time-to-ack KPIs count)."""
    return [item for a in alerts for item in a.evidence if item.get("kind") == "acknowledgement" and item.get("new")]


def test_a_firing_alert_inside_a_drill_is_suppressed_but_a_resolve_never_is() -> None:
    triage = AlertTriage([DRILL])
    shown = triage.apply(alert())
    assert shown.status == "suppressed" and shown.evidence[-1]["reason"] == "fire_drill"
    resolved = alert("resolved", revision=2)
    assert triage.apply(resolved).status == "resolved"
    assert suppress(resolved, [DRILL]).status == "resolved"
    assert suppress(alert(school="S2"), [DRILL]).status == "firing"  # another school's drill
    later = T0 + timedelta(hours=2)
    assert AlertTriage([DRILL]).apply(alert(at=later)).status == "firing"  # outside the window


def test_an_acknowledgement_sticks_to_its_fingerprint() -> None:
    triage = AlertTriage()
    first = alert()
    assert triage.apply(first).status == "firing"
    acked = triage.acknowledge(ack_of(first, 90))
    assert acked is not None and acked.status == "acknowledged"
    record = acked.evidence[-1]
    assert (record["operator_id"], record["seconds_to_ack"], record["new"]) == ("op-017", 90, True)
    assert acked.evidence[0]["opened"] is False  # shown again: not a newly opened alert
    repeat = triage.apply(alert(revision=2))
    assert repeat.status == "acknowledged" and repeat.evidence[-1]["new"] is False
    assert triage.apply(alert("resolved", revision=3)).status == "resolved"  # a resolve passes through


def test_acknowledge_checks_the_fingerprint_and_keeps_a_resolve() -> None:
    first = alert()
    other = alert(at=T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="not"):
        acknowledge(first, ack_of(other, 5))
    assert acknowledge(alert("resolved"), ack_of(first, 5)).status == "resolved"


def test_an_acknowledgement_before_the_alert_is_seen_waits_for_it() -> None:
    triage = AlertTriage()
    first = alert()
    assert triage.acknowledge(ack_of(first, 30)) is None
    assert triage.apply(first).status == "acknowledged"


def test_a_second_acknowledgement_is_never_new() -> None:
    """Two operators acknowledge one alert: only the first is counted as time to acknowledge."""
    first = alert()
    log = triage_log([first], [ack_of(first, 300, "op-018"), ack_of(first, 60)])
    assert [a.status for a in log] == ["firing", "acknowledged", "acknowledged"]
    assert [(r["operator_id"], r["seconds_to_ack"]) for r in new_acks(log)] == [("op-017", 60)]
    assert [r["new"] for r in log[-1].evidence if r["kind"] == "acknowledgement"] == [False, False]


def test_triage_log_merges_acknowledgements_in_time_order() -> None:
    first, repeat = alert(), alert(revision=2)
    acked_at = first.occurred_at + timedelta(seconds=5)  # between the two updates
    ack = Acknowledgement(fingerprint=first.fingerprint, operator_id="op-017", acknowledged_at=acked_at)
    log = triage_log([repeat, first], [ack])
    assert [(a.status, a.evidence[0]["revision"]) for a in log] == [
        ("firing", 1),
        ("acknowledged", 1),
        ("acknowledged", 2),
    ]
    assert len(new_acks(log)) == 1


def test_read_operator_actions(tmp_path: Path) -> None:
    ops = tmp_path / "ops.jsonl"
    ack = ack_of(alert(), 60)
    ops.write_text(ack.model_dump_json() + "\n\n" + DRILL.model_dump_json() + "\n", encoding="utf-8")
    assert read_operator_actions(ops) == [ack, DRILL]
    ops.write_text('{"fingerprint": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="ops.jsonl line 1"):
        read_operator_actions(ops)
