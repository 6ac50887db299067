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


def alert(
    status: AlertStatus = "firing",
    at: datetime = T0,
    revision: int = 1,
    school: str = "S1",
    rule: str = "security.intrusion",
) -> Alert:
    """One update of one alert, as a rule emits it (the summary says whether it is the opening one)."""
    return new_alert(
        domain="security",
        rule=rule,
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


def test_a_window_covers_the_rules_its_reason_implies_or_names() -> None:
    drilled = {
        rule: suppress(alert(rule=rule), [DRILL]).status
        for rule in (
            "security.intrusion",
            "security.fence",
            "security.forced_door",
            "security.tripwire",
            "security.one_key_alarm",
            "security.device_offline",
            "security.video_loss",
        )
    }
    assert drilled == {
        "security.intrusion": "suppressed",
        "security.fence": "suppressed",
        "security.forced_door": "suppressed",
        "security.tripwire": "suppressed",
        "security.one_key_alarm": "firing",  # a real emergency during a drill gets through
        "security.device_offline": "firing",
        "security.video_loss": "firing",
    }
    works = DRILL.model_copy(update={"reason": "maintenance"})
    assert suppress(alert(rule="security.device_offline"), [works]).status == "suppressed"
    assert suppress(alert(rule="security.intrusion"), [works]).status == "firing"
    named = SuppressionWindow.model_validate(
        {**DRILL.model_dump(), "reason": "other", "rules": ["security.one_key_alarm", "bus."]}
    )
    assert suppress(alert(rule="security.one_key_alarm"), [named]).status == "suppressed"
    assert suppress(alert(rule="security.fence"), [named]).status == "firing"  # named rules replace the reason's
    assert suppress(alert(rule="security.fence"), [named]).evidence == alert(rule="security.fence").evidence
    family = SuppressionWindow.model_validate({**DRILL.model_dump(), "rules": ["security."]})
    assert suppress(alert(rule="security.device_offline"), [family]).evidence[-1]["rules"] == ["security."]
    with pytest.raises(ValueError, match="reason 'other' must name the rules"):
        SuppressionWindow.model_validate({**DRILL.model_dump(), "reason": "other"})
    with pytest.raises(ValueError, match="'security.intrustion' is not a rule we raise"):
        SuppressionWindow.model_validate({**DRILL.model_dump(), "rules": ["security.intrustion"]})


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


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            '{"fingerprint": "x", "operator_id": "op-017"}',
            "an acknowledgement needs fingerprint, operator_id, acknowledged_at (comment is optional); "
            "field 'acknowledged_at' is missing",
        ),
        (
            '{"fingerprint": "x", "operator_id": "op-017", "acknowledged_at": "2026-09-01T08:02:00"}',
            "field 'acknowledged_at' needs a UTC offset, e.g. 2026-09-01T08:02:00+08:00",
        ),
        (
            '{"fingerprint": "x", "operator_id": "op-017", "acknowledged_at": "soon"}',
            "field 'acknowledged_at' is not a date and time such as 2026-09-01T08:02:00+08:00 (got 'soon')",
        ),
        (
            '{"school_id": "S1", "start": "2026-09-01T10:00:00+08:00", "end": "2026-09-01T09:00:00+08:00"}',
            "a suppression window's end must be after its start",
        ),
        (
            '{"school_id": "S1", "start": "2026-09-01T09:00:00+08:00", "end": "2026-09-01T10:00:00+08:00", '
            '"reason": "drill"}',
            "field 'reason' must be one of 'maintenance', 'fire_drill' or 'other' (got 'drill')",
        ),
        ('{"operator": "op-017"}', "neither an acknowledgement (fingerprint, operator_id, acknowledged_at)"),
        ("[1, 2]", "not a JSON object"),
        ("{oops", "not valid JSON"),
    ],
)
def test_a_bad_operations_line_says_what_it_needs(tmp_path: Path, line: str, says: str) -> None:
    ops = tmp_path / "ops.jsonl"
    ops.write_text(DRILL.model_dump_json() + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        read_operator_actions(ops)
    message = str(caught.value)
    assert message.startswith("ops.jsonl line 2: ") and says in message
    assert "\n" not in message and "validation error" not in message and "union" not in message.lower()
