"""Each bus rule object on its own: its slice of the settings, a TerminalAlerts, events in, alerts out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from bus_route import BAD_TERMINAL, DAY, STOP_SECONDS, TERMINAL, at, escort, fix, route_registry

from safecampus.config import Settings
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.bus.adherence import StopAdherence
from safecampus.pipelines.bus.alarms import TerminalAlarms
from safecampus.pipelines.bus.alerting import MAX_EVIDENCE, TerminalAlerts
from safecampus.pipelines.bus.all_off import AllOffConfirmation
from safecampus.pipelines.bus.off_route import OffRoute
from safecampus.pipelines.bus.overspeed import Overspeed
from safecampus.pipelines.bus.registry_checks import RegistryChecks
from safecampus.pipelines.bus.run import Run
from safecampus.pipelines.bus.silence import TerminalSilence
from safecampus.schemas.registry import Driver

T0 = STOP_SECONDS[0]


@pytest.fixture(scope="module")
def pipeline() -> BusPipeline:
    return BusPipeline(Settings(), route_registry())


@pytest.fixture
def alerts() -> TerminalAlerts:
    return TerminalAlerts(TERMINAL, "苏D00001")


def _run(pipeline: BusPipeline, trip: str = "R1-AM-0", started: float = T0 - 60) -> Run:
    plan = pipeline.plans.geometry.trip(trip)
    assert plan is not None
    return Run(plan=plan, day=DAY, started_at=at(started), last_fix_at=at(started), margin_s=1800)


def test_terminal_alerts_prefix_the_plate_and_take_school_from_the_latest_event(
    pipeline: BusPipeline, alerts: TerminalAlerts
) -> None:
    alerts.see(fix(pipeline, T0, 0))
    alerts.see(fix(pipeline, T0 - 60, 0).model_copy(update={"school_id": "older"}))  # older: ignored
    alert = alerts(
        rule="bus.x", window="w", severity="info", occurred_at=at(T0), detected_at=at(T0), title="t", detail="d"
    )
    assert (alert.detail, alert.subject, alert.school_id, alert.district) == (
        "[苏D00001] d",
        TERMINAL,
        "S0001",
        "tianning",
    )
    assert TerminalAlerts("0138", None)(**_kw()).detail == "[0138] d"  # no plate: the terminal id


def _kw() -> dict[str, object]:
    return {
        "rule": "bus.x",
        "window": "w",
        "severity": "info",
        "occurred_at": at(T0),
        "detected_at": at(T0),
        "title": "t",
        "detail": "d",
    }


def test_overspeed_alerts_once_after_the_sustained_time_and_resolves(
    pipeline: BusPipeline, alerts: TerminalAlerts
) -> None:
    rule = Overspeed(limit_kmh=60, sustained_s=10, alerts=alerts)
    assert rule.observe(fix(pipeline, T0, 0, speed=70)) == []  # opens the episode
    assert rule.observe(fix(pipeline, T0 + 5, 0, speed=80)) == []  # 5 s: not yet
    [firing] = rule.observe(fix(pipeline, T0 + 10, 0, speed=75))
    assert (firing.rule, firing.severity, firing.occurred_at, firing.title) == (
        "bus.overspeed",
        "high",
        at(T0),
        "校车超速 80 km/h(限速 60 km/h)",
    )
    assert len(firing.evidence) == 3
    assert rule.observe(fix(pipeline, T0 + 15, 0, speed=90)) == []  # still the same episode
    [resolved] = rule.observe(fix(pipeline, T0 + 20, 0, speed=50))
    assert resolved.status == "resolved" and resolved.fingerprint == firing.fingerprint
    assert rule.observe(fix(pipeline, T0 + 25, 0, speed=40)) == []


def test_overspeed_evidence_is_capped(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    rule = Overspeed(limit_kmh=60, sustained_s=10 * 60, alerts=alerts)
    out = [a for k in range(45) for a in rule.observe(fix(pipeline, T0 + 15 * k, 0, speed=70))]
    assert len(out) == 1 and len(out[0].evidence) == MAX_EVIDENCE


def test_off_route_alerts_on_the_nth_bad_fix(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    rule, plan = OffRoute(distance_m=60, consecutive_fixes=3, alerts=alerts), _run(pipeline).plan
    assert rule.observe(fix(pipeline, T0, 1000, north_m=100), plan) == []
    assert rule.observe(fix(pipeline, T0 + 15, 1100, north_m=100), plan) == []
    [firing] = rule.observe(fix(pipeline, T0 + 30, 1200, north_m=150), plan)
    assert firing.severity == "warning" and "最远 150 米" in firing.detail and firing.occurred_at == at(T0)
    [resolved] = rule.observe(fix(pipeline, T0 + 45, 1300, north_m=10), plan)
    assert resolved.status == "resolved" and resolved.fingerprint == firing.fingerprint
    # Two bad fixes, then back on the line: nothing.
    for k, north in enumerate((100, 100, 0)):
        assert rule.observe(fix(pipeline, T0 + 60 + 15 * k, 1400, north_m=north), plan) == []


def test_terminal_alarms_are_keyed_by_field_and_edge_triggered(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    rule = TerminalAlarms(alerts)
    assert rule.observe(fix(pipeline, T0, 0)) == []
    [sos] = rule.observe(fix(pipeline, T0 + 15, 0, alarm_emergency=True, alarm_route_deviation=False))
    assert (sos.rule, sos.severity, sos.title) == ("bus.terminal_alarm.emergency", "critical", "终端紧急报警")
    both = rule.observe(fix(pipeline, T0 + 30, 0, alarm_emergency=True, alarm_overspeed=True))
    assert [(a.rule, a.status) for a in both] == [("bus.terminal_alarm.overspeed", "firing")]
    cleared = rule.observe(fix(pipeline, T0 + 45, 0))
    assert [(a.rule, a.status) for a in cleared] == [
        ("bus.terminal_alarm.emergency", "resolved"),
        ("bus.terminal_alarm.overspeed", "resolved"),
    ]
    assert cleared[0].fingerprint == sos.fingerprint and cleared[0].occurred_at == at(T0 + 15)


def test_silence_only_during_a_run_and_resolved_by_the_next_fix(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    rule, run = TerminalSilence(timedelta(seconds=45), alerts), _run(pipeline)
    last = fix(pipeline, T0, 0)
    assert rule.deadline(last, None) is None  # no run: a switched-off terminal is not silent
    assert rule.deadline(last, run) == at(T0 + 45)
    assert rule.due(at(T0 + 44), last, run) == []
    [silent] = rule.due(at(T0 + 45), last, run)
    assert silent.rule == "bus.terminal_silent" and silent.severity == "warning"
    assert silent.occurred_at == at(T0 + 45) and rule.deadline(last, run) is None
    assert rule.due(at(T0 + 90), last, run) == []  # once
    [back] = rule.resumed(fix(pipeline, T0 + 120, 0))
    assert back.status == "resolved" and back.fingerprint == silent.fingerprint
    assert rule.resumed(fix(pipeline, T0 + 135, 0)) == []
    before = fix(pipeline, T0 - 120, 0)  # the last fix is from before the run started
    assert rule.due(at(T0 + 600), before, run) == []


def test_registry_checks_once_a_day_with_every_driver_problem(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    registry = pipeline.registry
    bus = registry.buses_by_terminal[BAD_TERMINAL]
    drivers = [
        Driver(driver_id="D7", bus_id=bus.bus_id, age=22, years_licensed=2, clean_record=False),
        Driver(driver_id="D8", bus_id=bus.bus_id, age=40, years_licensed=10),
    ]
    rule = RegistryChecks(
        bus,
        registry.operators,
        drivers,
        inspection_interval_days=183,
        driver_min_age=25,
        driver_max_age=60,
        driver_min_years_licensed=3,
        alerts=alerts,
    )
    first = rule.observe(fix(pipeline, 6 * 3600, 0, terminal=BAD_TERMINAL))
    assert [a.rule for a in first] == [
        "bus.operator_licence_expired",
        "bus.driver_out_of_rules",
        "bus.inspection_overdue",
    ]
    assert first[1].detail.endswith(
        "驾驶员 D7 年龄 22 岁,不在 25–60 岁之间;驾驶员 D7 驾龄 2 年,不足 3 年;驾驶员 D7 有违法或事故记录。"
    )
    assert rule.observe(fix(pipeline, 9 * 3600, 0, terminal=BAD_TERMINAL)) == []
    assert len(rule.observe(fix(pipeline, 6 * 3600, 0, terminal=BAD_TERMINAL, day=DAY + timedelta(days=1)))) == 3
    no_one = RegistryChecks(bus, registry.operators, [], inspection_interval_days=9999, driver_min_age=25,
                            driver_max_age=60, driver_min_years_licensed=3, alerts=alerts)  # fmt: skip
    assert [a.detail.split("] ")[1] for a in no_one.checks(fix(pipeline, T0, 0), date(2026, 1, 1))] == [
        "未登记驾驶员。"
    ]


def test_all_off_before_the_run_ends_counts_and_a_missing_one_fires_after_the_grace(
    pipeline: BusPipeline, alerts: TerminalAlerts
) -> None:
    rule = AllOffConfirmation(grace_s=600, alerts=alerts)
    early = _run(pipeline)
    assert rule.confirm(at(T0 - 120), None) == []  # before any run: kept
    early.ended_at = at(T0 + 600)
    rule.run_ended(early)
    assert early.all_off_at is None  # the confirmation was older than the run: not its
    assert rule.deadline() == at(T0 + 1200)
    assert rule.due(at(T0 + 1199)) == []
    [fired] = rule.due(at(T0 + 1200))
    assert (fired.rule, fired.severity, fired.status) == ("bus.no_all_off", "critical", "firing")
    assert rule.deadline() is None and rule.due(at(T0 + 1300)) == []
    [resolved] = rule.confirm(at(T0 + 1500), None)
    assert resolved.status == "resolved" and resolved.fingerprint == fired.fingerprint
    second = _run(pipeline, "R1-AM-1", started=T0 + 1700)
    assert rule.confirm(at(T0 + 1800), second) == []  # during the run: it is the run's
    second.ended_at = at(T0 + 2400)
    rule.run_ended(second)
    assert rule.deadline() is None


def test_adherence_statuses_and_missed_stops(pipeline: BusPipeline, alerts: TerminalAlerts) -> None:
    adherence = StopAdherence(geofence_m=40, early_s=60, late_s=300, alerts=alerts)
    assert [adherence.status(d) for d in (-61, -60, 0, 300, 301)] == ["early", "on_time", "on_time", "on_time", "late"]
    run = _run(pipeline)
    assert adherence.observe(run, fix(pipeline, T0 - 15, 0)) == []  # inside the origin's geofence
    adherence.observe(run, fix(pipeline, T0 + 15, 100))  # left: the departure is the last fix inside
    [departure] = run.visits
    assert (departure.kind, departure.actual, departure.delay_s, departure.status) == (
        "departure",
        at(T0 - 15),
        -15,
        "on_time",
    )
    [missed_1, missed_2] = run.missed()
    assert (missed_1.stop_id, missed_1.kind, missed_1.status, missed_1.actual) == ("R1-1", "arrival", "missed", None)
    assert missed_2.scheduled == at(STOP_SECONDS[2])
    late = adherence.observe(run, fix(pipeline, STOP_SECONDS[1] + 400, 2000))
    assert [a.rule for a in late] == ["bus.late_arrival"] and late[0].evidence[-1]["delay_s"] == 400
    [closed] = adherence.close(run, at(STOP_SECONDS[1] + 500))
    assert closed.status == "resolved" and closed.occurred_at == at(STOP_SECONDS[1] + 400)
    assert adherence.close(run, at(STOP_SECONDS[1] + 600)) == []


def test_an_escort_event_is_a_bus_event_of_its_own_kind(pipeline: BusPipeline) -> None:
    event = escort(pipeline, T0)
    assert (event.kind, event.lat_deg, event.positioned) == ("all_off", None, False)
