"""The one alert builder, the episode pattern and alert-once, shared by every domain's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from safecampus.pipelines.alerts import AlertOnce, EpisodeTracker, new_alert
from safecampus.schemas.alert import alert_fingerprint
from safecampus.schemas.envelope import RawEnvelope

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)


def test_new_alert_derives_the_fingerprint_and_never_detects_before_it_happened() -> None:
    evidence = RawEnvelope(domain="bus", source="jt808", payload="7e7e", received_at=T0)
    alert = new_alert(
        domain="bus",
        rule="bus.overspeed",
        subject="013800000001",
        window=T0.isoformat(),
        severity="high",
        occurred_at=T0,
        detected_at=T0 - timedelta(seconds=5),  # a late record: known when it arrived, not before
        title="t",
        evidence=[evidence, {"kind": "summary"}],
        school_id="S0001",
    )
    assert alert.fingerprint == alert_fingerprint("bus", "bus.overspeed", "013800000001", T0.isoformat())
    assert alert.detected_at == T0 and alert.status == "firing"
    assert alert.evidence[0]["payload"] == "7e7e" and "key" not in alert.evidence[0]  # models dumped, no nulls
    assert alert.evidence[1] == {"kind": "summary"}
    other = new_alert(
        domain="bus",
        rule="bus.overspeed",
        subject="013800000001",
        window="later",
        severity="high",
        occurred_at=T0,
        detected_at=T0,
        title="t",
    )
    assert other.fingerprint != alert.fingerprint  # another window, another incident


def test_an_episode_alerts_once_and_asks_for_a_resolve_only_if_it_alerted() -> None:
    tracker: EpisodeTracker[dict[str, int]] = EpisodeTracker(max_evidence=2)
    for k in range(4):
        episode = tracker.bad(T0 + timedelta(seconds=k), {"k": k}, value=float(k))
    assert (episode.count, episode.worst, episode.evidence) == (4, 3.0, [{"k": 0}, {"k": 1}])
    assert episode.window == T0.isoformat()
    assert tracker.ready(False) is False
    assert tracker.ready(True) is True
    assert tracker.ready(True) is False  # once per episode
    assert tracker.clear() is episode
    assert tracker.clear() is None
    tracker.bad(T0, {"k": 9})
    assert tracker.clear() is None  # never alerted: nothing to resolve


def test_alert_once_passes_each_fingerprint_and_status_once() -> None:
    once = AlertOnce()
    firing = new_alert(
        domain="fire", rule="r", subject="s", window="w", severity="info", occurred_at=T0, detected_at=T0, title="t"
    )
    resolved = firing.model_copy(update={"status": "resolved"})
    assert once([firing, firing]) == [firing]
    assert once([firing, resolved]) == [resolved]
    assert once([resolved]) == []
