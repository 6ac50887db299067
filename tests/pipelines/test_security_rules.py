"""Each security rule on its own: episodes (dedup), flapping, offline, fault escalation, unknown device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from safecampus.pipelines.security.context import DeviceContext
from safecampus.pipelines.security.episodes import Episode, Episodes, EpisodeTrack, is_momentary
from safecampus.pipelines.security.faults import FaultEscalation
from safecampus.pipelines.security.flapping import Flapping, FlapState
from safecampus.pipelines.security.offline import Offline
from safecampus.pipelines.security.unknown import UnknownDevice
from safecampus.schemas.common import Severity
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.security import EventState, SecurityEvent, SecurityEventType

T0 = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)  # 09:00 in Changzhou
CAMERA = SecurityDevice(
    device_id="CAM-1",
    school_id="S1",
    kind="camera",
    vendor="hikvision",
    location_role="gate",
    linked_to_police=True,
    heartbeat_interval_s=900,
)
BOX = CAMERA.model_copy(
    update={"device_id": "BOX-1", "kind": "alarm_box", "vendor": "generic", "heartbeat_interval_s": 1800}
)
HERE = DeviceContext.of("CAM-1", CAMERA, "tianning")


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(
    seconds: float,
    kind: SecurityEventType = "intrusion",
    state: EventState = "active",
    severity: Severity = "high",
    source: str = "isapi",
    vendor: str | None = None,
) -> SecurityEvent:
    return SecurityEvent(
        event_id=f"CAM-1/{kind}/{state}/{seconds}",
        device_id="CAM-1",
        source_format=source,
        vendor_type=vendor or f"{source}:{kind}",
        event_type=kind,
        state=state,
        occurred_at=s(seconds),
        severity=severity,
        school_id="S1",
    )


# -- episodes (dedup) ---------------------------------------------------------------------------------


def test_context_of_a_registered_and_an_unknown_device() -> None:
    assert (HERE.school_id, HERE.district) == ("S1", "tianning")
    ghost = DeviceContext.of("GHOST", None)
    assert (ghost.device, ghost.school_id, ghost.district) == (None, None, None)


def test_a_state_change_is_a_new_state_or_any_gb_alarm() -> None:
    calm, on = EpisodeTrack(active=False), EpisodeTrack(active=True)
    assert Episodes.changes_state(calm, "active", momentary=False)
    assert not Episodes.changes_state(on, "active", momentary=False)  # a repeat
    assert Episodes.changes_state(on, "active", momentary=True)  # every GB notification is a rising edge
    assert Episodes.changes_state(on, "inactive", momentary=False)
    assert not Episodes.changes_state(calm, "inactive", momentary=False)
    assert is_momentary(ev(0, source="gb28181", vendor="gb28181:5/6"))
    assert not is_momentary(ev(0, "device_fault", source="gb28181", vendor="gb28181:keepalive/error"))
    assert not is_momentary(ev(0))


def test_repeats_within_the_dedup_window_are_counted_not_resent() -> None:
    rule, track = Episodes(HERE, dedup_window_s=60), EpisodeTrack()
    (opened,) = rule.active(track, ev(0), momentary=False, muted=False)
    assert (opened.rule, opened.status, opened.subject, opened.school_id, opened.district) == (
        "security.intrusion",
        "firing",
        "CAM-1",
        "S1",
        "tianning",
    )
    assert opened.evidence[0]["episode"] == f"ch1@{T0.isoformat()}" and opened.evidence[0]["opened"] is True
    assert rule.active(track, ev(30), momentary=False, muted=False) == []  # quiet repeat
    (raised,) = rule.active(track, ev(40, severity="critical"), momentary=False, muted=False)
    assert raised.severity == "critical" and raised.fingerprint == opened.fingerprint  # a rise is always sent
    (later,) = rule.active(track, ev(101), momentary=False, muted=False)  # dedup passed since the last update
    assert later.evidence[0]["count"] == 4 and later.evidence[0]["opened"] is False
    assert len(later.evidence) == 1 + 4  # summary and the events behind it


def test_inactive_closes_and_a_retrigger_soon_after_reopens_the_same_alert() -> None:
    rule, track = Episodes(HERE, dedup_window_s=60), EpisodeTrack()
    (opened,) = rule.active(track, ev(0), momentary=False, muted=False)
    episode = rule.inactive(track, s(10))
    assert episode is not None and episode is track.episode and not track.active
    Episodes.close(episode, s(10), ev(10, state="inactive"))
    (resolved,) = rule.resolved(episode, s(10), muted=False)
    assert resolved.status == "resolved" and "已恢复" in resolved.detail
    assert rule.inactive(track, s(11)) is None  # nothing open to close
    (again,) = rule.active(track, ev(50), momentary=False, muted=False)
    assert again.fingerprint == opened.fingerprint and again.status == "firing"
    assert rule.resolved(Episode("intrusion", 1, s(0), s(0), "high", False), s(1), muted=False) == []  # never alerted


def test_a_retrigger_after_the_window_is_a_new_episode() -> None:
    rule, track = Episodes(HERE, dedup_window_s=60), EpisodeTrack()
    (opened,) = rule.active(track, ev(0), momentary=False, muted=False)
    closing = rule.inactive(track, s(10))
    assert closing is not None
    Episodes.close(closing, s(10))
    (fresh,) = rule.active(track, ev(71), momentary=False, muted=False)
    assert fresh.fingerprint != opened.fingerprint and fresh.evidence[0]["opened"] is True


def test_late_and_out_of_order_records() -> None:
    rule, track = Episodes(HERE, dedup_window_s=60), EpisodeTrack()
    assert rule.inactive(track, s(30)) is None  # the inactive came first
    (alert,) = rule.active(track, ev(20), momentary=False, muted=False)
    assert alert.status == "resolved"  # opened already closed by the inactive that arrived first
    rule.active(track, ev(0), momentary=False, muted=False)  # older than the episode: counted into it
    assert track.episode is not None and track.episode.count == 2
    assert track.episode.first_at == s(20)  # once alerted, the episode (its fingerprint) does not move


def test_info_events_and_muted_types_never_alert() -> None:
    rule = Episodes(HERE, dedup_window_s=60)
    assert rule.active(EpisodeTrack(), ev(0, "motion", severity="info"), momentary=False, muted=False) == []
    muted = EpisodeTrack()
    assert rule.active(muted, ev(0), momentary=False, muted=True) == []
    assert muted.episode is not None and muted.episode.revision == 0


def test_gb_alarms_close_themselves_and_keepalives_fix_keepalive_faults() -> None:
    rule, track = Episodes(HERE, dedup_window_s=60), EpisodeTrack()
    rule.active(track, ev(0, source="gb28181", vendor="gb28181:5/6"), momentary=True, muted=False)
    assert track.episode is not None and rule.auto_close_at(track.episode) == s(60) and not track.active
    fault = EpisodeTrack()
    bad = ev(0, "device_fault", severity="warning", source="gb28181", vendor="gb28181:keepalive/error")
    rule.active(fault, bad, momentary=False, muted=False)
    assert fault.episode is not None and rule.auto_close_at(fault.episode) is None
    assert rule.keepalive_closes(fault, s(-5)) is None  # an older OK Keepalive does not fix it
    assert rule.keepalive_closes(fault, s(5)) is fault.episode and not fault.active
    assert rule.keepalive_closes(track, s(5)) is None  # only faults that error Keepalives reported


# -- flapping --------------------------------------------------------------------------------------------


def test_flapping_starts_after_more_than_the_limit_of_changes_in_the_window() -> None:
    rule, state = Flapping(HERE, flapping_changes=3, flapping_window_s=600), FlapState()
    episode = Episode("tripwire", 2, s(0), s(0), "warning", False)
    assert [rule.change(state, s(10 * k), episode) for k in range(3)] == [None, None, None]
    began = rule.change(state, s(30), episode)
    assert began is not None and (began.rule, began.status, began.severity) == (
        "security.flapping",
        "firing",
        "warning",
    )
    assert began.occurred_at == s(0) and began.evidence[0]["changes_in_window"] == 4
    assert began.evidence[0]["channel"] == 2 and "越界侦测" in began.detail
    assert rule.change(state, s(40), episode) is None  # already flapping: one alert
    assert rule.end_at(state) == s(640)
    ended = rule.end(state, s(640), episode)
    assert (ended.status, ended.fingerprint) == ("resolved", began.fingerprint)
    assert state.since is None and not state.changes and rule.end_at(state) is None


def test_changes_older_than_the_window_do_not_count() -> None:
    rule, state = Flapping(HERE, flapping_changes=3, flapping_window_s=600), FlapState()
    for t in (0, 300, 700, 1000):
        assert rule.change(state, s(t), None) is None
    assert list(state.changes) == [s(700), s(1000)]
    assert rule.change(state, s(650), None) is None  # late: sorted in
    assert list(state.changes) == [s(650), s(700), s(1000)]
    assert rule.end_at(state) is None  # not flapping: no deadline


# -- offline ---------------------------------------------------------------------------------------------


def test_offline_fires_past_the_heartbeat_interval_and_resolves_on_return() -> None:
    rule = Offline(HERE, offline_interval_factor=3)
    assert rule.due_at() is None  # never seen
    assert rule.seen(s(0)) == [] and rule.seen(s(-100)) == []  # a late record does not move last seen back
    assert rule.due_at() == s(2700)
    down = rule.fire(s(2700))
    assert (down.rule, down.status, down.severity, down.occurred_at) == (
        "security.device_offline",
        "firing",
        "warning",
        s(2700),
    )
    assert rule.due_at() is None  # fires once
    (back,) = rule.seen(s(4000))
    assert (back.status, back.fingerprint) == ("resolved", down.fingerprint)
    assert back.evidence[0]["returned_at"] == s(4000).isoformat() and back.evidence[0]["revision"] == 2
    assert rule.due_at() == s(4000 + 2700)


def test_offline_severity_and_devices_without_an_interval() -> None:
    box = Offline(DeviceContext.of("BOX-1", BOX), offline_interval_factor=3)
    box.seen(s(0))
    assert box.fire(s(5400)).severity == "high"  # an alarm box that cannot call for help
    silent = Offline(DeviceContext.of("CAM-0", CAMERA.model_copy(update={"heartbeat_interval_s": 0})), 3)
    unknown = Offline(DeviceContext.of("GHOST", None), 3)
    for rule in (silent, unknown):
        rule.seen(s(0))
        assert rule.due_at() is None


# -- fault escalation --------------------------------------------------------------------------------------


def test_an_unfixed_fault_escalates_once_and_resolves_with_the_fault() -> None:
    rule = FaultEscalation(HERE, fault_unfixed_h=24)
    fault = Episode("video_loss", 1, s(0), s(0), "high", False)
    assert rule.due_at(fault) == s(24 * 3600)
    assert rule.closed(fault, s(10)) == []  # not escalated: nothing to resolve
    fired = rule.fire(fault, s(24 * 3600 + 5))
    assert (fired.rule, fired.severity, fired.status, fired.occurred_at) == (
        "security.fault_unfixed",
        "high",
        "firing",
        s(86400),
    )
    assert rule.due_at(fault) is None  # once
    fault.closed_at = s(90000)
    (fixed,) = rule.closed(fault, s(90000))
    assert (fixed.status, fixed.fingerprint) == ("resolved", fired.fingerprint)
    assert fixed.evidence[0]["closed_at"] == s(90000).isoformat()


@pytest.mark.parametrize("kind", ["intrusion", "motion", "one_key_alarm"])
def test_only_faults_escalate(kind: SecurityEventType) -> None:
    assert FaultEscalation(HERE, 24).due_at(Episode(kind, 1, s(0), s(0), "high", False)) is None


def test_a_closed_fault_does_not_escalate() -> None:
    fault = Episode("storage_fault", 1, s(0), s(0), "warning", False, closed_at=s(60))
    assert FaultEscalation(HERE, 24).due_at(fault) is None


# -- unknown device -----------------------------------------------------------------------------------


def test_an_unknown_device_is_reported_once() -> None:
    rule = UnknownDevice(DeviceContext.of("GHOST", None))
    (alert,) = rule.observe(ev(0, "one_key_alarm"))
    assert (alert.rule, alert.severity, alert.subject, alert.school_id) == (
        "security.unknown_device",
        "warning",
        "GHOST",
        None,
    )
    assert "一键报警" in alert.detail and alert.evidence[0]["first_seen"] == s(0).isoformat()
    assert rule.observe(ev(10)) == []
    assert UnknownDevice(HERE).observe(ev(0)) == []  # a registered device
