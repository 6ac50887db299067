"""Our alerts as Alertmanager v2 alerts, and silences on a fingerprint as acknowledgements (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from safecampus.dashboards.alertmanager import ENDS_AFTER_PUSHES, Pusher
from safecampus.schemas.alert import Alert

T0 = datetime(2026, 9, 1, 0, 5, tzinfo=UTC)


def alert(fp: str, status: str = "firing") -> Alert:
    return Alert(
        fingerprint=fp, domain="security", rule="security.one_key_alarm", severity="critical",  # type: ignore[arg-type]
        status=status, subject="CZ-0001-00", school_id="S0001", district="wujin", occurred_at=T0,  # type: ignore[arg-type]
        detected_at=T0 + timedelta(minutes=3), title="一键报警求助", detail="校门一键报警装置报警。",
    )  # fmt: skip


def silence(fp: str, state: str = "active", regex: bool = False) -> dict[str, object]:
    return {"id": "s1", "status": {"state": state}, "createdBy": "op-021", "comment": "已处理",
            "startsAt": "2026-09-01T00:07:00.000Z",
            "matchers": [{"name": "fingerprint", "value": fp, "isRegex": regex, "isEqual": True}]}  # fmt: skip


def test_open_alerts_are_posted_each_time_and_a_resolve_once() -> None:
    pusher = Pusher(push_every_s=15)
    pusher.observe(alert("a"))
    now = T0 + timedelta(minutes=10)
    first, ended = pusher.batch(now)
    assert ended == [] and len(first) == 1
    posted = first[0]
    expected = {"alertname": "security.one_key_alarm", "severity": "critical", "domain": "security",
                "district": "wujin", "school": "S0001", "fingerprint": "a", "escalation": "school"}  # fmt: skip
    assert posted["labels"] == expected
    assert posted["startsAt"] == T0.isoformat()
    assert posted["endsAt"] == (now + timedelta(seconds=15 * ENDS_AFTER_PUSHES)).isoformat()
    assert posted["annotations"]["summary"] == "一键报警求助（一键报警）"
    pusher.observe(alert("a", "resolved"))
    body, ended = pusher.batch(now)
    assert ended == ["a"] and body[0]["endsAt"] == (T0 + timedelta(minutes=3)).isoformat()
    assert pusher.batch(now)[1] == ["a"]  # not yet taken by Alertmanager: posted again
    pusher.sent(ended)
    assert pusher.batch(now) == ([], [])


def test_an_exact_active_silence_on_the_fingerprint_acknowledges_once() -> None:
    pusher = Pusher(push_every_s=15)
    pusher.observe(alert("a"))
    pusher.observe(alert("b"))
    assert pusher.acknowledgements([silence("a", state="expired"), silence("b", regex=True)]) == []
    acked = pusher.acknowledgements([silence("a")])
    assert [a.fingerprint for a in acked] == ["a"] and acked[0].status == "acknowledged"
    ack = acked[0].evidence[-1]
    assert ack["operator_id"] == "op-021" and ack["seconds_to_ack"] == 120.0 and ack["new"] is True
    assert pusher.acknowledgements([silence("a")]) == []  # counted once
    pusher.observe(alert("a"))  # the pipeline's next firing update keeps it acknowledged
    assert pusher.open["a"].status == "acknowledged"
    assert pusher.batch(T0)[0][0]["annotations"]["status"] == "已确认"
