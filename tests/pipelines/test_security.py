"""Security detection: dedup, resolve, flapping, offline, faults, unknown devices, ack KPIs, end to end.

Each rule has its own unit tests (test_security_rules.py); these drive the whole detector."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import AlertTriage, triage_log
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.domain import merge_partials
from safecampus.pipelines.normalize import normalize_lines
from safecampus.pipelines.security import SecurityPipeline, required_guards
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.operations import Acknowledgement
from safecampus.schemas.registry import District, School, SecurityDevice
from safecampus.schemas.security import EventState, SecurityEvent, SecurityEventType
from safecampus.simulator.city import build_city
from safecampus.simulator.clock import local
from safecampus.simulator.run import Simulation, simulate

DAY = date(2026, 9, 1)
CAM, GB_CAM, BOX = "32040000001310000001", "32040000001320000002", "CZ-0000-00"
GHOST = "CZ-9999-00"


def at(hour: float, day: date = DAY) -> datetime:
    """Local (Asia/Shanghai) hour of a day, as UTC."""
    return local(day, hour * 3600)


@pytest.fixture(scope="module")
def pipeline() -> SecurityPipeline:
    rows: list[Record] = [
        District(district_id="tianning", name="天宁区"),
        School(
            school_id="S1",
            name="一",
            district_id="tianning",
            stage="primary",
            enrolment=1600,
            boarding=False,
            lat=31.7,
            lon=119.9,
            guards=4,
        ),
        School(
            school_id="S2",
            name="二",
            district_id="tianning",
            stage="junior",
            enrolment=1600,
            boarding=True,
            lat=31.7,
            lon=119.9,
            guards=3,
            guard_post_at_gate=False,
        ),
        SecurityDevice(
            device_id=CAM,
            school_id="S1",
            kind="camera",
            vendor="hikvision",
            location_role="gate",
            linked_to_police=True,
            heartbeat_interval_s=900,
        ),
        SecurityDevice(
            device_id=GB_CAM,
            school_id="S1",
            kind="camera",
            vendor="gb28181",
            location_role="classroom",
            linked_to_police=True,
            heartbeat_interval_s=900,
        ),
        SecurityDevice(
            device_id=BOX,
            school_id="S1",
            kind="alarm_box",
            vendor="generic",
            location_role="gate",
            linked_to_police=True,
            heartbeat_interval_s=1800,
        ),
        SecurityDevice(
            device_id="CZ-0001-00",
            school_id="S2",
            kind="alarm_box",
            vendor="generic",
            location_role="gate",
            linked_to_police=False,
            heartbeat_interval_s=1800,
        ),
    ]
    return SecurityPipeline(Settings(), RegistryView.of_rows(rows))  # type: ignore[arg-type]


def event(
    pipeline: SecurityPipeline, device: str, kind: SecurityEventType, state: EventState, moment: datetime
) -> SecurityEvent:
    """A normalized event as `decode` would make it (source by device: GB ids send GB bodies)."""
    known = pipeline.registry.devices.get(device)
    source = "gb28181" if known and known.vendor == "gb28181" else ("alarmbox" if device.startswith("CZ") else "isapi")
    vendor = "gb28181:keepalive" if source == "gb28181" and kind == "heartbeat" else f"{source}:{kind}"
    role = known.location_role if known else None
    return SecurityEvent(
        event_id=f"{device}/{kind}/{state}/{moment.timestamp()}",
        device_id=device,
        source_format=source,
        vendor_type=vendor,
        event_type=kind,
        state=state,
        occurred_at=moment,
        severity=pipeline.severity(kind, moment, role),
        school_id=known.school_id if known else None,
        location_role=role,  # type: ignore[arg-type]
    )


def run(pipeline: SecurityPipeline, events: Iterable[SecurityEvent], until: datetime | None = None) -> list[Alert]:
    trace = list(events)
    detector = pipeline.new_detector(trace[0].device_id)
    alerts: list[Alert] = []
    for item in trace:
        alerts.extend(detector.observe(item))
    if until is not None:
        alerts.extend(detector.expire(until))
    return alerts


def latest(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """What the store keeps: the last update per fingerprint."""
    return {a.fingerprint: a for a in alerts}


def test_dedup_repeats_update_one_alert_then_resolve(pipeline: SecurityPipeline) -> None:
    start = at(9)
    events = [event(pipeline, CAM, "tripwire", "active", start + timedelta(seconds=8 * k)) for k in range(5)]
    events.append(event(pipeline, CAM, "tripwire", "inactive", start + timedelta(seconds=45)))
    alerts = run(pipeline, events)
    assert {a.fingerprint for a in alerts} == {alerts[0].fingerprint}
    assert [a.status for a in alerts] == ["firing", "resolved"]  # repeats within the window: counted, not re-sent
    final = alerts[-1]
    assert final.rule == "security.tripwire" and final.severity == "high"  # a gate raises a daytime tripwire
    assert final.evidence[0]["count"] == 5 and final.occurred_at == start
    assert [a.evidence[0]["opened"] for a in alerts] == [True, False]
    slow = [event(pipeline, CAM, "intrusion", "active", start + timedelta(seconds=50 * k)) for k in range(4)]
    assert len(run(pipeline, slow)) == 2  # one update per dedup window while it stays open


def test_gb_alarms_resolve_themselves_after_the_dedup_window(pipeline: SecurityPipeline) -> None:
    start = at(9)
    events = [event(pipeline, GB_CAM, "tripwire", "active", start + timedelta(seconds=8 * k)) for k in range(5)]
    detector = pipeline.new_detector(GB_CAM)
    alerts = [a for e in events for a in detector.observe(e)]
    assert len({a.fingerprint for a in alerts}) == 1 and alerts[-1].status == "firing"
    assert detector.next_deadline() == start + timedelta(seconds=32 + pipeline.settings.security.dedup_window_s)
    alerts += detector.expire(start + timedelta(minutes=5))
    assert alerts[-1].status == "resolved" and len({a.fingerprint for a in alerts}) == 1
    later = detector.observe(event(pipeline, GB_CAM, "tripwire", "active", start + timedelta(minutes=10)))
    assert later[0].fingerprint != alerts[0].fingerprint  # a new episode, not the old alert again


def test_inactive_resolves_and_heartbeats_never_alert(pipeline: SecurityPipeline) -> None:
    alerts = run(
        pipeline,
        [
            event(pipeline, CAM, "heartbeat", "active", at(1.9)),
            event(pipeline, CAM, "intrusion", "active", at(2)),
            event(pipeline, CAM, "heartbeat", "active", at(2.1)),
            event(pipeline, CAM, "intrusion", "inactive", at(2.2)),
        ],
    )
    assert [(a.rule, a.status, a.severity) for a in alerts] == [
        ("security.intrusion", "firing", "critical"),
        ("security.intrusion", "resolved", "critical"),
    ]
    assert alerts[0].school_id == "S1" and alerts[0].district == "tianning"


def test_flapping_becomes_one_alert_and_suppresses_the_type(pipeline: SecurityPipeline) -> None:
    rules = pipeline.settings.security
    start = at(14)
    states: list[EventState] = ["active", "inactive"]
    events = [event(pipeline, CAM, "tripwire", states[k % 2], start + timedelta(seconds=20 * k)) for k in range(12)]
    end = events[-1].occurred_at + timedelta(seconds=rules.flapping_window_s)
    alerts = run(pipeline, events, until=end)
    flaps = [a for a in alerts if a.rule == "security.flapping"]
    assert [a.status for a in flaps] == ["firing", "resolved"] and len({a.fingerprint for a in flaps}) == 1
    began, ended = alerts.index(flaps[0]), alerts.index(flaps[1])
    muted = [a.status for a in alerts[began + 1 : ended]]
    assert muted == ["suppressed"]  # while flapping, the tripwire alert says nothing more
    assert alerts[-1].rule == "security.tripwire" and alerts[-1].status == "resolved"  # its real state after
    motion = [event(pipeline, CAM, "motion", states[k % 2], start + timedelta(seconds=20 * k)) for k in range(10)]
    assert [a.rule for a in run(pipeline, motion)] == ["security.flapping"]  # motion itself never alerts


def heartbeats(
    pipeline: SecurityPipeline, device: str, start: datetime, end: datetime, every_s: int = 900
) -> list[SecurityEvent]:
    count = int((end - start).total_seconds() // every_s)
    return [
        event(pipeline, device, "heartbeat", "active", start + timedelta(seconds=every_s * k)) for k in range(count + 1)
    ]


def test_offline_from_a_gap_between_events(pipeline: SecurityPipeline) -> None:
    before = heartbeats(pipeline, CAM, at(8), at(10))
    after = heartbeats(pipeline, CAM, at(13), at(14))
    alerts = run(pipeline, before + after)
    assert [(a.rule, a.status) for a in alerts] == [
        ("security.device_offline", "firing"),
        ("security.device_offline", "resolved"),
    ]
    threshold = timedelta(seconds=900 * pipeline.settings.security.offline_interval_factor)
    assert alerts[0].occurred_at == at(10) + threshold and alerts[0].detected_at == at(10) + threshold
    assert alerts[1].detected_at == at(13) and alerts[0].fingerprint == alerts[1].fingerprint


def test_offline_from_expire_and_next_deadline(pipeline: SecurityPipeline) -> None:
    detector = pipeline.new_detector(BOX)
    for item in heartbeats(pipeline, BOX, at(8), at(15), every_s=1800):
        assert detector.observe(item) == []
    deadline = detector.next_deadline()
    assert deadline == at(15) + timedelta(seconds=1800 * pipeline.settings.security.offline_interval_factor)
    assert detector.expire(deadline - timedelta(seconds=1)) == []
    (alert,) = detector.expire(deadline)
    assert (alert.rule, alert.status, alert.severity) == ("security.device_offline", "firing", "high")
    assert detector.expire(deadline + timedelta(hours=5)) == []  # fired once
    (back,) = detector.observe(event(pipeline, BOX, "heartbeat", "active", at(23)))
    assert back.status == "resolved" and back.fingerprint == alert.fingerprint


def mixed_trace(pipeline: SecurityPipeline) -> list[tuple[str, Record]]:
    events = heartbeats(pipeline, CAM, at(0), at(23)) + heartbeats(pipeline, BOX, at(0), at(9), every_s=1800)
    events += [event(pipeline, CAM, "tripwire", "active", at(9) + timedelta(seconds=8 * k)) for k in range(5)]
    events += [
        event(pipeline, CAM, "tripwire", "inactive", at(9) + timedelta(seconds=45)),
        event(pipeline, CAM, "video_loss", "active", at(10)),
        event(pipeline, BOX, "one_key_alarm", "active", at(8.5)),
        event(pipeline, BOX, "one_key_alarm", "inactive", at(8.6)),
        event(pipeline, GHOST, "one_key_alarm", "active", at(12)),
    ]
    events += [event(pipeline, GB_CAM, "motion", "active", at(14) + timedelta(seconds=20 * k)) for k in range(10)]
    return [(e.device_id, e) for e in events]


def test_shuffled_input_gives_the_same_final_states(pipeline: SecurityPipeline) -> None:
    ordered = mixed_trace(pipeline)
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    until = at(23, DAY)
    final = {fp: a.status for fp, a in latest(detect_shard(pipeline, ordered, until).alerts).items()}  # type: ignore[arg-type]
    again = {fp: a.status for fp, a in latest(detect_shard(pipeline, shuffled, until).alerts).items()}  # type: ignore[arg-type]
    assert final == again and len(final) >= 5


def test_late_records_never_duplicate_or_reopen(pipeline: SecurityPipeline) -> None:
    start = at(9)
    detector = pipeline.new_detector(CAM)
    inactive = event(pipeline, CAM, "intrusion", "inactive", start + timedelta(seconds=30))
    actives = [event(pipeline, CAM, "intrusion", "active", start + timedelta(seconds=s)) for s in (20, 0, 10)]
    alerts = detector.observe(inactive) + [a for e in actives for a in detector.observe(e)]
    assert len({a.fingerprint for a in alerts}) == 1 and alerts[-1].status == "resolved"
    assert alerts[-1].evidence[0]["count"] == 3


def test_fault_unfixed_over_two_days(pipeline: SecurityPipeline) -> None:
    day2 = DAY + timedelta(days=1)
    trace = heartbeats(pipeline, CAM, at(0), at(23.9, day2))
    trace.append(event(pipeline, CAM, "video_loss", "active", at(1)))
    trace.sort(key=lambda e: e.occurred_at)
    alerts = run(pipeline, trace, until=at(23.9, day2))
    unfixed = [a for a in alerts if a.rule == "security.fault_unfixed"]
    assert [(a.status, a.severity) for a in unfixed] == [("firing", "high")]
    assert unfixed[0].occurred_at == at(1) + timedelta(hours=pipeline.settings.security.fault_unfixed_h)
    fixed = run(pipeline, [*trace, event(pipeline, CAM, "video_loss", "inactive", at(23.95, day2))])
    assert [a.status for a in fixed if a.rule == "security.fault_unfixed"] == ["firing", "resolved"]
    one_day = run(pipeline, [t for t in trace if t.occurred_at < at(23.9)], until=at(23.9))
    assert not [a for a in one_day if a.rule == "security.fault_unfixed"]


def test_unknown_device_alerts_once(pipeline: SecurityPipeline) -> None:
    events = [
        event(pipeline, GHOST, "heartbeat", "active", at(12)),
        event(pipeline, GHOST, "one_key_alarm", "active", at(12.1)),
        event(pipeline, GHOST, "heartbeat", "active", at(18)),
    ]
    alerts = run(pipeline, events, until=at(23))
    unknown = [a for a in alerts if a.rule == "security.unknown_device"]
    assert len(unknown) == 1 and unknown[0].severity == "warning" and unknown[0].school_id is None
    assert not [a for a in alerts if a.rule == "security.device_offline"]  # no interval known: no offline rule


def test_ack_kpis_from_the_triaged_log(pipeline: SecurityPipeline) -> None:
    """Time to acknowledge comes from the triaged update log; each fingerprint's alert counts once."""
    outside = run(pipeline, [event(pipeline, CAM, "intrusion", "active", at(11))])[0]
    triage = AlertTriage()
    assert triage.apply(outside).status == "firing"
    ack = Acknowledgement(
        fingerprint=outside.fingerprint,
        operator_id="op-017",
        acknowledged_at=at(11) + timedelta(seconds=90),
        comment="guard sent",
    )
    acked = triage.acknowledge(ack)
    assert acked is not None and acked.status == "acknowledged"
    repeat = run(
        pipeline,
        [
            event(pipeline, CAM, "intrusion", "active", at(11)),
            event(pipeline, CAM, "intrusion", "active", at(11) + timedelta(seconds=20)),
        ],
    )[-1]
    shown = triage.apply(repeat)
    assert shown.status == "acknowledged"  # the ack sticks to the fingerprint
    partials = pipeline.kpi_partials((), [outside, acked, shown])
    kpis = pipeline.finish_kpis(partials)
    assert kpis[("security_ack_seconds_mean", ())] == 90 and kpis[("security_ack_seconds_p90", ())] == 90
    assert kpis[("security_acks_total", ())] == 1
    assert (
        kpis[
            (
                "security_alerts_total",
                (("district", "tianning"), ("rule", "security.intrusion"), ("school", "S1"), ("severity", "high")),
            )
        ]
        == 1
    )
    assert ("security_ack_seconds_mean", ()) not in pipeline.finish_kpis({})  # no acks, no ack KPIs


def test_a_second_acknowledgement_is_not_counted_again(pipeline: SecurityPipeline) -> None:
    """Two operators acknowledge one alert: time to acknowledge counts the first, once."""
    (opened,) = run(pipeline, [event(pipeline, CAM, "intrusion", "active", at(11))])
    acks = [
        Acknowledgement(fingerprint=opened.fingerprint, operator_id=op, acknowledged_at=at(11) + timedelta(seconds=s))
        for op, s in (("op-017", 60), ("op-018", 300))
    ]
    log = triage_log([opened], acks)
    assert [a.status for a in log] == ["firing", "acknowledged", "acknowledged"]
    kpis = pipeline.finish_kpis(pipeline.kpi_partials((), log))
    assert kpis[("security_acks_total", ())] == 1
    assert kpis[("security_ack_seconds_mean", ())] == 60 and kpis[("security_ack_seconds_p90", ())] == 60


def test_severity_at_night_and_by_day(pipeline: SecurityPipeline) -> None:
    assert pipeline.severity("intrusion", at(23), "classroom") == "critical"
    assert pipeline.severity("intrusion", at(2), None) == "critical"
    assert pipeline.severity("intrusion", at(10), "classroom") == "high"
    assert pipeline.severity("tripwire", at(10), "classroom") == "warning"
    assert pipeline.severity("tripwire", at(10), "dormitory") == "high"
    assert pipeline.severity("motion", at(23), "gate") == "info"
    assert pipeline.severity("one_key_alarm", at(10), None) == "critical"


def test_registry_kpis_once_and_guard_formula(pipeline: SecurityPipeline) -> None:
    rules = pipeline.settings.security
    assert [required_guards(n, rules) for n in (0, 99, 100, 999, 1000, 1499, 1500, 2100)] == [1, 1, 2, 2, 3, 3, 4, 5]
    events = [event(pipeline, CAM, "heartbeat", "active", at(1)), event(pipeline, BOX, "heartbeat", "active", at(1))]
    chunks = [pipeline.kpi_partials(events[:1], ()), pipeline.kpi_partials(events, ())]
    kpis = pipeline.finish_kpis(merge_partials(chunks))
    assert kpis[("security_device_online_ratio", (("school", "S1"),))] == pytest.approx(2 / 3)
    assert kpis[("security_device_online_ratio", ())] == pytest.approx(2 / 4)
    four = {
        dict(k[1])["indicator"]: v
        for k, v in kpis.items()
        if k[0] == "security_four_100_ratio" and dict(k[1]).get("school") == "S2"
    }
    assert four == {"guards": 0.0, "closed_management": 1.0, "police_linkage": 0.0, "guard_post_at_gate": 0.0}
    city = {dict(k[1])["indicator"]: v for k, v in kpis.items() if k[0] == "security_four_100_ratio" and len(k[1]) == 1}
    assert city == {"guards": 0.5, "closed_management": 1.0, "police_linkage": 0.5, "guard_post_at_gate": 0.5}
    assert kpis[("security_police_linkage_ratio", (("kind", "one_key_alarm"),))] == 0.5
    assert kpis[("security_police_linkage_ratio", (("district", "tianning"), ("kind", "video")))] == 1.0
    assert not [k for k in kpis if k[0].endswith("_sample") or k[0] == "security_device_events_total"]


# -- end to end: a simulated day, sliced to the injected devices plus controls -------------------------

RULE_OF_KIND = {
    "device_offline": "security.device_offline",
    "intrusion_night": "security.intrusion",
    "tripwire_repeated": "security.tripwire",
    "one_key_alarm": "security.one_key_alarm",
    "video_loss_open": "security.video_loss",
    "flapping": "security.flapping",
    "fence": "security.fence",
    "forced_door": "security.forced_door",
    "unknown_device": "security.unknown_device",
}
KEY = re.compile(rb'"key":"([^"]+)"')


def test_simulated_day_finds_the_injected_incidents(tmp_path: Path) -> None:
    sim = simulate(tmp_path, domains=("security",))
    truth = [json.loads(line) for line in (tmp_path / "ground_truth.jsonl").read_text().splitlines()]
    wanted = {t["subject"] for t in truth if t["kind"] in RULE_OF_KIND}
    city = build_city()
    controls = {d.device_id for d in city.devices[::97]} - wanted
    keep = wanted | controls
    lines = [
        (n, line)
        for n, line in enumerate(sim.raw_file("security").read_bytes().split(b"\n"), 1)
        if (m := KEY.search(line)) and m.group(1).decode() in keep
    ]
    pipeline = SecurityPipeline(Settings(), RegistryView.of_rows(city.rows()))
    out = normalize_lines(pipeline, lines, "security.jsonl")  # type: ignore[arg-type]
    assert out.latest is not None
    alerts = latest(detect_shard(pipeline, out.events, out.latest).alerts)  # type: ignore[arg-type]
    rules: dict[str, set[str]] = defaultdict(set)
    for alert in alerts.values():
        rules[alert.subject].add(alert.rule)
    assert {t["kind"] for t in truth} >= set(RULE_OF_KIND), "the simulated day injects every kind of incident"
    missed = [t for t in truth if t["kind"] in RULE_OF_KIND and RULE_OF_KIND[t["kind"]] not in rules[t["subject"]]]
    assert missed == []
    assert controls and not [s for s in controls if rules.get(s)], "control devices raised alerts"
    night = [a for a in alerts.values() if a.rule == "security.intrusion"]
    assert night and all(a.severity == "critical" for a in night)
    tripwire_subjects = {t["subject"] for t in truth if t["kind"] == "tripwire_repeated"}
    per_subject: dict[str, int] = defaultdict(int)
    for alert in alerts.values():
        if alert.rule == "security.tripwire":
            per_subject[alert.subject] += 1
    assert tripwire_subjects and {s: per_subject[s] for s in tripwire_subjects} == dict.fromkeys(tripwire_subjects, 1)
    # five repeats in 40 s: one alert each
    offline = {t["subject"] for t in truth if t["kind"] == "device_offline"}
    assert {a.subject for a in alerts.values() if a.rule == "security.device_offline"} == offline
    kpis = pipeline.finish_kpis(pipeline.kpi_partials((), ()))
    short = {t["subject"] for t in truth if t["kind"] == "guards_short"}
    guards = {
        dict(k[1]).get("school"): v
        for k, v in kpis.items()
        if k[0] == "security_four_100_ratio" and dict(k[1])["indicator"] == "guards"
    }
    assert short and all(guards[s] == 0 for s in short)
    unlinked = {
        city_device.school_id
        for city_device in city.devices
        if city_device.device_id in {t["subject"] for t in truth if t["kind"] == "not_linked_to_police"}
    }
    assert unlinked
    assert {
        s: kpis[("security_four_100_ratio", (("indicator", "police_linkage"), ("school", s)))] for s in unlinked
    } == (dict.fromkeys(unlinked, 0))


# -- the school's registry rules: guards and police linkage, once per school per service day ---------


def test_a_school_short_of_guards_and_not_linked_to_the_police_is_told_once_a_day(pipeline: SecurityPipeline) -> None:
    s2_box = "CZ-0001-00"  # S2: 1,600 students, 3 guards (GB/T 29315-2022 asks 4), its alarm box not linked
    day = [event(pipeline, s2_box, "heartbeat", "active", at(h)) for h in (7, 9, 12)]
    alerts = run(pipeline, [*day, event(pipeline, s2_box, "heartbeat", "active", at(7, DAY + timedelta(days=1)))])
    by_rule: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_rule[alert.rule].append(alert)
    guards, police = by_rule["security.guards_short"], by_rule["security.not_linked_to_police"]
    assert len(guards) == 2 and len(police) == 2  # the gaps also raise device_offline
    assert guards[0].fingerprint != guards[1].fingerprint  # one per service day
    first = guards[0]
    assert (first.subject, first.school_id, first.district, first.severity) == ("S2", "S2", "tianning", "high")
    assert first.occurred_at == at(7) and first.title == "专职保安人数不足"
    assert "1600" in first.detail and "应配专职保安 4 名" in first.detail and "在岗 3 名" in first.detail
    assert first.evidence[1] == {"kind": "guards", "enrolment": 1600, "guards_required": 4, "guards_present": 3}
    linked = police[0]
    assert (linked.subject, linked.severity, linked.title) == ("S2", "high", "报警设备未与公安联网")
    assert s2_box in linked.detail and "一键报警" in linked.detail and "110" in linked.detail
    partials = pipeline.kpi_partials((), alerts)
    assert (
        partials[
            (
                "security_alerts_total",
                (("district", "tianning"), ("rule", first.rule), ("school", "S2"), ("severity", "high")),
            )
        ]
        == 2
    )
    # a school that meets both, and a device that does not speak for its school, raise nothing of the kind
    assert run(pipeline, [event(pipeline, BOX, "heartbeat", "active", at(7))]) == []
    assert run(pipeline, [event(pipeline, CAM, "heartbeat", "active", at(7))]) == []


def test_the_simulated_day_raises_the_injected_registry_anomalies(simulated_day: Simulation) -> None:
    truth = [
        json.loads(line)
        for line in (simulated_day.out_dir / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    city = build_city()
    pipeline = SecurityPipeline(Settings(), RegistryView.of_rows(city.rows()))
    anchors = set(pipeline.anchors.values())
    assert len(anchors) == len(city.schools)
    lines = [
        (n, line)
        for n, line in enumerate(simulated_day.raw_file("security").read_bytes().split(b"\n"), 1)
        if (m := KEY.search(line)) and m.group(1).decode() in anchors
    ]
    out = normalize_lines(pipeline, lines, "security.jsonl")  # type: ignore[arg-type]
    alerts = latest(detect_shard(pipeline, out.events, out.latest).alerts)  # type: ignore[arg-type]
    short = sorted(a.subject for a in alerts.values() if a.rule == "security.guards_short")
    assert short == sorted(t["subject"] for t in truth if t["kind"] == "guards_short")
    police = [a for a in alerts.values() if a.rule == "security.not_linked_to_police"]
    listed = sorted(e["device_id"] for a in police for e in a.evidence if e.get("kind") == "unlinked_device")
    assert listed == sorted(t["subject"] for t in truth if t["kind"] == "not_linked_to_police")
    assert len(police) == len(
        {city_device.school_id for city_device in city.devices if city_device.device_id in listed}
    )
