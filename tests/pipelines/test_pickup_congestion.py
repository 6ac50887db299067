"""Pick-up centre congestion: counters and barriers, positive and negative, late and out-of-order readings.

The rule's outcome must not depend on the order readings arrive in: the same readings fed in event-time
order (as replay does), shuffled, or with a late one leave the same final alert per fingerprint."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.security import SecurityPipeline
from safecampus.pipelines.security.congestion import RULE
from safecampus.schemas.alert import Alert
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import District, PickupCentre, School, SecurityDevice
from safecampus.schemas.security import SecurityEvent
from safecampus.simulator.clock import local

DAY = date(2026, 9, 1)
COUNTER, BARRIER, CAMERA = "CZ-PC01-CNT", "CZ-PC02-BAR", "CZ-PC01-CAM"


def at(hour: float, day: date = DAY) -> datetime:
    return local(day, hour * 3600)


@pytest.fixture(scope="module")
def pipeline() -> SecurityPipeline:
    school = School(school_id="S1", name="一", district_id="wujin", stage="primary", enrolment=900, boarding=False,
                    lat=31.7, lon=119.9, guards=2)  # fmt: skip
    rows = [District(district_id="wujin", name="武进区"), school]
    for n, kind, device in ((1, "counter", COUNTER), (2, "barrier", BARRIER), (1, "camera", CAMERA)):
        centre = PickupCentre(centre_id=f"JS-00{n}", name=f"第{n}接送中心", school_id="S1", lat=31.7, lon=119.9,
                              capacity=40)  # fmt: skip
        rows += [
            centre,
            SecurityDevice(
                device_id=device,
                school_id="S1",
                kind=kind,
                vendor="generic",
                location_role="pickup_centre",
                linked_to_police=False,
                heartbeat_interval_s=600,
                site_id=centre.centre_id,
            ),  # fmt: skip
        ]
    return SecurityPipeline(Settings(), RegistryView.of_rows(rows))  # type: ignore[arg-type]


def decoded(pipeline: SecurityPipeline, body: dict[str, object]) -> SecurityEvent:
    """A counter payload through the pipeline's own decode (the documented JSON form)."""
    payload = json.dumps({"time": None, **body}).encode()
    envelope = RawEnvelope.of_bytes(payload, domain="security", source="counter", content_type="application/json",
                                    received_at=at(12), gateway="test", key=str(body["device_id"]))  # fmt: skip
    (event,) = pipeline.decode(envelope)
    return event


def count(pipeline: SecurityPipeline, moment: datetime, occupancy: int, queue: int = 0) -> SecurityEvent:
    return decoded(pipeline, {"device_id": COUNTER, "kind": "count", "time": moment.isoformat(),
                              "occupancy": occupancy, "queue": queue})  # fmt: skip


def passage(pipeline: SecurityPipeline, moment: datetime, direction: str) -> SecurityEvent:
    return decoded(pipeline, {"device_id": BARRIER, "kind": "passage", "time": moment.isoformat(),
                              "direction": direction})  # fmt: skip


def feed(pipeline: SecurityPipeline, events: list[SecurityEvent], until: datetime | None = None) -> list[Alert]:
    """Events one by one in the order given (as a stream may deliver them), then the clock to `until`."""
    detector = pipeline.new_detector(events[0].device_id)
    alerts = [a for e in events for a in detector.observe(e)]
    return alerts + (detector.expire(until) if until else [])


def final(alerts: list[Alert], rule: str = RULE) -> dict[str, tuple[str, datetime, int, int]]:
    """What the store keeps of each congestion alert: its last update."""
    last = {a.fingerprint: a for a in alerts if a.rule == rule}
    return {
        fp: (a.status, a.occurred_at, a.evidence[0]["peak_occupancy"], a.evidence[0]["peak_queue"])
        for fp, a in last.items()
    }


def morning(pipeline: SecurityPipeline) -> list[SecurityEvent]:
    """Readings every minute 07:00–08:00: full (≥ 36 of 40 bays) from 07:20 to 07:31, else half."""
    start = at(7)
    return [
        count(pipeline, start + timedelta(minutes=m), 38 + m % 2 if 20 <= m <= 31 else 20, queue=3) for m in range(61)
    ]


def test_a_full_centre_at_drop_off_raises_one_alert_that_resolves(pipeline: SecurityPipeline) -> None:
    alerts = feed(pipeline, morning(pipeline))
    assert {a.rule for a in alerts} == {RULE} and len({a.fingerprint for a in alerts}) == 1
    first, last = alerts[0], alerts[-1]
    assert first.status == "firing" and first.evidence[0]["opened"] is True
    assert first.occurred_at == at(7) + timedelta(minutes=20)
    assert first.detected_at == at(7) + timedelta(minutes=23)  # above the level for 3 minutes
    assert last.status == "resolved" and last.detected_at == at(7) + timedelta(minutes=32)
    summary = last.evidence[0]
    assert summary["centre_id"] == "JS-001" and summary["window"] == "dropoff" and summary["day"] == "2026-09-01"
    assert summary["peak_occupancy"] == 39 and summary["occupancy_level"] == 36 and summary["congested_s"] == 720
    assert last.school_id == "S1" and last.district == "wujin" and last.subject == COUNTER


def test_below_the_level_too_short_or_outside_the_windows_is_no_congestion(pipeline: SecurityPipeline) -> None:
    start = at(7)
    half = [count(pipeline, start + timedelta(minutes=m), 35, queue=7) for m in range(60)]  # one under each level
    assert final(feed(pipeline, half, until=at(9))) == {}
    brief = [count(pipeline, start + timedelta(minutes=m), 39 if m in (10, 11) else 10) for m in range(30)]
    assert final(feed(pipeline, brief, until=at(9))) == {}  # two minutes full: a bus unloading, not congestion
    noon = [count(pipeline, at(12) + timedelta(minutes=m), 40, queue=20) for m in range(60)]
    assert final(feed(pipeline, noon, until=at(14))) == {}  # full at noon: outside drop-off and pick-up


def test_a_long_queue_at_pick_up_is_congestion(pipeline: SecurityPipeline) -> None:
    start = at(16.5)
    queue = [count(pipeline, start + timedelta(minutes=m), 12, queue=9 if m < 5 else 2) for m in range(10)]
    alerts = feed(pipeline, queue)
    assert final(alerts) and all(s[0] == "resolved" and s[3] == 9 for s in final(alerts).values())
    assert alerts[0].evidence[0]["window"] == "pickup" and "晚接" in alerts[0].title


def test_an_episode_still_going_fires_at_its_deadline_and_closes_with_the_window(pipeline: SecurityPipeline) -> None:
    events = [count(pipeline, at(8) + timedelta(minutes=m), 40) for m in range(2)]  # full, then the counter is silent
    detector = pipeline.new_detector(COUNTER)
    assert [a for e in events for a in detector.observe(e)] == []
    assert detector.next_deadline() == at(8) + timedelta(minutes=3)
    fired = detector.expire(at(8) + timedelta(minutes=3))
    assert [a.status for a in fired if a.rule == RULE] == ["firing"]
    closed = detector.expire(at(8.5))
    assert [a.status for a in closed if a.rule == RULE] == ["resolved"]  # the window is over


def test_barrier_passages_count_occupancy_and_their_order_does_not_matter(pipeline: SecurityPipeline) -> None:
    start = at(7)
    ins = [passage(pipeline, start + timedelta(seconds=20 * k), "in") for k in range(40)]  # 40 in by 07:13
    outs = [passage(pipeline, start + timedelta(minutes=20, seconds=30 * k), "out") for k in range(30)]
    events = ins + outs
    ordered = feed(pipeline, events, until=at(9))
    want = final(ordered)
    (status, since, peak, _), *rest = want.values()
    assert not rest and status == "resolved" and peak == 40
    assert since == start + timedelta(seconds=20 * 35)  # the 36th car in filled 90 % of 40 bays
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert final(feed(pipeline, shuffled, until=at(9))) == want


def test_late_and_out_of_order_counts_give_the_in_order_outcome(pipeline: SecurityPipeline) -> None:
    events = morning(pipeline)
    want = final(feed(pipeline, events, until=at(9)))
    assert len(want) == 1
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert final(feed(pipeline, shuffled, until=at(9))) == want
    late = events[:25] + events[26:] + [events[25]]  # 07:25 arrives after everything else
    assert final(feed(pipeline, late, until=at(9))) == want
    # The batch runner sorts each device's events: the same outcome again.
    detected = detect_shard(pipeline, [(COUNTER, e) for e in reversed(events)], at(9))  # type: ignore[arg-type]
    assert final(detected.alerts) == want


def test_a_late_reading_that_ends_an_episode_early_withdraws_the_alert(pipeline: SecurityPipeline) -> None:
    start = at(7.5)
    full = [count(pipeline, start + timedelta(minutes=m), 40) for m in range(5)]  # 4 minutes full
    alerts = feed(pipeline, [*full, count(pipeline, start + timedelta(minutes=1, seconds=30), 5)])
    assert [a.status for a in alerts] == ["firing", "resolved"]
    assert alerts[-1].evidence[0]["withdrawn"] is True and "撤回" in alerts[-1].detail
    in_order = sorted(
        [*full, count(pipeline, start + timedelta(minutes=1, seconds=30), 5)], key=lambda e: e.occurred_at
    )
    assert feed(pipeline, in_order) == []  # in order it never lasted three minutes


def test_a_late_reading_that_completes_an_episode_raises_it_when_it_arrives(pipeline: SecurityPipeline) -> None:
    start = at(7.5)
    short = [count(pipeline, start + timedelta(minutes=m), 40 if m < 2.5 else 5) for m in (0, 1, 2, 2.5)]
    assert feed(pipeline, short) == []  # full for two and a half minutes
    alerts = feed(pipeline, [*short, count(pipeline, start - timedelta(minutes=1), 39)])  # 07:29, sent late
    assert [a.status for a in alerts] == ["resolved"]  # it lasted 3.5 minutes, and it is over
    assert alerts[0].occurred_at == start - timedelta(minutes=1) and alerts[0].evidence[0]["opened"] is True
    assert alerts[0].detected_at == start + timedelta(minutes=2.5)  # known when the late reading came
    assert alerts[0].evidence[0]["congested_s"] == 210


def test_a_duplicate_reading_sends_nothing_new(pipeline: SecurityPipeline) -> None:
    events = morning(pipeline)
    assert final(feed(pipeline, events + events[18:30])) == final(feed(pipeline, events))
    assert len(feed(pipeline, events + events[18:30])) == len(feed(pipeline, events))


def test_counts_on_a_camera_or_an_unplaced_device_judge_nothing(pipeline: SecurityPipeline) -> None:
    assert pipeline.new_detector(CAMERA).congestion is None  # a centre's camera counts no vehicles
    assert pipeline.new_detector("CZ-UNKNOWN").congestion is None
